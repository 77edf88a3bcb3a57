"""The differential harness: one config (or one sequence of CLI commands) run by pyrt and by reference
runtimes side by side, their observable results compared.

A case is a config edit plus either a probe script (the container's process) or a sequence of commands.
Each runtime gets its own bundle (a fresh copy of the busybox rootfs), its own --root, and its own
container id; what it observes is reduced to text: exit status, stdout (probes send stderr there when
it matters), with ids, paths and pids replaced by placeholders.  Runtime error messages differ by
design (each runtime words its own); they are not compared, only that an error happened.

References: runc (from Debian) always; crun where it is installed.  crun 1.8.1 refuses a hybrid cgroup
layout: here it runs in a private mount namespace with /sys/fs/cgroup/unified/cgroup.controllers masked
by /dev/null, as it would on a v1 host.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import PYRT, ROOT, UNIFIED, hierarchy_roots, reap

Config = dict[str, Any]
Edit = Callable[[Config], None]
RootfsEdit = Callable[[Path], None]
Steps = Callable[["Session"], str]


@dataclass(frozen=True)
class Case:
    """One config or command sequence, compared across runtimes.

    `script` becomes the process (`sh -c SCRIPT`); `steps` instead drives the CLI and returns what it saw.
    `differs` names a deliberate difference from the references: pyrt's observation must then equal
    `expect` exactly (so the case still fails if pyrt changes).  `refs_differ` names why runc and crun
    disagree with each other; pyrt is then held to `follow` (runc by default)."""

    area: str
    name: str
    script: str | None = None
    edit: Edit | None = None
    steps: Callable[[Session], str] | None = None
    rootfs: RootfsEdit | None = None
    differs: str = ""
    expect: str = ""
    refs_differ: str = ""
    follow: str = "runc"
    refs: tuple[str, ...] = ("runc", "crun")
    timeout: float = 20
    # fields that differ on a standard host (cgroup v2 + systemd, the VM lab), e.g. {"refs_differ": ""}
    standard_host: dict[str, str] | None = None

    def for_this_host(self) -> Case:
        if not (UNIFIED and self.standard_host):
            return self
        changes: dict[str, Any] = dict(self.standard_host)
        return dataclasses.replace(self, **changes)


@dataclass
class Runner:
    """One runtime's command line."""

    name: str
    root: Path
    prefix: list[str] = field(default_factory=list)

    def argv(self, *args: str) -> list[str]:
        return [*self.prefix, "--root", str(self.root), *args]


def runners(tmp: Path) -> dict[str, Runner]:
    # PYRT_UNDER_TEST: another pyrt's launcher (an older checkout, to see which cases it fails)
    found = {"pyrt": Runner("pyrt", tmp / "pyrt-root", [os.environ.get("PYRT_UNDER_TEST") or str(PYRT)])}
    if shutil.which("runc"):
        found["runc"] = Runner("runc", tmp / "runc-root", ["runc"])
    if shutil.which("crun"):
        if UNIFIED:
            found["crun"] = Runner("crun", tmp / "crun-root", ["crun"])
        else:
            mask = 'mount --bind /dev/null /sys/fs/cgroup/unified/cgroup.controllers && exec crun "$@"'
            found["crun"] = Runner("crun", tmp / "crun-root", ["unshare", "-m", "sh", "-c", mask, "crun"])
    return found


def base_config() -> Config:
    """What `runc spec` writes (the start of most outside suites), with no terminal."""
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["runc", "spec"], cwd=d, check=True)
        cfg: Config = json.loads(Path(d, "config.json").read_text())
    cfg["process"]["terminal"] = False
    return cfg


