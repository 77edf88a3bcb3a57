"""Compile an OCI ``linux.seccomp`` section into classic-BPF bytes with libseccomp.

Runs in the parent, before anything is forked: a bad action, op, arch or flag is
a SpecError naming the JSON path.  Unknown syscall names are skipped with a debug
message (libseccomp's pseudo-syscalls, below -1, are real and kept).  As runc
does, the program is prefixed with a stub that answers ENOSYS, not the default
errno, for syscalls newer than anything the profile names, so libc falls back
instead of failing.  The result is plain data, cached by a hash of everything
that shapes it, so a cache hit needs neither libseccomp nor pyseccomp:

    {"bpf": bytes, "flags": int, "listener": {"path", "metadata"} | None, "notify": bool}
"""

from __future__ import annotations

import errno
import json
import os
from typing import Any

from pyrt.common import cache
from pyrt.common.errors import SpecError
from pyrt.common.jsonread import Reader, check_int
from pyrt.seccomp import bpf

ARCHES = {
    "SCMP_ARCH_X86": "X86", "SCMP_ARCH_X86_64": "X86_64", "SCMP_ARCH_X32": "X32",
    "SCMP_ARCH_ARM": "ARM", "SCMP_ARCH_AARCH64": "AARCH64", "SCMP_ARCH_MIPS": "MIPS",
    "SCMP_ARCH_MIPS64": "MIPS64", "SCMP_ARCH_MIPS64N32": "MIPS64N32", "SCMP_ARCH_MIPSEL": "MIPSEL",
    "SCMP_ARCH_MIPSEL64": "MIPSEL64", "SCMP_ARCH_MIPSEL64N32": "MIPSEL64N32", "SCMP_ARCH_PPC": "PPC",
    "SCMP_ARCH_PPC64": "PPC64", "SCMP_ARCH_PPC64LE": "PPC64LE", "SCMP_ARCH_S390": "S390",
    "SCMP_ARCH_S390X": "S390X", "SCMP_ARCH_PARISC": "PARISC", "SCMP_ARCH_PARISC64": "PARISC64",
    "SCMP_ARCH_RISCV64": "RISCV64",
}
OPS = {
    "SCMP_CMP_NE": "NE", "SCMP_CMP_LT": "LT", "SCMP_CMP_LE": "LE", "SCMP_CMP_EQ": "EQ",
    "SCMP_CMP_GE": "GE", "SCMP_CMP_GT": "GT", "SCMP_CMP_MASKED_EQ": "MASKED_EQ",
}
ACTIONS = ("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS",
           "SCMP_ACT_TRAP", "SCMP_ACT_TRACE", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY")
FLAG_TSYNC, FLAG_LOG, FLAG_SPEC_ALLOW, FLAG_NEW_LISTENER, FLAG_WAIT_KILLABLE_RECV = 1, 2, 4, 8, 32
FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": FLAG_TSYNC,
    "SECCOMP_FILTER_FLAG_LOG": FLAG_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": FLAG_SPEC_ALLOW,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": FLAG_WAIT_KILLABLE_RECV,
}
# Default actions under which a newer syscall must not turn into ENOSYS (runc skips the stub too).
_NO_STUB = ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_NOTIFY")
_STUB_ARCHES = {"X86_64": "x86_64", "X32": "x32", "X86": "x86"}


def _action(ps: Any, name: str, errno_ret: int | None, path: str) -> int:
    if name not in ACTIONS:
        raise SpecError(path, f"unknown action {name!r}")
    if name == "SCMP_ACT_ERRNO":
        return int(ps.ERRNO(errno.EPERM if errno_ret is None else errno_ret))
    if name == "SCMP_ACT_TRACE":
        return int(ps.TRACE(errno.EPERM if errno_ret is None else errno_ret))
    return int({"SCMP_ACT_ALLOW": ps.ALLOW, "SCMP_ACT_KILL": ps.KILL_THREAD,
                "SCMP_ACT_KILL_THREAD": ps.KILL_THREAD, "SCMP_ACT_KILL_PROCESS": ps.KILL_PROCESS,
                "SCMP_ACT_TRAP": ps.TRAP, "SCMP_ACT_LOG": ps.LOG, "SCMP_ACT_NOTIFY": ps.NOTIFY}[name])


