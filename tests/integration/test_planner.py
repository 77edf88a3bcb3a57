"""`pyrt planner`: the same containers with it, a fallback (never a failure) when it misbehaves.

Each test runs its own planner on a private socket ($PYRT_PLANNER_SOCKET) and, so that every
run really plans, a fresh plan cache ($PYRT_CACHE_DIR) per run.
"""

from __future__ import annotations

import json
import marshal
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PYRT, SHARED, Runtime, busybox_config, engine_config, reap

PROBE = ("grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status; "
         "cut -d' ' -f5,6 /proc/self/mountinfo | sort; unshare --user true 2>&1; echo unshare=$?; "
         "cat /proc/self/cgroup | sort")


def planner_cmd(sock: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PYRT), "planner", *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYRT_PLANNER_SOCKET=str(sock)))


@pytest.fixture
def planner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    sock = tmp_path / "planner" / "planner.sock"
    res = planner_cmd(sock, "--detach")
    assert res.returncode == 0, res.stderr
    monkeypatch.setenv("PYRT_PLANNER_SOCKET", str(sock))
    pid = int((sock.parent / "planner.pid").read_text())
    try:
        yield sock
    finally:
        if os.path.exists(f"/proc/{pid}"):
            assert planner_cmd(sock, "--stop").returncode == 0
        assert reaped(pid), "the planner outlived its test"
        assert not sock.exists()


def reaped(pid: int, timeout: float = 5.0) -> bool:
    """The test process is a subreaper: the stopped planner's zombie is ours.  `--stop` returns once the
    planner is a zombie whose threads are gone, but the last of them may still be on its way out, and
    until it is the zombie cannot be reaped (waitpid says 0): seen once in a clean-clone suite."""
    deadline = time.monotonic() + timeout
    while True:
        reap()
        if not os.path.exists(f"/proc/{pid}"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)


@pytest.fixture
def public_tmp() -> Iterator[Path]:
    """A directory uid 65534 can reach (pytest's tmp_path is under a 0700 directory)."""
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="pyrt-planner-test-", dir="/tmp"))
    os.chmod(base, 0o711)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def fresh_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PYRT_CACHE_DIR", str(tmp_path / f"cache-{uuid.uuid4().hex[:6]}"))


def planner_log(sock: Path) -> str:
    return (sock.parent / "planner.log").read_text()


