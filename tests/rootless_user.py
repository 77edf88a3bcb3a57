"""A dedicated unprivileged user for the rootless tests, made for the session and removed after it: an
account with a home, subordinate uid and gid ranges (/etc/subuid, /etc/subgid), a runtime directory
(XDG_RUNTIME_DIR: made by hand here, by logind with lingering on a systemd host, where the user's own
systemd then runs), a busybox rootfs it owns, and a runner that calls pyrt as that user with the
environment a login gives (none of the session's: not its PYRT_CACHE_DIR)."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BUSYBOX, IS_ROOT, PYRT, ROOTFS, SYSTEMD, host_mounts, reap

SUB_COUNT = 65536
DOCKER_PROFILE = BUSYBOX.parent / "profiles" / "docker-20.10-no-io-uring.json"  # Docker's, in its format


def _free_subordinate_base() -> int:
    """A subordinate range nobody has in /etc/subuid or /etc/subgid."""
    used: list[tuple[int, int]] = []
    for path in ("/etc/subuid", "/etc/subgid"):
        try:
            for line in Path(path).read_text().splitlines():
                parts = line.split(":")
                if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                    used.append((int(parts[1]), int(parts[1]) + int(parts[2])))
        except FileNotFoundError:
            pass
    base = 400000
    while any(lo < base + SUB_COUNT and base < hi for lo, hi in used):
        base += SUB_COUNT
    return base


def _subordinate_start(name: str) -> int | None:
    """The start of name's first range of SUB_COUNT ids in both /etc/subuid and /etc/subgid, if it has one."""
    starts = []
    for path in ("/etc/subuid", "/etc/subgid"):
        try:
            lines = Path(path).read_text().splitlines()
        except FileNotFoundError:
            return None
        mine = [line.split(":") for line in lines if line.startswith(f"{name}:")]
        if not mine or int(mine[0][2]) < SUB_COUNT:
            return None
        starts.append(int(mine[0][1]))
    return starts[0] if starts[0] == starts[1] else None


class User:
    """The test user: its ids, home, runtime dir, subordinate ranges and what it runs."""

    def __init__(self) -> None:
        self.name = f"pyrt-rl-{uuid.uuid4().hex[:6]}"
        self.sub = _free_subordinate_base()
        subprocess.run(["useradd", "--create-home", "--user-group", "--shell", "/bin/sh", self.name], check=True)
        try:
            out = subprocess.run(["id", "-u", self.name], capture_output=True, text=True, check=True).stdout
            self.uid = int(out)
            self.gid = int(subprocess.run(["id", "-g", self.name], capture_output=True, text=True,
                                          check=True).stdout)
            self.home = Path(f"/home/{self.name}")
            given = _subordinate_start(self.name)  # useradd gives new users a range where login.defs says so
            if given is not None:
                self.sub = given
            else:
                rng = f"{self.sub}-{self.sub + SUB_COUNT - 1}"
                subprocess.run(["usermod", "--add-subuids", rng, "--add-subgids", rng, self.name], check=True)
            self.runtime_dir = Path(f"/run/user/{self.uid}")
            self.lingering = SYSTEMD and shutil.which("loginctl") is not None
            if self.lingering:  # logind makes the runtime dir and starts user@UID.service
                subprocess.run(["loginctl", "enable-linger", self.name], check=True)
                self._wait_for(self.runtime_dir / "bus", 60)
            else:
                self.runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # a leftover of a killed run
                os.chown(self.runtime_dir, self.uid, self.gid)
            self.rootfs = self.home / "rootfs"
            subprocess.run(["cp", "-a", str(ROOTFS), str(self.rootfs)], check=True)
            subprocess.run(["chown", "-R", f"{self.uid}:{self.gid}", str(self.rootfs)], check=True)
        except BaseException:
            self.remove()
            raise

    @staticmethod
    def _wait_for(path: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} never appeared")
            time.sleep(0.1)

    def env(self, **extra: str) -> dict[str, str]:
        env = {"HOME": str(self.home), "USER": self.name, "LOGNAME": self.name, "SHELL": "/bin/sh",
               "PATH": "/usr/local/bin:/usr/bin:/bin", "XDG_RUNTIME_DIR": str(self.runtime_dir), "LANG": "C.UTF-8"}
        if self.lingering:
            env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={self.runtime_dir}/bus"
        env.update(extra)
        return {k: v for k, v in env.items() if v != ""}

    def argv(self, *argv: str) -> list[str]:
        """argv run as the user (its groups too): no capability, the bounding set of a login (newuidmap, a
        file-capability or setuid helper, needs it)."""
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups", "--", *argv]

    def run(self, *argv: str, env: dict[str, str] | None = None, timeout: float = 60, cwd: Path | None = None,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Files, not pipes, for the output: a detached container keeps the caller's stdio open."""
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.run(self.argv(*argv), stdout=out, stderr=err, env=env or self.env(),
                                  cwd=str(cwd or self.home), timeout=timeout,
                                  stdin=subprocess.DEVNULL if input is None else None,
                                  input=None if input is None else input.encode())
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read())

    def processes(self) -> list[str]:
        out = subprocess.run(["ps", "-o", "pid=,stat=,args=", "-u", str(self.uid)], capture_output=True,
                             text=True).stdout
        return [line.strip() for line in out.splitlines()
                if line.strip() and "Z" not in line.split()[1]
                and not any(s in line for s in ("systemd", "dbus", "sd-pam"))]

    def remove(self) -> None:
        subprocess.run(["pkill", "-KILL", "-u", str(getattr(self, "uid", -1))], capture_output=True)
        if getattr(self, "lingering", False):
            subprocess.run(["loginctl", "disable-linger", self.name], capture_output=True)
            subprocess.run(["loginctl", "terminate-user", self.name], capture_output=True)
        reap()
        runtime_dir = getattr(self, "runtime_dir", None)
        if runtime_dir is not None and not getattr(self, "lingering", False):
            shutil.rmtree(runtime_dir, ignore_errors=True)
        subprocess.run(["userdel", "--remove", self.name], capture_output=True)
        for path in ("/etc/subuid", "/etc/subgid"):  # userdel removes them; a failed useradd may not have
            try:
                lines = Path(path).read_text().splitlines(keepends=True)
            except FileNotFoundError:
                continue
            kept = [line for line in lines if not line.startswith(f"{self.name}:")]
            if kept != lines:
                Path(path).write_text("".join(kept))