_compiled: dict[str, dict[str, Any]] = {}  # entries this process compiled, or was handed (remember)


def section_key(section: dict[str, Any]) -> str:
    return cache.key("bpf", json.dumps(section, sort_keys=True), cache.code_stamp(), cache.host_stamp())


def cached(k: str) -> dict[str, Any] | None:
    """The entry ({"result", "debug"}) for this key from this process or the BPF cache, if sound."""
    hit = _compiled.get(k) or cache.get("bpf", k)
    if isinstance(hit, dict) and isinstance(hit.get("result"), dict) and isinstance(hit["result"].get("bpf"), bytes):
        return hit
    return None


def compiled(section: dict[str, Any], path: str) -> tuple[str, dict[str, Any]]:
    """(key, entry): validated and compiled, through the BPF cache."""
    k = section_key(section)
    hit = cached(k)
    if hit is not None:
        return k, hit
    notes: list[str] = []
    entry = {"result": _compile(section, path, notes), "debug": notes}
    remember(k, entry)
    cache.put("bpf", k, entry)
    return k, entry


def remember(k: str, entry: dict[str, Any]) -> None:
    """An entry compiled elsewhere (a forked child: planning/bundle.py), for this process's compile_section."""
    _compiled[k] = entry


def compile_section(section: dict[str, Any], path: str, debug: list[str] | None = None) -> dict[str, Any]:
    """Validate and compile, through the BPF cache."""
    _k, entry = compiled(section, path)
    if debug is not None:
        debug.extend(entry.get("debug", []))
    return dict(entry["result"])


