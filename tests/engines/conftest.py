"""Real engines driving pyrt (and runc, as the control, in the same run).

Every daemon is started here on a private socket and data root and stopped here; nothing
host-wide is left changed: Docker runs with --iptables=false --ip-masq=false on a bridge this
file creates and removes, Podman with --network none and per-run ulimits, containerd on its own
address.  iptables-save is compared before and after.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IS_ROOT, ROOTFS, hierarchy_roots, reap

PYRT_BIN = "/usr/local/bin/pyrt"
RUNTIMES = ["pyrt", "runc"]


def _need(binary: str) -> str:
    if not IS_ROOT:
        pytest.skip("needs root: starts container engines")
    path = shutil.which(binary) or (f"/usr/bin/{binary}" if os.path.exists(f"/usr/bin/{binary}") else None)
    if path is None:
        pytest.skip(f"{binary} is not installed (scripts/test installs docker.io, podman and containerd)")
    if not os.path.exists(PYRT_BIN):
        pytest.skip(f"{PYRT_BIN} is missing: run scripts/setup")
    return path


def iptables_rules() -> str:
    if shutil.which("iptables-save") is None:
        return ""
    return subprocess.run(["iptables-save"], capture_output=True, text=True).stdout


@pytest.fixture(scope="session", autouse=True)
def _host_firewall_unchanged() -> Iterator[None]:
    before = iptables_rules()
    yield
    def strip(text: str) -> str:
        return "\n".join(line for line in text.splitlines() if not line.startswith("#"))

    assert strip(iptables_rules()) == strip(before), "an engine test changed the host's iptables rules"


def rootfs_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(ROOTFS), arcname=".")
    return buf.getvalue()


class Engine:
    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.env = env

    def __call__(self, *args: str, check: bool = True, timeout: float = 120, input: bytes | None = None,
                 tty: bool = False) -> subprocess.CompletedProcess[str]:
        cmd = [*self.argv, *args]
        if tty:  # a terminal for -t flows, as a person's shell would give
            cmd = ["script", "-qec", " ".join(_quote(c) for c in cmd), "/dev/null"]
        res = subprocess.run(cmd, capture_output=True, timeout=timeout, input=input, env=self.env)
        out = subprocess.CompletedProcess(cmd, res.returncode, res.stdout.decode(errors="replace"),
                                          res.stderr.decode(errors="replace"))
        if check and out.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} -> {out.returncode}\n{out.stdout}\n{out.stderr}")
        return out


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _wait_for(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    time.sleep(0.2)
    reap()  # shims and conmons the daemons left to us (the test process is a subreaper)


def _umount_below(path: Path) -> None:
    with open("/proc/self/mountinfo") as fh:
        points = [line.split()[4] for line in fh if line.split()[4].startswith(str(path))]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


@contextlib.contextmanager
def dockerd(d: Path, **config: Any) -> Iterator[Engine]:
    """A private dockerd (its own socket, data and exec roots, bridge), with pyrt as a runtime and the
    busybox image; config adds to daemon.json (e.g. exec-opts for the cgroup driver)."""
    binary = _need("dockerd")
    client = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else _need("docker")
    bridge = f"pyrtbr{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", "172.31.213.1/24", "dev", bridge], check=True)
    subprocess.run(["ip", "link", "set", bridge, "up"], check=True)
    config = {"storage-driver": "overlay2", "runtimes": {"pyrt": {"path": PYRT_BIN}},
              "iptables": False, "ip-masq": False, "bridge": bridge, **config}
    (d / "daemon.json").write_text(json.dumps(config))
    sock = d / "docker.sock"
    proc = subprocess.Popen([binary, "--config-file", str(d / "daemon.json"), "--data-root", str(d / "data"),
                             "--exec-root", str(d / "exec"), "--pidfile", str(d / "docker.pid"),
                             "-H", f"unix://{sock}"], stdout=open(d / "dockerd.log", "wb"), stderr=subprocess.STDOUT)
    try:
        _wait_for(sock, timeout=120)
        engine = Engine([client, "-H", f"unix://{sock}"])
        for _ in range(300):
            if engine("version", check=False).returncode == 0:
                break
            time.sleep(0.2)
        engine("import", "-", "bb", input=rootfs_tar())
        yield engine
    finally:
        _stop(proc)
        _umount_below(d)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)
        _remove_cgroup_parent("docker")


@pytest.fixture(scope="session")
def docker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with dockerd(tmp_path_factory.mktemp("docker")) as engine:
        yield engine


def _remove_cgroup_parent(name: str) -> None:
    """The engines' cgroup parents (/docker, /libpod_parent, /default): removed when empty."""
    for base in hierarchy_roots():
        for d in sorted((base / name).glob("**/"), key=lambda p: len(str(p)), reverse=True):
            try:
                d.rmdir()
            except OSError:
                pass


