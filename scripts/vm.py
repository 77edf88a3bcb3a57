"""The VM lab: a stock Debian 12 host (systemd, cgroup v2, AppArmor, Docker, Podman, containerd, runc,
crun) built from Debian's packages, booted under qemu, running a command on this checkout as root.

    scripts/vm build            build the image (or reuse the cached one) and say where it is
    scripts/vm run [-- CMD...]  boot it, run CMD in a copy of this checkout (default: a shell's `true`),
                                bring back its output and exit status
    scripts/vm test [ARGS...]   boot it and run pytest ARGS there after scripts/setup (default: the lab's
                                CI set; lint and types are the host's business)
    scripts/vm ci               build + the lab's CI set, timed

The image is cached outside the repo (/var/cache/pyrt-lab/<recipe hash>/), keyed by everything that
shapes it: the package list, the guest's hooks, and the Python packages of pyproject.toml (installed
into the guest's .venv at build time from wheels built here, so the guest needs no network).  Each
boot starts from the pristine image (qemu's snapshot mode); the checkout goes in as a tar on a second
disk, and the results come back as a tar on a third: no shared file system, no network.

Acceleration: KVM when PYRT_LAB_ACCEL=kvm (a nested KVM guest hangs after its bootloader on the
machine this was built on), else software emulation (TCG: ~10-50x slower); the output says which.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("PYRT_LAB_CACHE", "/var/cache/pyrt-lab")
SUITE = "bookworm"
# A standard Debian 12 server with the engines, plus what pyrt's set-up and tests use.
PACKAGES = [
    "systemd", "systemd-sysv", "udev", "dbus", "kmod", "linux-image-amd64", "initramfs-tools", "e2fsprogs",
    "procps", "iproute2", "iptables", "util-linux", "ca-certificates", "less",
    "apparmor", "apparmor-utils", "docker.io", "podman", "containerd", "runc", "crun",
    "uidmap", "libpam-systemd", "dbus-user-session", "slirp4netns", "fuse-overlayfs",
    "python3.11", "python3.11-venv", "python3.11-dev", "gcc", "libc6-dev", "libcap-dev", "libseccomp2",
    "busybox-static", "containernetworking-plugins", "bsdutils", "git",
]
# The guest's boot hook: take the checkout from /dev/vdb, run its scripts/vm-guest, power off.
GUEST_BOOT = """#!/bin/sh
mkdir -p /opt/pyrt && tar -xf /dev/vdb -C /opt/pyrt && exec /opt/pyrt/scripts/vm-guest
echo "pyrt-lab: no checkout on /dev/vdb" > /dev/ttyS0
systemctl poweroff
"""
GUEST_UNIT = """[Unit]
Description=pyrt lab: run the command that came with the checkout on /dev/vdb
ConditionPathExists=/dev/vdb
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/pyrt-lab
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0

[Install]
WantedBy=multi-user.target
"""
KERNEL_ARGS = "root=/dev/vda rw console=ttyS0 quiet loglevel=3 systemd.show_status=0 net.ifnames=0"


def log(msg: str) -> None:
    print(f"vm: {msg}", file=sys.stderr, flush=True)


def python_requirements() -> list[str]:
    """pyrt's dependencies and its test extra, from pyproject.toml."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as fh:
        project = tomllib.load(fh)["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["test"], "setuptools>=61", "wheel"]


def recipe_hash() -> str:
    h = hashlib.sha256()
    for part in (SUITE, *PACKAGES, GUEST_BOOT, GUEST_UNIT, KERNEL_ARGS, *python_requirements()):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:16]


def image_dir() -> str:
    return os.path.join(CACHE, recipe_hash())


