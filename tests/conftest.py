"""Shared fixtures.  Integration tests need root; they skip (with the reason) when not root."""

from __future__ import annotations

import atexit
import copy
import hashlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYRT = ROOT / ".venv" / "bin" / "pyrt"
BUSYBOX = ROOT / "bundles" / "busybox"
BUNDLE_ROOTFS = BUSYBOX / "rootfs"  # what the README's commands use: the suite never writes into it
SHARED = ROOT.parent / "shared"
IS_ROOT = os.geteuid() == 0


def _session_rootfs() -> Path:
    """A copy of the busybox rootfs for this test session's configs (mount points and nodes land in it,
    not in the bundle users run); a directory others may search (user namespaces' roots reach it)."""
    if not BUNDLE_ROOTFS.joinpath("bin", "busybox").exists():
        return BUNDLE_ROOTFS  # missing: the tests that need it skip, naming scripts/setup
    top = Path(tempfile.mkdtemp(prefix="pyrt-tests-"))
    top.chmod(0o755)
    subprocess.run(["cp", "-a", str(BUNDLE_ROOTFS), str(top / "rootfs")], check=True)
    pid = os.getpid()

    def remove() -> None:
        if os.getpid() == pid:  # not in a forked child that exits through atexit
            shutil.rmtree(top, ignore_errors=True)

    atexit.register(remove)
    return top / "rootfs"


ROOTFS = _session_rootfs()


