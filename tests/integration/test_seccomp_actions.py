"""OCI seccomp semantics observed in real containers: actions, listener hand-over, load order."""

from __future__ import annotations

import ctypes
import json
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Runtime, busybox_config

pytestmark = pytest.mark.root
ARCHES = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]


def with_seccomp(section: dict[str, Any], nnp: bool = True) -> dict[str, Any]:
    cfg = busybox_config()
    cfg["linux"]["seccomp"] = {"architectures": ARCHES, **section}
    cfg["process"]["noNewPrivileges"] = nnp
    return cfg


def run(rt: Runtime, cfg: dict[str, Any], script: str) -> Any:
    return rt("run", "-b", str(rt.bundle(cfg, args=["sh", "-c", script])), rt.new_id())


def test_kill_process_ends_the_container_with_sigsys(rt: Runtime) -> None:
    cfg = with_seccomp({"defaultAction": "SCMP_ACT_ALLOW",
                        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"}]})
    res = run(rt, cfg, "mkdir /dev/shm/x; echo child-killed-shell-alive; exec mkdir /dev/shm/y")
    assert res.stdout == "child-killed-shell-alive\n"
    assert res.returncode == 159  # init itself killed: 128 + SIGSYS (31)


def test_trap_sends_sigsys_and_log_lets_the_call_through(rt: Runtime) -> None:
    cfg = with_seccomp({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_LOG"},
        {"names": ["rmdir"], "action": "SCMP_ACT_TRAP"}]})
    res = run(rt, cfg, "mkdir /dev/shm/x && echo made; exec rmdir /dev/shm/x")
    assert res.stdout == "made\n" and res.returncode == 159


def test_errno_default_allowlist_with_nothing_for_the_runtime(rt: Runtime) -> None:
    """An allow-list that names only what busybox needs plus write/read/close/execve for pyrt."""
    allowed = ["execve", "brk", "arch_prctl", "mmap", "munmap", "mprotect", "read", "write", "exit_group", "getuid",
               "getpid", "rt_sigaction", "rt_sigprocmask", "fcntl", "close", "ioctl", "set_tid_address",
               "getppid", "wait4", "clone", "fork", "vfork", "stat", "newfstatat", "fstat", "getcwd",
               "openat", "open", "getdents64", "exit", "lstat", "uname", "dup2", "access", "readlink",
               "rt_sigreturn"]
    cfg = with_seccomp({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                        "syscalls": [{"names": allowed, "action": "SCMP_ACT_ALLOW"}]})
    res = run(rt, cfg, "mkdir /dev/shm/x 2>&1; echo done")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "mkdir: can't create directory '/dev/shm/x': Operation not permitted\ndone\n"


def test_nnp_true_loads_after_the_capability_drop(rt: Runtime) -> None:
    # A profile that denies what the runtime itself calls to drop privileges.
    denied = ["capset", "setresuid", "setresgid", "setgroups", "prctl"]
    section = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": denied, "action": "SCMP_ACT_ERRNO"}]}
    res = run(rt, with_seccomp(section, nnp=True), "echo started")
    assert (res.returncode, res.stdout) == (0, "started\n"), res.stderr
    res = run(rt, with_seccomp(section, nnp=False), "echo started")
    assert res.returncode == 1 and "Operation not permitted" in res.stderr  # loaded before the drop, as runc


def _listener(path: Path, got: dict[str, Any], errno_answer: int) -> threading.Thread:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    server.settimeout(20)
    return _listener_on(server, got, errno_answer)


def _listener_on(server: socket.socket, got: dict[str, Any], errno_answer: int) -> threading.Thread:
    """Take the next runtime's connection on server, answer the first notification with -errno_answer."""
    import pyseccomp

    lib = pyseccomp._libseccomp

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            msg, fds, _flags, _addr = socket.recv_fds(conn, 65536, 4)
        server.close()
        got["state"] = json.loads(msg)
        got["fds"] = len(fds)
        req = ctypes.POINTER(pyseccomp._Notif)()
        resp = ctypes.POINTER(pyseccomp._NotifResp)()
        lib.seccomp_notify_alloc(ctypes.byref(req), ctypes.byref(resp))
        try:
            ctypes.memset(req, 0, ctypes.sizeof(pyseccomp._Notif))
            if lib.seccomp_notify_receive(fds[0], req) == 0:
                got["pid"] = req.contents.pid
                resp.contents.id = req.contents.id
                resp.contents.error = -errno_answer
                resp.contents.val = 0
                resp.contents.flags = 0
                got["respond"] = lib.seccomp_notify_respond(fds[0], resp)
        finally:
            lib.seccomp_notify_free(req, resp)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t


def test_notify_hands_the_fd_and_state_to_the_listener(rt: Runtime, tmp_path: Path) -> None:
    sock = tmp_path / "listener.sock"
    got: dict[str, Any] = {}
    thread = _listener(sock, got, 95)  # EOPNOTSUPP, an answer only the listener gives
    cfg = with_seccomp({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": str(sock), "listenerMetadata": "hello",
                        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}, nnp=False)
    cfg["annotations"] = {"k": "v"}
    cid = rt.new_id()
    res = rt("run", "-b", str(rt.bundle(cfg, args=["sh", "-c", "mkdir /tmp/x 2>&1; echo rc=$?"])), cid)
    thread.join(10)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["mkdir: can't create directory '/tmp/x': Operation not supported", "rc=1"]
    state = got["state"]
    assert got["fds"] == 1 and got["respond"] == 0
    assert state["fds"] == ["seccompFd"] and state["metadata"] == "hello"
    assert state["state"]["id"] == cid and state["state"]["annotations"] == {"k": "v"}
    assert state["pid"] == state["state"]["pid"] > 0


@pytest.mark.parametrize("section, expected", [
    ({"defaultAction": "SCMP_ACT_NOTIFY"}, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]},
     "linux.seccomp.listenerPath: SCMP_ACT_NOTIFY rules need a listenerPath"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x", "syscalls": [{"names": ["write"],
                                                                              "action": "SCMP_ACT_NOTIFY"}]},
     "linux.seccomp.syscalls[0].names: SCMP_ACT_NOTIFY on write"),
])
def test_notify_refusals(rt: Runtime, section: dict[str, Any], expected: str) -> None:
    res = rt("create", "-b", str(rt.bundle(with_seccomp(section))), rt.new_id())
    assert res.returncode == 1 and res.stderr.startswith(f"pyrt: {expected}"), res.stderr