def _compile(section: dict[str, Any], path: str, debug: list[str]) -> dict[str, Any]:
    from pyrt.seccomp.binding import load

    ps = load()
    r = Reader(section, path)
    default_name = r.string("defaultAction", required=True) or ""
    if default_name == "SCMP_ACT_NOTIFY":
        raise SpecError(r.at("defaultAction"), "SCMP_ACT_NOTIFY cannot be the default action (as in runc)")
    default_errno = r.integer("defaultErrnoRet", lo=0, hi=4095)
    if default_errno is not None and default_name not in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        raise SpecError(r.at("defaultErrnoRet"), f"{default_name} takes no errno")
    default = _action(ps, default_name, default_errno, r.at("defaultAction"))
    flags = 0
    if section.get("flags") is not None:
        for i, name in enumerate(r.strs("flags")):
            fpath = f"{r.at('flags')}[{i}]"
            if name not in FLAGS:
                raise SpecError(fpath, f"unknown or unsupported seccomp flag {name!r}")
            flags |= FLAGS[name]
    else:
        flags = FLAG_SPEC_ALLOW  # runc's default when flags are not given
    arches: list[tuple[str, int]] = []
    for i, name in enumerate(r.strs("architectures")):
        apath = f"{r.at('architectures')}[{i}]"
        if name not in ARCHES:
            raise SpecError(apath, f"unknown architecture {name!r}")
        arches.append((ARCHES[name], getattr(ps.Arch, ARCHES[name])))
    rules: list[tuple[int, int, list[Any], str, str]] = []
    notify = False
    for sc in r.objs("syscalls"):
        names = list(sc.strs("names"))
        if sc.has("name"):
            if names:
                raise SpecError(sc.path, "has both \"name\" and \"names\"")
            names = [sc.string("name") or ""]
        if not names:
            raise SpecError(sc.at("names"), "must name at least one syscall")
        action_name = sc.string("action", required=True) or ""
        errno_ret = sc.integer("errnoRet", lo=0, hi=4095)
        if errno_ret is not None and action_name not in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
            raise SpecError(sc.at("errnoRet"), f"{action_name} takes no errno")
        action = _action(ps, action_name, errno_ret, sc.at("action"))
        if action_name == "SCMP_ACT_NOTIFY":
            if "write" in names:
                raise SpecError(sc.at("names"), "SCMP_ACT_NOTIFY on write would deadlock the runtime (as runc "
                                "refuses it)")
            notify = True
        conds = []
        for arg in sc.objs("args"):
            index = arg.integer("index", required=True, lo=0, hi=5)
            op_name = arg.string("op", required=True) or ""
            if op_name not in OPS:
                raise SpecError(arg.at("op"), f"unknown operator {op_name!r}")
            value = check_int(arg.raw("value") or 0, arg.at("value"), 0, 2**64 - 1)
            value_two = check_int(arg.raw("valueTwo") or 0, arg.at("valueTwo"), 0, 2**64 - 1)
            conds.append(ps.Arg(index, getattr(ps, OPS[op_name]), value, value_two))
        if action == default:
            continue  # libseccomp refuses rules that repeat the default action; runc skips them
        for name in names:
            nr = ps.resolve_syscall(ps.Arch.NATIVE, name)
            if nr == -1:
                debug.append(f"seccomp: skipping unknown syscall {name!r} ({sc.path})")
                continue
            rules.append((action, nr, conds, sc.path, name))
    listener = None
    if r.has("listenerPath") or r.has("listenerMetadata"):
        lpath = r.string("listenerPath") or ""
        if not lpath.startswith("/"):
            raise SpecError(r.at("listenerPath"), "must be an absolute path to a unix socket")
        listener = {"path": lpath, "metadata": r.string("listenerMetadata", default="") or ""}
    if notify:
        if listener is None:
            raise SpecError(r.at("listenerPath"), "SCMP_ACT_NOTIFY rules need a listenerPath")
        flags |= FLAG_NEW_LISTENER
    elif flags & FLAG_WAIT_KILLABLE_RECV:
        debug.append("seccomp: WAIT_KILLABLE_RECV dropped: it needs a listener (no SCMP_ACT_NOTIFY rule)")
        flags &= ~FLAG_WAIT_KILLABLE_RECV

    filt = ps.SyscallFilter(default)
    filt.set_attr(ps.Attr.CTL_NNP, 0)  # pyrt sets no_new_privs itself, when the config asks
    for _name, arch in arches:
        try:
            filt.add_arch(arch)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise SpecError(r.at("architectures"), f"cannot add architecture: {exc.strerror}") from None
    if len(rules) > 32:
        filt.set_attr(ps.Attr.CTL_OPTIMIZE, 2)  # binary tree: ~26 ns per argument-checked call, not ~110
    for action, nr, conds, rpath, name in rules:
        try:
            indexes = [c._arg for c in conds]
            if len(set(indexes)) != len(indexes):
                for cond in conds:  # conditions on one argument are alternatives, as in runc
                    filt.add_rule(action, nr, cond)
            else:
                filt.add_rule(action, nr, *conds)
        except OSError as exc:
            raise SpecError(rpath, f"libseccomp refused the rule for {name!r}: {exc.strerror}") from None
    program = _export(filt)
    if default_name not in _NO_STUB and not (default_name == "SCMP_ACT_ERRNO" and default_errno == errno.ENOSYS):
        max_nr = _max_numbers(ps, [name for _a, _n, _c, _p, name in rules], [a for a, _ in arches])
        if max_nr:
            program = bpf.encode(bpf.enosys_stub(max_nr)) + program
    return {"bpf": program, "flags": flags, "listener": listener, "notify": notify}


def _max_numbers(ps: Any, names: list[str], arches: list[str]) -> dict[str, int]:
    """The highest syscall number the profile names, per x86 architecture of the filter."""
    if not arches:
        arches = ["X86_64"]  # no architectures given: the native one only
    out: dict[str, int] = {}
    for arch in arches:
        if arch not in _STUB_ARCHES:
            continue
        numbers = [ps.resolve_syscall(getattr(ps.Arch, arch), name) for name in names]
        numbers = [n for n in numbers if n >= 0]
        if numbers:
            out[_STUB_ARCHES[arch]] = max(numbers)
    return out


def _export(filt: Any) -> bytes:
    fd = os.memfd_create("pyrt-seccomp", os.MFD_CLOEXEC)
    try:
        with os.fdopen(fd, "w+b", closefd=False) as fh:
            filt.export_bpf(fh)
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