def tree_snapshot(top: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry under top (not followed): type and mode, owner, size, link target or content hash."""
    out: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                what: Any = os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as fh:
                    what = hashlib.sha256(fh.read()).hexdigest()
            else:
                what = st.st_rdev
            out[os.path.relpath(path, top)] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, what)
    return out


def busybox_config() -> dict[str, Any]:
    with open(BUSYBOX / "config.json") as fh:
        cfg: dict[str, Any] = json.load(fh)
    cfg["root"]["path"] = str(ROOTFS)
    return cfg


def engine_config(name: str) -> dict[str, Any]:
    """A config.json an engine generated (../shared/engines/NAME.config.json), runnable here: the busybox
    rootfs, bind mounts whose source exists, no hooks."""
    cfg: dict[str, Any] = json.loads((SHARED / "engines" / f"{name}.config.json").read_text())
    cfg["root"]["path"] = str(ROOTFS)
    cfg["mounts"] = [m for m in cfg["mounts"] if m.get("type") != "bind" or os.path.exists(m["source"])]
    cfg.pop("hooks", None)
    return cfg


UNIFIED = Path("/sys/fs/cgroup/cgroup.controllers").exists()  # cgroup2 alone (a standard host), not hybrid
SYSTEMD = Path("/run/systemd/system").is_dir()


def hierarchy_roots() -> list[Path]:
    """Where cgroup hierarchies are mounted: /sys/fs/cgroup itself on a cgroup2 host, its folders here."""
    root = Path("/sys/fs/cgroup")
    return [root] if UNIFIED else [base for base in root.iterdir() if base.is_dir()]


def cgroup_dirs(cid: str) -> list[str]:
    """Every cgroup directory on the host whose name is this container id (a systemd scope's too)."""
    out = []
    for base in hierarchy_roots():
        for d in (base / "pyrt" / cid, base / "pyrt-test" / cid, base / "system.slice" / f"pyrt-{cid}.scope"):
            if d.exists():
                out.append(str(d))
    return out


def default_parents() -> set[str]:
    """pyrt's shared default parent (/pyrt) in each hierarchy, where it exists."""
    return {str(base / "pyrt") for base in hierarchy_roots() if (base / "pyrt").is_dir()}


def clear_default_parents() -> None:
    """rmdir pyrt's /pyrt parents (they stay after their last container) for a test that checks a
    failed create removes the ones it made; skips the test while some container still uses them."""
    for parent in default_parents():
        if any(d.is_dir() for d in Path(parent).iterdir()):
            pytest.skip(f"{parent} holds a container")
        os.rmdir(parent)


def host_mounts() -> set[str]:
    """Mount points of the host, but /run/netns: the first `ip netns add` after boot (tests that join a
    named network namespace run it) makes that shared bind mount and iproute2 keeps it; pyrt never
    mounts there.  On a fresh machine it made the first such test fail its leak check."""
    with open("/proc/self/mountinfo") as fh:
        return {line.split()[4] for line in fh} - {"/run/netns"}


class Runtime:
    """Runs the real CLI against a private --root and checks that nothing is left behind."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.root = tmp / "state"
        self.ids: list[str] = []

    def new_id(self, prefix: str = "t") -> str:
        cid = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.ids.append(cid)
        return cid

    def bundle(self, cfg: dict[str, Any] | None = None, name: str | None = None, **process: Any) -> Path:
        cfg = copy.deepcopy(cfg) if cfg is not None else busybox_config()
        cfg.setdefault("process", {}).update(process)
        d = self.tmp / (name or f"bundle-{uuid.uuid4().hex[:6]}")
        d.mkdir()
        (d / "config.json").write_text(json.dumps(cfg))
        return d

    def __call__(self, *args: str, check: bool = False, timeout: float = 60, stdin: Any = subprocess.DEVNULL,
                 input: str | None = None, **kw: Any) -> subprocess.CompletedProcess[str]:
        # Files, not pipes: `create` and `run -d` leave the container holding the caller's stdio,
        # and a pipe would not reach EOF until the container exits.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.run([str(PYRT), "--root", str(self.root), *args], stdout=out, stderr=err,
                                  timeout=timeout, stdin=None if input is not None else stdin,
                                  input=input.encode() if input is not None else None, **kw)
            out.seek(0)
            err.seek(0)
            res = subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read())
        if check and res.returncode != 0:
            raise AssertionError(f"pyrt {' '.join(args)} -> {res.returncode}\n{res.stdout}\n{res.stderr}")
        return res

    def state(self, cid: str) -> dict[str, Any]:
        res = self(*["state", cid], check=True)
        out: dict[str, Any] = json.loads(res.stdout)
        return out

    def wait_status(self, cid: str, status: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.state(cid)["status"] == status:
                return
            reap()
            time.sleep(0.02)
        raise AssertionError(f"{cid} never reached {status}: {self.state(cid)}")

    def leftovers(self) -> list[str]:
        problems = []
        if self.root.exists():
            problems += [f"state dir {p}" for p in self.root.iterdir()]
        for cid in self.ids:
            problems += [f"cgroup {d}" for d in cgroup_dirs(cid)]
        if self.ids and SYSTEMD:
            units = subprocess.run(["systemctl", "list-units", "--all", "--plain", "--no-legend"],
                                   capture_output=True, text=True).stdout
            problems += [f"systemd unit {line.split()[0]}" for line in units.splitlines()
                         if any(cid in line for cid in self.ids)]
        return problems


def _test_cgroup_parents() -> set[str]:
    """/pyrt-test, the parent the tests' cgroupsPath values share, in each hierarchy where it exists:
    whoever makes it (pyrt for a container, or a test by hand) removes it again."""
    return {str(base / "pyrt-test") for base in hierarchy_roots() if (base / "pyrt-test").is_dir()}


def reap() -> None:
    """The test process is a child subreaper: collect the inits it inherited."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


@pytest.fixture(scope="session", autouse=True)
def _bundle_rootfs_untouched() -> Iterator[None]:
    """The bundle users run stays as scripts/setup built it: nothing the suite does changes it."""
    before = tree_snapshot(BUNDLE_ROOTFS) if BUNDLE_ROOTFS.is_dir() else {}
    yield
    after = tree_snapshot(BUNDLE_ROOTFS) if BUNDLE_ROOTFS.is_dir() else {}
    changed = sorted({k for k in before.keys() | after.keys() if before.get(k) != after.get(k)})
    assert not changed, f"the suite changed {BUNDLE_ROOTFS}: {changed[:12]}"


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never fill the host's /var/cache/pyrt."""
    os.environ["PYRT_CACHE_DIR"] = str(tmp_path_factory.mktemp("pyrt-cache"))


@pytest.fixture(scope="session", autouse=True)
def _subreaper() -> None:
    if IS_ROOT:
        import prctl

        prctl.set_child_subreaper(True)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    if not IS_ROOT:
        pytest.skip("needs root: runs real containers")
    if not ROOTFS.joinpath("bin", "busybox").exists():
        pytest.skip("bundles/busybox/rootfs is missing: run scripts/setup")
    before = host_mounts()
    test_parents = _test_cgroup_parents()
    runtime = Runtime(tmp_path)
    yield runtime
    reap()
    left = runtime.leftovers()  # before cleaning up: a test must not rely on this fixture to clean
    left += [f"cgroup {d}" for d in sorted(_test_cgroup_parents() - test_parents)]
    new_mounts = host_mounts() - before
    for cid in runtime.ids:
        runtime("delete", "--force", cid)
    reap()
    assert not left, f"left behind: {left}"
    assert not new_mounts, f"mounts left on the host: {new_mounts}"


def schema_validator(name: str) -> Any:
    """A Draft 4 validator for one of ../shared/runtime-spec-schema/*.json, references resolved."""
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    from referencing.jsonschema import DRAFT4

    schema_dir = SHARED / "runtime-spec-schema"
    if not schema_dir.exists():
        pytest.skip("../shared/runtime-spec-schema not present")
    registry = referencing.Registry()
    for f in schema_dir.glob("*.json"):
        resource = referencing.Resource.from_contents(json.loads(f.read_text()), default_specification=DRAFT4)
        registry = registry.with_resource(f.name, resource)
    schema = json.loads((schema_dir / name).read_text())
    return jsonschema.Draft4Validator(schema, registry=registry)