def build() -> str:
    """The cached image's directory (root.img, vmlinuz, initrd.img), built first if missing."""
    out = image_dir()
    if os.path.exists(os.path.join(out, "ready")):
        log(f"image {out} (cached)")
        return out
    for tool, pkg in (("mmdebstrap", "mmdebstrap"), ("qemu-system-x86_64", "qemu-system-x86"),
                      ("mkfs.ext4", "e2fsprogs")):
        if shutil.which(tool) is None:
            log(f"installing {pkg}")
            subprocess.run(["apt-get", "install", "-y", "-qq", pkg], check=True, stdout=subprocess.DEVNULL,
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    started = time.monotonic()
    os.makedirs(CACHE, exist_ok=True)
    for old in os.listdir(CACHE):  # images of other recipes (~3 GB each) and builds that were cut short
        log(f"removing {os.path.join(CACHE, old)}")
        shutil.rmtree(os.path.join(CACHE, old), ignore_errors=True)
    work = tempfile.mkdtemp(prefix="build-", dir=CACHE)
    try:
        wheels = os.path.join(work, "wheels")
        log("building the guest's Python wheels here (pyproject.toml's dependencies and test extra)")
        pip = os.path.join(ROOT, ".venv", "bin", "pip")
        if not os.access(pip, os.X_OK):
            subprocess.run([os.path.join(ROOT, "scripts", "setup")], check=True, stdout=subprocess.DEVNULL)
        for argv in ([pip, "install", "-q", "--disable-pip-version-check", "wheel"],  # python-prctl's setup.py
                     [pip, "wheel", "-q", "--disable-pip-version-check", "-w", wheels, *python_requirements()]):
            res = subprocess.run(argv, capture_output=True, text=True)
            noise = "WARNING: Location"  # this machine's pip config names index folders that may be absent
            sys.stderr.write("".join(line for line in res.stderr.splitlines(True) if not line.startswith(noise)))
            if res.returncode != 0:
                raise SystemExit(f"vm: {' '.join(argv[:2])} failed ({res.returncode})")
        for name in ("boot", "unit"):
            with open(os.path.join(work, name), "w") as fh:
                fh.write(GUEST_BOOT if name == "boot" else GUEST_UNIT)
        tree = os.path.join(work, "tree")
        hooks = [
            f'cp -a {wheels} "$1/opt/wheels"',
            f'install -m 0755 {work}/boot "$1/usr/local/sbin/pyrt-lab"',
            f'install -m 0644 {work}/unit "$1/etc/systemd/system/pyrt-lab.service"',
            'chroot "$1" systemctl enable pyrt-lab.service',
            'chroot "$1" passwd -d root',
            'echo pyrt-lab > "$1/etc/hostname"',
            'echo "/dev/vda / ext4 defaults 0 1" > "$1/etc/fstab"',
            # the checkout's .venv, made here at native speed; the guest only unpacks the checkout around it
            'chroot "$1" python3.11 -m venv /opt/pyrt/.venv',
            'chroot "$1" /opt/pyrt/.venv/bin/pip install -q --no-index --find-links /opt/wheels '
            + " ".join(f"'{r}'" for r in python_requirements()),
            'chroot "$1" /opt/pyrt/.venv/bin/python -m compileall -q /opt/pyrt/.venv/lib >/dev/null || true',
            'touch "$1/opt/pyrt/.venv/.pyrt-installed"',
        ]
        log(f"mmdebstrap {SUITE} with {len(PACKAGES)} packages (1-6 min)")
        os.mkdir(tree)
        subprocess.run(["mmdebstrap", "--quiet", "--variant=apt", "--format=directory",
                        "--include=" + ",".join(PACKAGES), *(f"--customize-hook={h}" for h in hooks),
                        SUITE, tree], check=True)
        boot = os.path.join(tree, "boot")
        kernel = sorted(f for f in os.listdir(boot) if f.startswith("vmlinuz-"))[-1]
        initrd = sorted(f for f in os.listdir(boot) if f.startswith("initrd.img-"))[-1]
        stage = os.path.join(work, "image")
        os.mkdir(stage)
        shutil.copy(os.path.join(boot, kernel), os.path.join(stage, "vmlinuz"))
        shutil.copy(os.path.join(boot, initrd), os.path.join(stage, "initrd.img"))
        log("making the root file system (ext4, 12 GiB sparse)")
        subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "pyrt-lab", "-d", tree, os.path.join(stage, "root.img"), "12G"],
                       check=True)
        with open(os.path.join(stage, "ready"), "w") as fh:
            fh.write(f"{kernel}\n")
        os.rename(stage, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"image {out} built in {time.monotonic() - started:.0f} s")
    return out


