"""`pyrt planner`: plans configs for the CLI over a unix socket, with attrs, pyseccomp and the
Docker profile already imported (a cold plan in the CLI costs ~60-100 ms of imports and work here).

It never forks a container: it only turns (config bytes, bundle, options) into a plan, and the
CLI that asked builds the container, so the container stays a descendant of its caller.  It
listens on /run/pyrt-planner/planner.sock ($PYRT_PLANNER_SOCKET) whatever --root a caller uses,
in a root-only directory, mode 0600, and answers only peers whose SO_PEERCRED uid is 0.  It
refuses (and the CLI plans itself) a request whose key it computes differently: other pyrt code
than it was started with, another host view, or a --security-opt file that changed.

    pyrt planner            serve in the foreground (SIGTERM or SIGINT stops it)
    pyrt planner --detach   start it in the background and return once it answers
    pyrt planner --stop     stop the one running

A systemd unit (untested here: this machine has no systemd):

    [Unit]
    Description=pyrt warm planner
    [Service]
    ExecStart=/usr/local/bin/pyrt planner
    [Install]
    WantedBy=multi-user.target
"""

from __future__ import annotations

import marshal
import os
import signal
import socket
import struct
import sys
import threading
import time
from typing import Any

from pyrt.common import cache
from pyrt.common.errors import PyrtError, to_wire
from pyrt.planning.bundle import build_plan, plan_key
from pyrt.planning.planner_client import MAX, PROTOCOL, socket_path

PLAN_FIELDS = {"key": str, "config": bytes, "config_path": str, "bundle": str, "options": dict,
               "seccomp_bytes": bytes}
PROCESS_FIELDS = {"key": str, "config": bytes, "config_path": str}
STALE = ("the planner runs other pyrt code or sees another host "
         "(restart it: pyrt planner --stop; pyrt planner --detach)")


def _pid_file(path: str) -> str:
    return os.path.join(os.path.dirname(path), "planner.pid")


def _warm() -> None:
    """Import what a cold plan needs, and render Docker's profile once."""
    import attrs  # noqa: F401

    from pyrt.config import spec  # noqa: F401
    from pyrt.seccomp import binding, compiler, profiles  # noqa: F401

    binding.load()

    profiles.render(profiles.load("default"), profiles.DOCKER_DEFAULT_CAPS)