@pytest.mark.skipif(not (SHARED / "engines").exists(), reason="../shared/engines not present")
def test_the_same_container_with_and_without_the_planner(rt: Runtime, planner: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = engine_config("docker-runc-run-rm")  # Docker's own config, its seccomp profile included
    cfg["process"]["args"] = ["sh", "-c", PROBE]
    out = {}
    for how in ("planner", "in-process"):
        fresh_cache(monkeypatch, tmp_path)
        if how == "in-process":
            monkeypatch.setenv("PYRT_PLANNER_SOCKET", str(tmp_path / "none.sock"))
        bundle = str(rt.bundle(cfg))
        res = rt("--debug", "run", "-b", bundle, rt.new_id(), check=True)
        assert ("from the planner" if how == "planner" else "plan for") in res.stderr
        out[how] = res.stdout.replace(res.args[-1], "ID")  # the cgroup paths name the container
        again = rt("--debug", "run", "-b", bundle, rt.new_id(), check=True)  # the plan went into the cache
        assert "from the cache" in again.stderr and again.stdout.replace(again.args[-1], "ID") == out[how]
    assert "Seccomp:\t2" in out["planner"] and "unshare=1" in out["planner"]
    assert out["planner"] == out["in-process"]
    assert "planned" in planner_log(planner)


def test_a_bad_config_gets_the_same_one_line(rt: Runtime, planner: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = busybox_config()
    cfg["process"]["args"] = []
    errs = []
    for sock in (planner, tmp_path / "none.sock"):
        fresh_cache(monkeypatch, tmp_path)
        monkeypatch.setenv("PYRT_PLANNER_SOCKET", str(sock))
        res = rt("run", "-b", str(rt.bundle(cfg)), rt.new_id())
        assert res.returncode == 1
        errs.append(res.stderr)
    assert errs[0] == errs[1] and len(errs[0].splitlines()) == 1
    assert "process.args" in errs[0]


def test_a_killed_planner_costs_a_fallback(rt: Runtime, planner: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    pid = int((planner.parent / "planner.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    assert reaped(pid)
    assert planner.exists()  # a stale socket, as a crash leaves it
    fresh_cache(monkeypatch, tmp_path)
    res = rt("run", "-b", str(rt.bundle(busybox_config())), rt.new_id())
    assert res.returncode == 0, res.stderr
    assert "is not there" in res.stderr and "planned in-process" in res.stderr
    planner.unlink()


class FakePlanner:
    """A SOCK_SEQPACKET server that answers what the test says (or nothing)."""

    def __init__(self, path: Path, reply: Any) -> None:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.srv.bind(str(path))
        self.srv.listen(8)
        self.reply = reply
        self.conns: list[socket.socket] = []
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self) -> None:
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            self.conns.append(conn)
            req = marshal.loads(conn.recv(1 << 22))
            answer = self.reply(req)
            if answer is not None:
                conn.send(answer)

    def close(self) -> None:
        self.srv.close()
        for c in self.conns:
            c.close()


@pytest.mark.parametrize("case, expect", [
    ("hangs", "did not answer within"),
    ("garbage", "is not readable"),
    ("another key", "answered another request"),
    ("a wrong plan", "the planner's answer was refused: plan has keys"),
    ("a plan for another bundle", "plan.bundle is another bundle's"),
    ("dies mid-request", "closed the connection without an answer"),
])
def test_a_misbehaving_planner_costs_a_fallback(rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                case: str, expect: str) -> None:
    sock = tmp_path / "fake" / "planner.sock"
    good: dict[str, Any] = {}

    def reply(req: dict[str, Any]) -> bytes | None:
        if case == "hangs":
            return None
        if case == "garbage":
            return b"\x00garbage"
        if case == "another key":
            return marshal.dumps({"key": "0" * 64, "plan": {}, "warnings": [], "debug": []})
        if case == "dies mid-request":
            fake.conns[-1].close()
            return None
        plan = dict(good["plan"])
        if case == "a wrong plan":
            del plan["seccomp"]
        else:
            plan["bundle"] = "/elsewhere"
        return marshal.dumps({"key": req["key"], "plan": plan, "warnings": [], "debug": []})

    from pyrt.planning.bundle import plan_bundle  # a real plan to doctor

    monkeypatch.setenv("PYRT_PLANNER_SOCKET", str(tmp_path / "none.sock"))
    bundle = rt.bundle(busybox_config())
    fresh_cache(monkeypatch, tmp_path)
    good["plan"] = plan_bundle(str(bundle))[0]
    fake = FakePlanner(sock, reply)
    try:
        monkeypatch.setenv("PYRT_PLANNER_SOCKET", str(sock))
        fresh_cache(monkeypatch, tmp_path)
        t = time.monotonic()
        res = rt("run", "-b", str(bundle), rt.new_id())
        assert res.returncode == 0, res.stderr
        assert expect in res.stderr and "planned in-process" in res.stderr, res.stderr
        assert time.monotonic() - t < 5
    finally:
        fake.close()


def test_meanwhile_runs_while_the_planner_plans_and_the_answer_is_due_from_the_request(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """create imports init's modules (parent.preload) while the planner plans on another CPU: meanwhile()
    runs after the request is sent and before the answer is read; the timeout still counts from the
    request, so a planner that hangs costs no more than it did without meanwhile."""
    from pyrt.planning import planner_client

    sock = tmp_path / "fake" / "planner.sock"
    events: list[str] = []

    def reply(req: dict[str, Any]) -> bytes | None:
        events.append("planner got the request")
        if req["config"] == b"hang":
            return None
        return marshal.dumps({"key": req["key"], "plan": {}, "warnings": [], "debug": []})

    fake = FakePlanner(sock, reply)
    try:
        monkeypatch.setenv("PYRT_PLANNER_SOCKET", str(sock))

        def meanwhile() -> None:
            for _ in range(200):  # the request is out before meanwhile() starts: the planner sees it
                if events:
                    break
                time.sleep(0.005)
            events.append("meanwhile")

        answer, why = planner_client.ask({"key": "k1", "config": b"{}"}, meanwhile=meanwhile)
        assert why == "" and answer is not None and answer["key"] == "k1"
        assert events == ["planner got the request", "meanwhile"]

        events.clear()
        t = time.monotonic()
        answer, why = planner_client.ask({"key": "k2", "config": b"hang"}, timeout=0.3,
                                     meanwhile=lambda: time.sleep(0.2))
        took = time.monotonic() - t
        assert answer is None and "did not answer within 300 ms" in why
        assert 0.28 < took < 0.45, took  # due 0.3 s after the request, not 0.3 s after meanwhile()
    finally:
        fake.close()
    called: list[int] = []
    monkeypatch.setenv("PYRT_PLANNER_SOCKET", str(tmp_path / "none.sock"))
    assert planner_client.ask({"key": "k3", "config": b"{}"}, meanwhile=lambda: called.append(1)) == (None, "")
    assert called == []  # no planner, no waiting: the caller's own imports happen where they always did


def test_a_non_root_peer_is_refused(public_tmp: Path) -> None:
    sock = public_tmp / "planner" / "planner.sock"
    def as_nobody() -> str:
        """Connect and ask as uid 65534, in a forked child; what happened, through a pipe."""
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.setgid(65534)
                os.setuid(65534)
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                try:
                    s.connect(str(sock))
                    s.send(b"x")
                    s.settimeout(5)
                    os.write(w, b"answer" if s.recv(100) else b"closed")
                except PermissionError:
                    os.write(w, b"EACCES")
                except (ConnectionResetError, BrokenPipeError):
                    os.write(w, b"closed")
            finally:
                os._exit(0)
        os.close(w)
        os.waitpid(pid, 0)
        got = os.read(r, 100).decode()
        os.close(r)
        return got

    assert planner_cmd(sock, "--detach").returncode == 0
    try:
        assert as_nobody() == "EACCES"  # the socket is 0600 in a 0700 directory
        os.chmod(sock.parent, 0o711)
        os.chmod(sock, 0o666)  # past the file modes: the planner's own SO_PEERCRED check
        assert as_nobody() == "closed"
        assert "is not root" in planner_log(sock)
    finally:
        planner_cmd(sock, "--stop")
        reap()


def test_the_cli_ignores_a_planner_that_is_not_root(rt: Runtime, tmp_path: Path, public_tmp: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    d = public_tmp / "nobody"
    d.mkdir()
    os.chown(d, 65534, 65534)
    sock = d / "planner.sock"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # a planner impostor, as uid 65534
        try:
            os.setgid(65534)
            os.setuid(65534)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.bind(str(sock))
            s.listen(1)
            os.write(w, b"ready")
            s.accept()
            time.sleep(30)
        finally:
            os._exit(0)
    os.close(w)
    try:
        assert os.read(r, 10) == b"ready"
        monkeypatch.setenv("PYRT_PLANNER_SOCKET", str(sock))
        fresh_cache(monkeypatch, tmp_path)
        res = rt("run", "-b", str(rt.bundle(busybox_config())), rt.new_id())
        assert res.returncode == 0 and "does not run as root" in res.stderr, res.stderr
    finally:
        os.close(r)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_planner_commands(tmp_path: Path) -> None:
    sock = tmp_path / "p" / "planner.sock"
    res = planner_cmd(sock, "--stop")
    assert res.returncode == 1 and "none is running" in res.stderr and len(res.stderr.splitlines()) == 1
    assert planner_cmd(sock, "--detach").returncode == 0
    try:
        again = planner_cmd(sock, "--detach")
        assert again.returncode == 1 and "already running" in again.stderr
        assert (sock.stat().st_mode & 0o777) == 0o600 and (sock.parent.stat().st_mode & 0o777) == 0o700
    finally:
        assert planner_cmd(sock, "--stop").returncode == 0
    assert not sock.exists() and not (sock.parent / "planner.pid").exists()


@pytest.mark.skipif(not (SHARED / "engines").exists(), reason="../shared/engines not present")
def test_exec_process_json_through_the_planner(rt: Runtime, planner: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    cid = rt.new_id()
    rt("run", "-d", "-b", str(rt.bundle(busybox_config(), args=["sleep", "100"])), cid, check=True)
    try:
        proc = json.loads((SHARED / "engines" / "docker-runc-exec.process.json").read_text())
        proc["args"] = ["sh", "-c", "grep -E '^(Cap(Eff|Bnd)|NoNewPrivs|Seccomp):' /proc/self/status; id"]
        (tmp_path / "p.json").write_text(json.dumps(proc))
        out = []
        for sock in (planner, tmp_path / "none.sock"):
            fresh_cache(monkeypatch, tmp_path)
            monkeypatch.setenv("PYRT_PLANNER_SOCKET", str(sock))
            res = rt("exec", "--process", str(tmp_path / "p.json"), cid)
            assert res.returncode == 0 and res.stderr == "", res.stderr
            out.append(res.stdout)
        assert out[0] == out[1]
        assert "planned (process)" in planner_log(planner)
    finally:
        rt("delete", "--force", cid, check=True)


def test_a_planner_running_older_code_is_refused_after_an_upgrade(rt: Runtime, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The planner keeps the code stamp it started with: once pyrt's files change on disk, new CLIs
    compute other keys, the planner refuses them, and they plan in-process (a copy of pyrt is upgraded
    here, so that the tree under test keeps its bytecode)."""
    import shutil
    import sys
    import sysconfig

    from tests.conftest import ROOT

    copy = tmp_path / "pyrt-copy"
    shutil.copytree(ROOT / "pyrt", copy / "pyrt")  # copy2 keeps mtimes: the bytecode stays valid
    paths = [str(copy), sysconfig.get_paths()["purelib"]]
    launcher = tmp_path / "pyrt-copy.py"
    launcher.write_text(f"import sys\nsys.path[:0] = {paths!r}\nfrom pyrt.cli import entry\nentry()\n")
    sock = tmp_path / "planner" / "planner.sock"
    env = dict(os.environ, PYRT_PLANNER_SOCKET=str(sock))
    copied = [sys.executable, "-IS", str(launcher)]
    assert subprocess.run([*copied, "planner", "--detach"], env=env, timeout=60).returncode == 0
    try:
        def run_copy() -> subprocess.CompletedProcess[str]:
            fresh_cache(monkeypatch, tmp_path)
            return subprocess.run([*copied, "--debug", "--root", str(rt.root), "run", "-b",
                                   str(rt.bundle(busybox_config())), rt.new_id()], capture_output=True, text=True,
                                  timeout=60, env=dict(os.environ, PYRT_PLANNER_SOCKET=str(sock)))

        before = run_copy()
        assert before.returncode == 0 and "from the planner" in before.stderr, before.stderr
        newer = time.time() + 60
        os.utime(copy / "pyrt" / "common" / "version.py", (newer, newer))  # the upgrade
        after = run_copy()
        assert after.returncode == 0, after.stderr
        assert "runs other pyrt code" in after.stderr and "planned in-process" in after.stderr, after.stderr
    finally:
        subprocess.run([*copied, "planner", "--stop"], env=env, timeout=60)
        reap()
