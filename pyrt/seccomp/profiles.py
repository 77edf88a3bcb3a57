"""Seccomp profiles in Docker's format, rendered into OCI ``linux.seccomp`` sections.

Docker's format adds, to the OCI section, an ``archMap`` (the native architecture
and its sub-architectures) and per-entry ``includes``/``excludes`` conditions on
capabilities, architectures and the kernel version.  ``render`` applies dockerd's
rules for one container: an entry is dropped when ``excludes.arches`` names the
native arch, *any* of ``excludes.caps`` is in the bounding set, or the kernel is
at least ``excludes.minKernel``; or when ``includes.arches`` lacks the native
arch, *not all* of ``includes.caps`` are in the bounding set, or the kernel is
older than ``includes.minKernel``.  An OCI section passes through unchanged.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from pyrt.common.errors import SpecError
from pyrt.common.jsonread import Reader

DOCKER_DEFAULT_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
)
# libseccomp architecture -> the name Docker's includes/excludes use (Go's GOARCH, libseccomp-golang's).
GO_ARCH = {
    "SCMP_ARCH_X86_64": "amd64", "SCMP_ARCH_X86": "x86", "SCMP_ARCH_X32": "x32", "SCMP_ARCH_AARCH64": "arm64",
    "SCMP_ARCH_ARM": "arm", "SCMP_ARCH_PPC64LE": "ppc64le", "SCMP_ARCH_PPC64": "ppc64", "SCMP_ARCH_PPC": "ppc",
    "SCMP_ARCH_S390X": "s390x", "SCMP_ARCH_S390": "s390", "SCMP_ARCH_RISCV64": "riscv64",
    "SCMP_ARCH_MIPS": "mips", "SCMP_ARCH_MIPSEL": "mipsel", "SCMP_ARCH_MIPS64": "mips64",
    "SCMP_ARCH_MIPSEL64": "mipsel64", "SCMP_ARCH_MIPS64N32": "mips64n32", "SCMP_ARCH_MIPSEL64N32": "mipsel64n32",
    "SCMP_ARCH_LOONGARCH64": "loong64",
}
_ALIASES = {"x86_64": "SCMP_ARCH_X86_64", "amd64": "SCMP_ARCH_X86_64", "i386": "SCMP_ARCH_X86", "386": "SCMP_ARCH_X86",
            "arm64": "SCMP_ARCH_AARCH64", "aarch64": "SCMP_ARCH_AARCH64"}


def arch_name(text: str) -> str:
    """x86_64, amd64 and SCMP_ARCH_X86_64 alike -> SCMP_ARCH_X86_64."""
    t = text.strip()
    if t.upper().startswith("SCMP_ARCH_"):
        name = t.upper()
    else:
        name = _ALIASES.get(t.lower()) or next((k for k, v in GO_ARCH.items() if v == t.lower()), "")
    if name not in GO_ARCH:
        raise SpecError("--arch", f"unknown architecture {text!r}")
    return name


def host_arch() -> str:
    return arch_name(os.uname().machine)


def cap_names(text: str) -> tuple[str, ...]:
    """CHOWN,cap_kill,CAP_SYS_ADMIN -> ("CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"); empty text -> ()."""
    from pyrt.common.caps import CAP_NUMBERS, canonical

    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name = canonical(part)
        if name not in CAP_NUMBERS:
            raise SpecError("--caps", f"unknown capability {part!r}")
        out.append(name)
    return tuple(out)


def kernel_version() -> tuple[int, int]:
    release = os.uname().release
    parts = release.split(".")
    return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)


def _version(text: str, path: str) -> tuple[int, int]:
    try:
        major, minor = text.split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        raise SpecError(path, f"expected a kernel version like 4.8, got {text!r}") from None


def render(profile: dict[str, Any], caps: tuple[str, ...] | set[str], arch: str | None = None,
           kernel: tuple[int, int] | None = None, path: str = "") -> dict[str, Any]:
    """A Docker-format (or OCI) profile rendered for one container, as an OCI linux.seccomp section."""
    arch = arch or host_arch()
    kernel = kernel or kernel_version()
    goarch = GO_ARCH[arch]
    caps = set(caps)
    r = Reader(profile, path)
    if r.has("architectures") and r.has("archMap"):
        raise SpecError(r.at("archMap"), "give either architectures or archMap, not both")
    out: dict[str, Any] = {k: copy.deepcopy(v) for k, v in profile.items()
                           if k not in ("archMap", "syscalls", "architectures")}
    if r.has("archMap"):
        arches: list[str] = []
        for m in r.objs("archMap"):
            if m.string("architecture") == arch:
                arches = [arch, *m.strs("subArchitectures")]
        out["architectures"] = arches or [arch]
    elif r.has("architectures"):
        out["architectures"] = list(r.strs("architectures"))
    syscalls = []
    for sc in r.objs("syscalls"):
        if sc.has("name") and sc.has("names"):
            raise SpecError(sc.path, 'has both "name" and "names"')
        inc = sc.obj("includes") or Reader({}, sc.at("includes"))
        exc = sc.obj("excludes") or Reader({}, sc.at("excludes"))
        if goarch in exc.strs("arches") or caps & set(exc.strs("caps")):
            continue
        if exc.has("minKernel") and kernel >= _version(exc.string("minKernel") or "", exc.at("minKernel")):
            continue
        if inc.strs("arches") and goarch not in inc.strs("arches"):
            continue
        if not set(inc.strs("caps")) <= caps:
            continue
        if inc.has("minKernel") and kernel < _version(inc.string("minKernel") or "", inc.at("minKernel")):
            continue
        entry: dict[str, Any] = {"names": list(sc.strs("names")) or [sc.string("name") or ""],
                                 "action": sc.string("action", required=True)}
        for key in ("errnoRet", "args"):
            if sc.has(key):
                entry[key] = copy.deepcopy(sc.raw(key))
        syscalls.append(entry)
    out["syscalls"] = syscalls
    return out


def docker_default() -> dict[str, Any]:
    from pyrt.seccomp.docker_data import PROFILE

    return copy.deepcopy(PROFILE)


def load(source: str) -> dict[str, Any]:
    """A profile from the word ``default`` or a file: a Docker-format profile, an OCI section, or a
    whole config.json (its linux.seccomp)."""
    if source == "default":
        return docker_default()
    from pyrt.common.jsonread import parse_json_bytes

    try:
        with open(source, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise SpecError("", f"{source}: {exc.strerror}") from None
    data = parse_json_bytes(raw, source)
    if not isinstance(data, dict):
        raise SpecError("", f"{source}: expected a JSON object")
    if "ociVersion" in data or ("linux" in data and "defaultAction" not in data):
        section = (data.get("linux") or {}).get("seccomp")
        if not isinstance(section, dict):
            raise SpecError("", f"{source}: the config has no linux.seccomp section")
        return section
    if "defaultAction" not in data:
        raise SpecError("", f"{source}: not a seccomp profile (no defaultAction)")
    return data