def checkout_tar(path: str, command: list[str]) -> None:
    """This checkout's files (tracked, and untracked but not ignored), as they are in the work tree,
    plus the command for scripts/vm-guest to run."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.split(b"\0")
    with tarfile.open(path, "w") as tar:
        for name in sorted({n.decode() for n in names if n}):
            full = os.path.join(ROOT, name)
            if os.path.lexists(full):
                tar.add(full, arcname=name, recursive=False)
        data = "\0".join(command).encode()
        info = tarfile.TarInfo(".lab-command")
        info.size = len(data)
        info.mtime = int(time.time())
        tar.addfile(info, io.BytesIO(data))


def accel() -> str:
    return "kvm" if os.environ.get("PYRT_LAB_ACCEL") == "kvm" else "tcg"


def boot(command: list[str], timeout: float, console: str | None = None) -> int:
    """Boot the image, run command in the checkout as root, print its output; its exit status."""
    image = build()
    mode = accel()
    work = tempfile.mkdtemp(prefix="pyrt-lab-")
    try:
        src, out = os.path.join(work, "src.tar"), os.path.join(work, "out.tar")
        checkout_tar(src, command)
        with open(out, "wb") as fh:
            fh.truncate(256 << 20)
        console = console or os.path.join(work, "console.log")
        argv = ["qemu-system-x86_64", "-accel", mode if mode == "kvm" else "tcg,thread=multi",
                "-cpu", "max", "-smp", "2", "-m", "6144",
                "-kernel", os.path.join(image, "vmlinuz"), "-initrd", os.path.join(image, "initrd.img"),
                "-append", KERNEL_ARGS,
                "-drive", f"if=virtio,format=raw,file={image}/root.img,snapshot=on",
                "-drive", f"if=virtio,format=raw,file={src},readonly=on",
                "-drive", f"if=virtio,format=raw,file={out}",
                "-nic", "none", "-display", "none", "-monitor", "none", "-serial", f"file:{console}",
                "-no-reboot"]
        log(f"booting Debian 12 ({mode.upper()}{': software emulation, ~10-50x slower' if mode == 'tcg' else ''}); "
            f"console: {console}")
        started = time.monotonic()
        try:
            qemu = subprocess.run(argv, timeout=timeout, stdin=subprocess.DEVNULL)
            if qemu.returncode != 0:
                log(f"qemu failed (exit {qemu.returncode}); console's last lines:")
                _tail(console)
                return 125
        except subprocess.TimeoutExpired:
            log(f"the VM did not finish within {timeout:.0f} s; console's last lines:")
            _tail(console)
            return 124
        log(f"the VM ran {time.monotonic() - started:.0f} s")
        got: dict[str, bytes] = {}
        try:
            with tarfile.open(out) as tar:
                for name in ("output", "status"):
                    member = tar.extractfile(name)
                    got[name] = member.read() if member else b""
        except (tarfile.TarError, KeyError):
            log("the VM brought nothing back; console's last lines:")
            _tail(console)
            return 125
        sys.stdout.write(got["output"].decode(errors="replace"))
        return int(got["status"].strip() or b"125")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _tail(path: str, lines: int = 40) -> None:
    try:
        with open(path, errors="replace") as fh:
            sys.stderr.write("".join(fh.readlines()[-lines:]))
    except OSError:
        pass


# The lab's part of CI: what only a standard host can show (the tests marked standard_host).
CI_SET = ["-m", "standard_host or rootless", "tests"]
PYTEST = 'scripts/setup > /dev/null && exec .venv/bin/python -m pytest -p no:cacheprovider -q -rs "$@"'


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/vm", description="the VM lab (see scripts/vm.py)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="build the image or reuse the cached one")
    run = sub.add_parser("run", help="boot and run a command in the checkout")
    run.add_argument("command", nargs=argparse.REMAINDER)
    test = sub.add_parser("test", help="boot and run pytest ARGS (default: the lab's CI set)")
    test.add_argument("args", nargs=argparse.REMAINDER)
    sub.add_parser("ci", help="the lab's CI set, timed")
    for p in (run, test, sub.choices["ci"]):
        p.add_argument("--timeout", type=float, default=1800, help="seconds the VM may run (default 1800)")
        p.add_argument("--console", help="keep the serial console's log in this file")
    opts = parser.parse_args()
    if os.geteuid() != 0:
        log("needs root (mmdebstrap and the image's files)")
        return 1
    if opts.cmd == "build":
        print(build())
        return 0
    if opts.cmd == "run":
        command = opts.command[1:] if opts.command[:1] == ["--"] else opts.command
        return boot(command or ["true"], opts.timeout, opts.console)
    args = CI_SET if opts.cmd == "ci" or not opts.args else opts.args
    started = time.monotonic()
    code = boot(["bash", "-c", PYTEST, "lab", *args], opts.timeout, opts.console)
    log(f"lab: {time.monotonic() - started:.0f} s in all (image build included), exit {code}")
    return code


if __name__ == "__main__":
    sys.exit(main())