class Session:
    """One runtime, one bundle, one container id: what a case's steps drive."""

    def __init__(self, runner: Runner, bundle: Path, cid: str) -> None:
        self.runner = runner
        self.bundle = bundle
        self.id = cid
        self.ids = [cid]

    @property
    def name(self) -> str:
        return self.runner.name

    def __call__(
        self,
        *args: str,
        timeout: float = 20,
        input: str | None = None,
        env: dict[str, str] | None = None,
        pass_fds: tuple[int, ...] = (),
        cwd: str | Path | None = None,
        fd3: Path | None = None,
    ) -> tuple[int, str, str]:
        """Run one command in the bundle (or cwd); (status, stdout, stderr).  Files, not pipes: a detached
        container keeps the caller's stdio open.  fd3: a file the command gets open on fd 3."""
        argv = self.runner.argv(*args)
        if fd3 is not None:
            argv = ["sh", "-c", 'exec "$@" 3<"$0"', str(fd3), *argv]
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.run(
                argv,
                stdout=out,
                stderr=err,
                timeout=timeout,
                stdin=subprocess.DEVNULL if input is None else None,
                input=None if input is None else input.encode(),
                cwd=cwd or self.bundle,
                env=env,
                pass_fds=pass_fds,
            )
            out.seek(0)
            err.seek(0)
            return proc.returncode, out.read(), err.read()

    def background(self, *args: str) -> subprocess.Popen[bytes]:
        """A command left running (its output is not kept)."""
        return subprocess.Popen(
            self.runner.argv(*args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.bundle,
        )

    def obs(self, *args: str, **kw: Any) -> str:
        """One command as an observation line: `$ ARGS -> STATUS` and its stdout."""
        rc, out, _ = self(*args, **kw)
        shown = " ".join(a.replace(self.id, "ID") for a in args)
        return f"$ {shown} -> {rc}\n{out}"

    def state(self) -> dict[str, Any]:
        rc, out, err = self("state", self.id)
        if rc != 0:
            return {"status": "none"}
        state: dict[str, Any] = json.loads(out)
        return state

    def wait(self, status: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = str(self.state()["status"])
            if now == status:
                return now
            reap()
            time.sleep(0.02)
        return str(self.state()["status"])

    def cgroup_file(self, controller: str, name: str) -> str:
        """A cgroup file of the container, read on the host through its init's /proc/PID/cgroup."""
        pid = self.state().get("pid", 0)
        try:
            lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        except OSError:
            return "<no process>"
        for line in lines:
            _, ctrls, path = line.split(":", 2)
            if UNIFIED and ctrls == "":
                return Path("/sys/fs/cgroup", path.lstrip("/"), name).read_text().strip()
            if controller in ctrls.split(","):
                base = Path("/sys/fs/cgroup", controller)
                try:
                    return (base / path.lstrip("/") / name).read_text().strip()
                except OSError as err:
                    return f"<{err.strerror}>"
        return "<no cgroup>"


class ConsoleSocket:
    """A --console-socket receiver: takes the pty master a runtime sends and collects what it reads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(1)
        self.server.settimeout(20)
        self.output = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.server.accept()
            _, fds, _, _ = socket.recv_fds(conn, 1024, 1)
            conn.close()
        except OSError:
            return
        master = fds[0]
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.output += chunk
        os.close(master)

    def close(self) -> None:
        self.server.close()


def normalise(text: str, sess: Session) -> str:
    for cid in sess.ids:
        text = text.replace(cid, "ID")
    text = text.replace(str(sess.bundle), "BUNDLE").replace(str(sess.runner.root), "ROOT")
    return re.sub(r"\b(pid|PID)=\d+", r"\1=N", text)


@dataclass
class Outcome:
    runtime: str
    observed: str
    stderr: str
    cgroups_left: list[str] = field(default_factory=list)


class Harness:
    """Runs cases; keeps every runtime's outcome for the report."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.runners = runners(tmp)
        self.base = base_config()
        self.pristine = tmp / "rootfs"  # the busybox rootfs as scripts/setup builds it, for every bundle
        subprocess.run(
            [str(ROOT / "scripts" / "make-rootfs"), str(self.pristine)], check=True, stderr=subprocess.DEVNULL
        )

    def bundle(self, runner: str, case: Case) -> tuple[Path, Config]:
        d = self.tmp / f"{runner}-{uuid.uuid4().hex[:8]}"
        d.mkdir()
        # hard links: a runtime adds mount points and nodes to its copy, it never writes into a file of it
        subprocess.run(["cp", "-al", str(self.pristine), str(d / "rootfs")], check=True)
        if case.rootfs is not None:
            case.rootfs(d / "rootfs")
        cfg = copy.deepcopy(self.base)
        if case.script is not None:
            cfg["process"]["args"] = ["sh", "-c", case.script]
        if case.edit is not None:
            case.edit(cfg)
        (d / "config.json").write_text(json.dumps(cfg, indent=1))
        return d, cfg

    def run(self, case: Case, runner: str) -> Outcome:
        bundle, cfg = self.bundle(runner, case)
        cid = f"d{runner[0]}-{uuid.uuid4().hex[:10]}"
        sess = Session(self.runners[runner], bundle, cid)
        try:
            if case.steps is not None:
                observed, err = case.steps(sess), ""
            else:
                rc, out, err = sess("run", cid, timeout=case.timeout)
                observed = f"exit={rc}\n{out}"
        finally:
            for one in sess.ids:
                sess("delete", "--force", one)
            reap()
        shutil.rmtree(bundle, ignore_errors=True)
        left = self._cgroups_left(cfg, sess.ids, clean=runner != "pyrt")
        return Outcome(runner, normalise(observed, sess), err, left)

    @staticmethod
    def _cgroups_left(cfg: Config, ids: list[str], clean: bool) -> list[str]:
        """The container's cgroup directories still there (pyrt's default parent, or the config's
        cgroupsPath); a reference runtime's are removed instead (crun leaves some after a failed create)."""
        paths = [cfg["linux"]["cgroupsPath"]] if cfg["linux"].get("cgroupsPath") else [f"pyrt/{i}" for i in ids]
        left = []
        for base in hierarchy_roots():
            for rel in paths:
                d = base / rel.lstrip("/")
                if d.is_dir() and clean:
                    try:
                        d.rmdir()
                    except OSError:
                        left.append(str(d))
                elif d.is_dir():
                    left.append(str(d))
        return left
