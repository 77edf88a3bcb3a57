"""Compile an OCI ``linux.seccomp`` section into classic-BPF bytes with libseccomp.

Runs in the parent, before anything is forked: a bad action, op, arch or flag is
a SpecError naming the JSON path.  The result is plain data
(``{"bpf": bytes, "flags": int}``) that the child loads with seccomp(2).
pyseccomp is imported here only, so commands that need no filter never pay for it.
"""

from __future__ import annotations

import errno
import os
from typing import Any

from pyrt.errors import SpecError
from pyrt.jsonread import Reader, check_int

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
ACTIONS = ("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD",
           "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP", "SCMP_ACT_TRACE", "SCMP_ACT_LOG")
FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": 1,
    "SECCOMP_FILTER_FLAG_LOG": 2,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
}
FLAG_SPEC_ALLOW = 4


def _action(ps: Any, name: str, errno_ret: int | None, path: str) -> int:
    if name == "SCMP_ACT_NOTIFY":
        raise SpecError(path, "SCMP_ACT_NOTIFY is not supported by this version of pyrt")
    if name not in ACTIONS:
        raise SpecError(path, f"unknown action {name!r}")
    if name == "SCMP_ACT_ERRNO":
        return int(ps.ERRNO(errno.EPERM if errno_ret is None else errno_ret))
    if name == "SCMP_ACT_TRACE":
        return int(ps.TRACE(errno.EPERM if errno_ret is None else errno_ret))
    return int({"SCMP_ACT_ALLOW": ps.ALLOW, "SCMP_ACT_KILL": ps.KILL_THREAD,
                "SCMP_ACT_KILL_THREAD": ps.KILL_THREAD, "SCMP_ACT_KILL_PROCESS": ps.KILL_PROCESS,
                "SCMP_ACT_TRAP": ps.TRAP, "SCMP_ACT_LOG": ps.LOG}[name])


def compile_section(section: dict[str, Any], path: str, debug: list[str] | None = None) -> dict[str, Any]:
    """Validate and compile; returns {"bpf": bytes, "flags": int}."""
    import pyseccomp as ps

    r = Reader(section, path)
    default_name = r.string("defaultAction", required=True) or ""
    default_errno = r.integer("defaultErrnoRet", lo=0, hi=4095)
    default = _action(ps, default_name, default_errno, r.at("defaultAction"))
    flags = 0
    if "flags" in section and section["flags"] is not None:
        for name, fpath in r.array("flags"):
            if name not in FLAGS:
                raise SpecError(fpath, f"unknown or unsupported seccomp flag {name!r}")
            flags |= FLAGS[name]
    else:
        flags = FLAG_SPEC_ALLOW  # runc's default when flags are not given
    if r.has("listenerPath") or r.has("listenerMetadata"):
        raise SpecError(r.at("listenerPath"), "seccomp listeners are not supported by this version of pyrt")
    arches = []
    for name, apath in r.array("architectures"):
        if name not in ARCHES:
            raise SpecError(apath, f"unknown architecture {name!r}")
        arches.append(getattr(ps.Arch, ARCHES[name]))
    rules: list[tuple[int, int, list[Any], str]] = []
    for _i, sc in enumerate(r.objs("syscalls")):
        names = list(sc.strs("names"))
        if sc.has("name"):
            if names:
                raise SpecError(sc.path, "has both \"name\" and \"names\"")
            names = [sc.string("name") or ""]
        action_name = sc.string("action", required=True) or ""
        action = _action(ps, action_name, sc.integer("errnoRet", lo=0, hi=4095), sc.at("action"))
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
            continue  # libseccomp refuses rules that repeat the default action, runc skips them
        for name in names:
            nr = ps.resolve_syscall(ps.Arch.NATIVE, name)
            if nr == -1:
                if debug is not None:
                    debug.append(f"seccomp: skipping unknown syscall {name!r}")
                continue
            rules.append((action, nr, conds, f"{sc.path}"))
    filt = ps.SyscallFilter(default)
    filt.set_attr(ps.Attr.CTL_NNP, 0)  # pyrt sets no_new_privs itself, when the config asks
    for arch in arches:
        try:
            filt.add_arch(arch)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise SpecError(r.at("architectures"), f"cannot add architecture: {exc.strerror}") from None
    if len(rules) > 32:
        filt.set_attr(ps.Attr.CTL_OPTIMIZE, 2)  # binary tree: fewer instructions per syscall
    for action, nr, conds, rpath in rules:
        try:
            indexes = [c._arg for c in conds]
            if len(set(indexes)) != len(indexes):
                for cond in conds:  # conditions on one argument are alternatives, as in runc
                    filt.add_rule(action, nr, cond)
            else:
                filt.add_rule(action, nr, *conds)
        except OSError as exc:
            raise SpecError(rpath, f"libseccomp refused the rule: {exc.strerror}") from None
    fd = os.memfd_create("pyrt-seccomp", os.MFD_CLOEXEC)
    try:
        with os.fdopen(fd, "w+b", closefd=False) as fh:
            filt.export_bpf(fh)
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return {"bpf": b"".join(chunks), "flags": flags}