class Planner:
    def __init__(self, path: str) -> None:
        self.path = path
        self.code = cache.code_stamp()  # what this process runs: newer files on disk are not it
        self.log = sys.stderr

    def say(self, msg: str) -> None:
        self.log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} pyrt planner: {msg}\n")
        self.log.flush()

    def answer(self, req: Any) -> dict[str, Any]:
        """The reply to one request: a plan (or a planned exec --process file), the config's error as
        planning in the CLI would raise it, or a refusal the CLI logs before planning itself."""
        process = isinstance(req, dict) and req.get("kind") == "process"
        fields = PROCESS_FIELDS if process else PLAN_FIELDS
        if not isinstance(req, dict) or req.get("protocol") != PROTOCOL or any(
                not isinstance(req.get(f), t) for f, t in fields.items()):
            return {"key": req.get("key") if isinstance(req, dict) else None, "refused": "a malformed request"}
        try:
            return {"key": req["key"], **(self._process(req) if process else self._plan(req))}
        except PyrtError as exc:
            return {"key": req["key"], "error": to_wire(exc)}

    def _plan(self, req: dict[str, Any]) -> dict[str, Any]:
        source = req.get("seccomp_source")
        if source is not None and not isinstance(source, str):
            return {"refused": "a malformed request"}
        options = {k: v for k, v in req["options"].items() if k in ("no_pivot", "no_new_keyring", "preserve_fds")}
        if options != req["options"]:
            return {"refused": "unknown options"}
        if plan_key(req["config"], req["bundle"], options, source, req["seccomp_bytes"], self.code) != req["key"]:
            return {"refused": STALE}
        if source not in (None, "unconfined", "default"):
            try:
                with open(source, "rb") as fh:
                    if fh.read() != req["seccomp_bytes"]:
                        return {"refused": f"{source} changed during the request"}
            except OSError as exc:
                return {"refused": f"{source}: {exc.strerror}"}
        plan, warnings, debug = build_plan(req["config"], req["config_path"], req["bundle"], source, options)
        return {"plan": plan, "warnings": warnings, "debug": debug}

    def _process(self, req: dict[str, Any]) -> dict[str, Any]:
        """An exec --process file: parsed and planned as exec would."""
        from pyrt.planning.process_file import build_process, process_key

        if process_key(req["config"], self.code) != req["key"]:
            return {"refused": STALE}
        proc, warnings = build_process(req["config"], req["config_path"])
        return {"process": proc, "warnings": warnings}

    def handle(self, conn: socket.socket) -> None:
        try:
            pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
            if uid != 0:
                self.say(f"refused pid {pid}: uid {uid} is not root")
                return
            conn.settimeout(10)
            raw = conn.recv(MAX)
            try:
                req = marshal.loads(raw)
            except (EOFError, ValueError, TypeError):
                req = None
            t = time.perf_counter()
            out = self.answer(req)
            conn.send(marshal.dumps(out))
            what = out.get("refused") or (f"error {out['error'][1]}" if "error" in out else
                                          f"planned ({'process' if 'process' in out else 'config'})")
            self.say(f"pid {pid}: {what} ({(time.perf_counter() - t) * 1000:.1f} ms)")
        except OSError as exc:
            self.say(f"connection failed: {exc}")
        except Exception as exc:  # noqa: BLE001 - one bad request never stops the planner
            self.say(f"internal error: {type(exc).__name__}: {exc}")
        finally:
            conn.close()

    def serve(self, ready: Any = None) -> None:
        directory = os.path.dirname(self.path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        st = os.stat(directory)
        if st.st_uid != 0 or st.st_mode & 0o077:
            raise PyrtError(f"planner: {directory} must be owned by root and closed to others (mode 0700)")
        _warm()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        old = os.umask(0o177)
        try:
            srv.bind(self.path)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        srv.listen(64)
        with open(_pid_file(self.path), "w") as fh:
            fh.write(str(os.getpid()))

        def stop(_sig: int, _frame: Any) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        self.say(f"listening on {self.path} (pid {os.getpid()})")
        if ready is not None:
            ready()
        try:
            while True:
                conn, _ = srv.accept()
                threading.Thread(target=self.handle, args=(conn,), daemon=True).start()
        except KeyboardInterrupt:
            pass
        finally:
            srv.close()
            for path in (self.path, _pid_file(self.path)):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            self.say("stopped")


def _running(path: str) -> int | None:
    try:
        with open(_pid_file(path)) as fh:
            pid = int(fh.read())
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            if b"planner" not in fh.read():
                return None
        return pid
    except (OSError, ValueError):
        return None


def _stopped(pid: int) -> bool:
    """Gone, or a zombie whose other threads are gone too: a thread group leader shows Z as soon as it
    exits, but its parent cannot reap it before every thread has (waitpid would still say 0)."""
    from pyrt.linux.processes import proc_stat

    info = proc_stat(pid)
    if info is None or info[0] == "X":
        return True
    if info[0] != "Z":
        return False
    try:
        return len(os.listdir(f"/proc/{pid}/task")) <= 1
    except OSError:
        return True


def command(detach: bool, stop: bool) -> int:
    from pyrt.common import privilege

    if not privilege.host_root():  # only root of the host asks it (planner_client)
        raise PyrtError("planner: must run as root of the host (only root's pyrt asks a planner)")
    path = socket_path()
    if stop:
        pid = _running(path)
        if pid is None:
            raise PyrtError(f"planner: none is running (no live pid in {_pid_file(path)})")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while not _stopped(pid):
            if time.monotonic() > deadline:
                raise PyrtError(f"planner: pid {pid} did not stop")
            time.sleep(0.01)
        return 0
    running = _running(path)
    if running is not None:
        raise PyrtError(f"planner: already running (pid {running}) on {path}")
    planner = Planner(path)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    if not detach:
        planner.serve()
        return 0
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the planner: its own session, stdio to its log
        os.close(r)
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        log = os.open(os.path.join(os.path.dirname(path), "planner.log"),
                      os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        try:
            planner.serve(ready=lambda: os.write(w, b"1"))
        except BaseException as exc:  # noqa: BLE001 - reported to the waiting parent
            os.write(w, f"0{exc}".encode())
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    got = os.read(r, 4096)  # "1" once it listens; EOF or "0<why>" when it could not start
    os.close(r)
    if not got.startswith(b"1"):
        raise PyrtError(f"planner: did not start: {got[1:].decode(errors='replace') or 'no answer'}")
    return 0