def unshare_demo(docker: Engine, rt: str) -> None:
    """The seed article's demo, verbatim: Docker's default profile blocks unshare, unconfined lets it through."""
    res = docker("run", "--rm", f"--runtime={rt}", "bb", "unshare", "--user", "sh", "-c", "id", check=False)
    assert res.returncode == 1 and "Operation not permitted" in res.stderr
    res = docker("run", "--rm", f"--runtime={rt}", "--security-opt", "seccomp=unconfined", "bb",
                 "unshare", "--user", "sh", "-c", "id")
    assert res.stdout.startswith("uid=65534(nobody)")


def kill_task(ctr: Engine, name: str, timeout: float = 10) -> None:
    """SIGKILL a ctr task and wait until ctr lists it stopped."""
    ctr("task", "kill", "--signal", "SIGKILL", name)
    deadline = time.monotonic() + timeout
    while "STOPPED" not in ctr("task", "ls").stdout and time.monotonic() < deadline:
        time.sleep(0.1)


def container_name() -> str:
    return f"pt{uuid.uuid4().hex[:8]}"


Flow = Any


def podman_engine(d: Path, manager: str = "cgroupfs") -> Engine:
    """Podman on private storage with a cgroup manager (cgroupfs here; systemd on a standard host)."""
    engine = Engine([_need("podman"), "--root", str(d / "storage"), "--runroot", str(d / "run"), "--tmpdir",
                     str(d / "tmp"), "--cgroup-manager", manager, "--events-backend", "file"])
    engine("import", "-", "localhost/bb", input=rootfs_tar())
    return engine


def podman_cleanup(engine: Engine, d: Path) -> None:
    engine("rm", "-a", "-f", check=False)
    engine("system", "reset", "--force", check=False)
    _umount_below(d)
    _remove_cgroup_parent("libpod_parent")


@pytest.fixture(scope="session")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    d = tmp_path_factory.mktemp("podman")
    engine = podman_engine(d)
    try:
        yield engine
    finally:
        podman_cleanup(engine, d)


# Podman's rootful default ulimits (1048576) need CAP_SYS_RESOURCE, which root lacks on this machine.
PODMAN_RUN = ["--network", "none", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]


def oci_archive() -> bytes:
    """An OCI image layout of the busybox rootfs, named docker.io/library/bb:latest."""
    import hashlib

    def blob(data: bytes) -> tuple[str, bytes]:
        return "sha256:" + hashlib.sha256(data).hexdigest(), data

    layer_digest, layer = blob(rootfs_tar())
    config = {"architecture": "amd64", "os": "linux", "config": {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                                                                   "Cmd": ["sh"]},
              "rootfs": {"type": "layers", "diff_ids": [layer_digest]}}
    config_digest, config_bytes = blob(json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                           "size": len(config_bytes)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest,
                            "size": len(layer)}]}
    manifest_digest, manifest_bytes = blob(json.dumps(manifest).encode())
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
        "size": len(manifest_bytes), "annotations": {"io.containerd.image.name": "docker.io/library/bb:latest",
                                                      "org.opencontainers.image.ref.name": "latest"}}]}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        files = {"oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
                 "index.json": json.dumps(index).encode()}
        for digest, data in ((layer_digest, layer), (config_digest, config_bytes), (manifest_digest, manifest_bytes)):
            files[f"blobs/sha256/{digest.split(':')[1]}"] = data
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture(scope="session")
def ctr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    containerd = _need("containerd")
    binary = _need("ctr")
    d = tmp_path_factory.mktemp("containerd")
    sock = d / "containerd.sock"
    (d / "config.toml").write_text(
        f'version = 2\nroot = "{d}/root"\nstate = "{d}/state"\n'
        f'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{sock}"\n[ttrpc]\n  address = "{sock}.ttrpc"\n'
        f'[debug]\n  address = "{d}/debug.sock"\n')
    proc = subprocess.Popen([containerd, "--config", str(d / "config.toml")], stdout=open(d / "containerd.log", "wb"),
                            stderr=subprocess.STDOUT)
    try:
        _wait_for(sock)
        engine = Engine([binary, "--address", str(sock)])
        (d / "bb.tar").write_bytes(oci_archive())
        engine("images", "import", str(d / "bb.tar"))
        yield engine
    finally:
        _stop(proc)
        _umount_below(d)
        _remove_cgroup_parent("default")