def test_missing_listener_fails_create_cleanly(rt: Runtime, tmp_path: Path) -> None:
    cfg = with_seccomp({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": str(tmp_path / "nobody.sock"),
                        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}, nnp=False)
    res = rt("create", "-b", str(rt.bundle(cfg)), rt.new_id())
    assert res.returncode == 1
    assert res.stderr.startswith(f"pyrt: linux.seccomp.listenerPath: {tmp_path / 'nobody.sock'}: ")


@pytest.mark.parametrize("flags", [[], ["SECCOMP_FILTER_FLAG_LOG"], ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
                                   ["SECCOMP_FILTER_FLAG_TSYNC"], ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]])
def test_filter_flags_are_accepted_by_the_kernel(rt: Runtime, flags: list[str]) -> None:
    cfg = with_seccomp({"defaultAction": "SCMP_ACT_ALLOW", "flags": flags,
                        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]})
    res = run(rt, cfg, "grep Seccomp: /proc/self/status; mkdir /dev/shm/x 2>/dev/null || echo denied")
    assert (res.returncode, res.stdout) == (0, "Seccomp:\t2\ndenied\n"), res.stderr


def test_wait_killable_recv_with_a_listener(rt: Runtime, tmp_path: Path) -> None:
    sock = tmp_path / "listener.sock"
    got: dict[str, Any] = {}
    thread = _listener(sock, got, 95)
    cfg = with_seccomp({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": str(sock),
                        "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}, nnp=True)
    res = run(rt, cfg, "mkdir /tmp/x 2>&1; echo rc=$?")
    thread.join(10)
    assert res.stdout.splitlines()[-1] == "rc=1" and got.get("respond") == 0, res.stderr


def test_exec_hands_its_own_fd_to_the_listener(rt: Runtime, tmp_path: Path) -> None:
    """exec into a container whose filter notifies: the exec'd process loads the filter too, and the
    listener gets its fd with the running container's state (as runc); exec once failed on it."""
    sock = tmp_path / "listener.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock))
    server.listen(2)
    server.settimeout(20)
    cfg = with_seccomp({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": str(sock),
                        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}, nnp=False)
    cid = rt.new_id()
    got: dict[str, Any] = {}
    first = threading.Thread(target=lambda: got.setdefault("init", server.accept()[0]), daemon=True)
    first.start()
    rt("run", "-d", "-b", str(rt.bundle(cfg, args=["sleep", "30"])), cid, check=True)
    first.join(10)
    thread = _listener_on(server, got, 95)
    res = rt("exec", cid, "sh", "-c", "mkdir /tmp/y 2>&1; echo rc=$?")
    thread.join(10)
    got["init"].close()
    rt("delete", "--force", cid, check=True)
    assert (res.returncode, res.stdout.splitlines()) == (
        0, ["mkdir: can't create directory '/tmp/y': Operation not supported", "rc=1"]), res.stderr
    assert got["state"]["state"]["status"] == "running" and got["state"]["state"]["id"] == cid
    assert 0 < got["state"]["pid"] != got["state"]["state"]["pid"]  # the exec'd process (sh), not init