@pytest.fixture(scope="session")
def rootless_user() -> Iterator[User]:
    if not IS_ROOT:
        pytest.skip("needs root to make (and remove) the unprivileged test user")
    if not ROOTFS.joinpath("bin", "busybox").exists():
        pytest.skip("bundles/busybox/rootfs is missing: run scripts/setup")
    for tool in ("useradd", "setpriv", "newuidmap"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is missing (scripts/setup installs uidmap)")
    user = User()
    try:
        version = user.run(str(PYRT), "--version")
        if version.returncode != 0:  # a checkout in a private directory (under /root, say)
            pytest.skip(f"the test user cannot run {PYRT}: {version.stderr.strip()[:200]}")
        yield user
    finally:
        user.remove()


class UserRuntime:
    """pyrt as the test user, with its default --root ($XDG_RUNTIME_DIR/pyrt); checks what is left."""

    def __init__(self, user: User, name: str) -> None:
        self.user = user
        self.dir = user.home / name
        self.dir.mkdir()
        os.chown(self.dir, user.uid, user.gid)
        self.ids: list[str] = []
        self.state_dir = user.runtime_dir / "pyrt"

    def new_id(self, prefix: str = "rl") -> str:
        cid = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.ids.append(cid)
        return cid

    def config(self, *args: str, terminal: bool = False) -> dict[str, Any]:
        """`pyrt spec --rootless` as the user, running args on the user's rootfs."""
        cfg = copy.deepcopy(_spec(self.user))
        cfg["root"]["path"] = str(self.user.rootfs)
        cfg["process"]["terminal"] = terminal
        cfg["process"]["args"] = list(args) or ["true"]
        return cfg

    def bundle(self, cfg: dict[str, Any]) -> Path:
        d = self.dir / f"bundle-{uuid.uuid4().hex[:6]}"
        d.mkdir()
        (d / "config.json").write_text(json.dumps(cfg))
        for p in (d, d / "config.json"):
            os.chown(p, self.user.uid, self.user.gid)
        return d

    def __call__(self, *args: str, timeout: float = 60, env: dict[str, str] | None = None,
                 input: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.user.run(str(PYRT), *args, timeout=timeout, env=env, input=input)

    def state(self, cid: str) -> dict[str, Any]:
        res = self("state", cid)
        assert res.returncode == 0, res.stderr
        out: dict[str, Any] = json.loads(res.stdout)
        return out

    def leftovers(self) -> list[str]:
        reap()
        problems = [f"state {p}" for p in self.state_dir.iterdir()] if self.state_dir.exists() else []
        deadline = time.monotonic() + 3  # an init reparented to the test process dies and is reaped
        while self.user.processes() and time.monotonic() < deadline:
            reap()
            time.sleep(0.05)
        return problems + [f"process {p}" for p in self.user.processes()]


_specs: dict[str, dict[str, Any]] = {}


def _spec(user: User) -> dict[str, Any]:
    if user.name not in _specs:
        d = user.home / "spec"
        d.mkdir(exist_ok=True)
        os.chown(d, user.uid, user.gid)
        res = user.run(str(PYRT), "spec", "--rootless", cwd=d)
        assert res.returncode == 0, res.stderr
        _specs[user.name] = json.loads((d / "config.json").read_text())
    return _specs[user.name]


@pytest.fixture
def urt(rootless_user: User, tmp_path: Path) -> Iterator[UserRuntime]:
    """pyrt as the test user for one test: afterwards no state, process or host mount of it is left."""
    before = host_mounts()
    runtime = UserRuntime(rootless_user, f"t-{uuid.uuid4().hex[:8]}")
    try:
        yield runtime
        left = runtime.leftovers()
        new_mounts = host_mounts() - before
    finally:
        for cid in runtime.ids:
            runtime("delete", "--force", cid)
        subprocess.run(["pkill", "-KILL", "-u", str(rootless_user.uid), "-x", "sleep"], capture_output=True)
        shutil.rmtree(runtime.dir, ignore_errors=True)
        reap()
    assert not left, f"left behind: {left}"
    assert not new_mounts, f"mounts left on the host: {new_mounts}"


@pytest.fixture(scope="module")
def podman_user(rootless_user: User) -> Iterator[User]:
    """The test user with Podman's busybox image (localhost/bb) in its own storage; emptied after."""
    from tests.engines.conftest import rootfs_tar

    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (scripts/test installs it)")
    tar = rootless_user.home / "bb.tar"
    tar.write_bytes(rootfs_tar())
    res = rootless_user.run("podman", "import", str(tar), "localhost/bb", timeout=600)
    assert res.returncode == 0, res.stderr
    yield rootless_user
    rootless_user.run("podman", "rm", "-a", "-f", timeout=300)
    rootless_user.run("podman", "system", "reset", "--force", timeout=300)
    reap()
