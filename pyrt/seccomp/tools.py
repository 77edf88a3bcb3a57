"""`pyrt seccomp check | explain | diff`: what a profile decides, before anyone runs it.

Verdicts come from the real filter: the profile is rendered (Docker format ->
OCI), compiled by libseccomp with pyrt's ENOSYS stub, exported, and the BPF is
evaluated by pyrt's classic-BPF interpreter over a ``seccomp_data`` built for
the call.  The "why" comes from reading the OCI rules themselves.
"""

from __future__ import annotations

import errno
from typing import Any

from pyrt.common.errors import SpecError
from pyrt.seccomp import bpf, profiles
from pyrt.seccomp.compiler import ARCHES, compile_section

CLONE_FLAGS = {0x00000100: "CLONE_VM", 0x00000200: "CLONE_FS", 0x00000400: "CLONE_FILES",
               0x00000800: "CLONE_SIGHAND", 0x00010000: "CLONE_THREAD", 0x00020000: "CLONE_NEWNS",
               0x02000000: "CLONE_NEWCGROUP", 0x04000000: "CLONE_NEWUTS", 0x08000000: "CLONE_NEWIPC",
               0x10000000: "CLONE_NEWUSER", 0x20000000: "CLONE_NEWPID", 0x40000000: "CLONE_NEWNET",
               0x00000080: "CLONE_NEWTIME"}
SOCKET_FAMILIES = {1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET", 38: "AF_ALG",
                   39: "AF_NFC", 40: "AF_VSOCK", 41: "AF_KCM", 44: "AF_XDP"}
PERSONALITIES = {0: "PER_LINUX", 8: "PER_LINUX32", 0x20000: "UNAME26", 0x20008: "PER_LINUX32|UNAME26",
                 0xFFFFFFFF: "query (0xffffffff)"}
NOTABLE = ("unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "keyctl", "add_key", "request_key",
           "bpf", "perf_event_open", "ptrace", "process_vm_writev", "kexec_load", "init_module", "finit_module",
           "delete_module", "reboot", "swapon", "userfaultfd", "io_uring_setup", "io_uring_enter",
           "open_by_handle_at", "syslog", "clone3", "execve", "execveat", "acct", "settimeofday", "vhangup")
# x86_64 syscalls newer than libseccomp 2.5.4's tables (it knows up to futex_requeue, 456).
NEWER_X86_64 = {"uretprobe": 335, "statmount": 457, "listmount": 458, "lsm_get_self_attr": 459,
                "lsm_set_self_attr": 460, "lsm_list_modules": 461, "mseal": 462, "setxattrat": 463,
                "getxattrat": 464, "listxattrat": 465, "removexattrat": 466}
# Calls the kernel lets through without running any filter (measured on x86_64, kernel 6.18: the
# probe saw SIGILL for uretprobe and ENXIO for uprobe under a filter that denies everything). They
# only do anything when called from the kernel's uprobe trampoline.
KERNEL_PASSTHROUGH_X86_64 = {335: "uretprobe", 336: "uprobe"}
AUDIT = {"SCMP_ARCH_X86_64": "x86_64", "SCMP_ARCH_X86": "x86", "SCMP_ARCH_X32": "x32",
         "SCMP_ARCH_AARCH64": "aarch64", "SCMP_ARCH_ARM": "arm"}


class Compiled:
    """A profile rendered for a container and compiled; decides calls through the BPF interpreter."""

    def __init__(self, source: str, caps: tuple[str, ...], arch: str) -> None:
        self.source = source
        self.arch = arch
        raw = profiles.load(source)
        self.docker_format = "archMap" in raw or any("includes" in s or "excludes" in s
                                                     for s in raw.get("syscalls") or [] if isinstance(s, dict))
        self.section = profiles.render(raw, caps, arch, path="profile")
        compiled = compile_section(self.section, "profile")
        self.program = bpf.decode(compiled["bpf"])
        self.flags = compiled["flags"]
        self.stub_len = _stub_length(self.program)

    def nr(self, name: str, arch: str | None = None) -> int:
        """A syscall's number: a name libseccomp knows, a newer x86_64 name, or a number."""
        from pyrt.seccomp.binding import load

        ps = load()
        arch = arch or self.arch
        if name.isdigit():
            return int(name)
        nr = int(ps.resolve_syscall(getattr(ps.Arch, ARCHES[arch]), name))
        if nr < 0 and arch == "SCMP_ARCH_X86_64":
            nr = NEWER_X86_64.get(name, -1)
        if nr < 0:
            raise SpecError("SYSCALL", f"unknown syscall {name!r} on {arch}")
        return nr

    def name_of(self, nr: int) -> str | None:
        """The syscall number nr names on this profile's architecture, or None (libseccomp does not know it)."""
        from pyrt.seccomp.binding import load

        ps = load()
        try:
            return str(ps.resolve_syscall(getattr(ps.Arch, ARCHES[self.arch]), nr).decode())
        except ValueError:
            return next((n for n, v in NEWER_X86_64.items() if v == nr), None) if self.arch == "SCMP_ARCH_X86_64" \
                else None

    def decide(self, name: str, args: tuple[int, ...] = (), arch: str | None = None) -> tuple[int, int]:
        """(seccomp return value, number of the instruction that returned it)."""
        arch = arch or self.arch
        audit = bpf.AUDIT_ARCH[AUDIT[arch]]
        data = bpf.seccomp_data(self.nr(name, arch), audit, args)
        ret, _steps = bpf.run(self.program, data)
        return ret, _steps

    def stub_decided(self, name: str, args: tuple[int, ...]) -> bool:
        if not self.stub_len:
            return False
        data = bpf.seccomp_data(self.nr(name), bpf.AUDIT_ARCH[AUDIT[self.arch]], args)
        return bpf.run(self.program, data)[0] != bpf.run(self.program[self.stub_len:], data)[0]

    def why(self, name: str, args: tuple[int, ...], ret: int) -> str:
        default = _action_words(self.section.get("defaultAction", ""), self.section.get("defaultErrnoRet"))
        matched = [i for i, rule in enumerate(self.section.get("syscalls") or []) if _matches(rule, name, args)]
        if self.stub_decided(name, args):
            named = (f"; the profile names it (syscalls[{matched[0]}]) but libseccomp does not know it, so that "
                     "rule could not be compiled") if matched else ""
            return (f"{name} (number {self.nr(name)}) is newer than every syscall the filter names: "
                    f"the ENOSYS stub answers, so libc can fall back{named}")
        if matched:
            i = matched[0]
            rule = self.section["syscalls"][i]
            cond = f" with {describe_args(name, rule['args'])}" if rule.get("args") else ""
            return f"syscalls[{i}] ({_action_words(rule['action'], rule.get('errnoRet'))}{cond})"
        rules_for = [i for i, r in enumerate(self.section.get("syscalls") or []) if name in r.get("names", [])]
        if rules_for:
            return (f"no rule for {name} matches these arguments (rules {rules_for}); "
                    f"the default action applies: {default}")
        return f"no rule names {name}: the default action applies: {default}"


def _stub_length(program: list[bpf.Insn]) -> int:
    for i, (code, _jt, _jf, k) in enumerate(program):
        if code == bpf.RET | bpf.K and k == bpf.RET_ERRNO | errno.ENOSYS:
            return i + 1
    return 0


def _action_words(action: str, errno_ret: int | None) -> str:
    short = action.replace("SCMP_ACT_", "")
    if short == "ERRNO":
        code = errno.EPERM if errno_ret is None else errno_ret
        return f"ERRNO({errno.errorcode.get(code, str(code))})"
    if short == "KILL":
        return "KILL_THREAD"
    return short


def _cond(arg_value: int, op: str, value: int, value_two: int) -> bool:
    return {"SCMP_CMP_EQ": arg_value == value, "SCMP_CMP_NE": arg_value != value, "SCMP_CMP_LT": arg_value < value,
            "SCMP_CMP_LE": arg_value <= value, "SCMP_CMP_GT": arg_value > value, "SCMP_CMP_GE": arg_value >= value,
            "SCMP_CMP_MASKED_EQ": arg_value & value == value_two}.get(op, False)


def _matches(rule: dict[str, Any], name: str, args: tuple[int, ...]) -> bool:
    if name not in (rule.get("names") or [rule.get("name")]):
        return False
    conds = rule.get("args") or []
    full = tuple(args) + (0,) * 6
    results = [_cond(full[c["index"]], c["op"], c.get("value", 0), c.get("valueTwo", 0)) for c in conds]
    indexes = [c["index"] for c in conds]
    if len(set(indexes)) != len(indexes):
        return any(results)  # conditions on one argument are alternatives (runc's rule)
    return all(results)


def _flag_names(mask: int) -> str:
    names = [n for bit, n in sorted(CLONE_FLAGS.items()) if mask & bit]
    rest = mask & ~sum(bit for bit in CLONE_FLAGS if mask & bit)
    return "|".join(names + ([hex(rest)] if rest else [])) or "0"


def describe_args(name: str, conds: list[dict[str, Any]]) -> str:
    words = []
    for c in conds:
        v, v2, op, idx = c.get("value", 0), c.get("valueTwo", 0), c["op"].replace("SCMP_CMP_", ""), c["index"]
        sym = {"EQ": "==", "NE": "!=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">="}.get(op, op)
        if name == "clone" and op == "MASKED_EQ" and v2 == 0:
            words.append(f"arg{idx} (flags) has none of {_flag_names(v)}: no new namespaces")
        elif name == "socket" and idx == 0:
            words.append(f"family {sym} {v} ({SOCKET_FAMILIES.get(v, 'family ' + str(v))})")
        elif name == "personality" and idx == 0:
            words.append(f"persona {sym} {PERSONALITIES.get(v, hex(v))}")
        elif op == "MASKED_EQ":
            words.append(f"arg{idx} & {v:#x} == {v2:#x}")
        else:
            words.append(f"arg{idx} {sym} {v:#x}")
    return " and ".join(words)


def parse_int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise SpecError("ARG", f"expected an integer (decimal or 0x hex), got {text!r}") from None


def check(source: str, syscall: str, args: list[str], caps: tuple[str, ...], arch: str) -> tuple[bool, str]:
    prof = Compiled(source, caps, arch)
    values = tuple(parse_int(a) for a in args)
    if len(values) > 6:
        raise SpecError("ARG", "a syscall takes at most 6 arguments")
    ret, _ = prof.decide(syscall, values)
    verdict = bpf.describe(ret)
    allowed = ret & bpf.RET_ACTION_FULL in (bpf.RET_ALLOW, bpf.RET_LOG)
    shown = f"{syscall}({', '.join(hex(v) for v in values)})" if values else syscall
    if syscall.isdigit():  # a number: the rules name calls, so say (and match) which call it is
        name = prof.name_of(int(syscall))
        shown = f"{shown} ({name})" if name else f"{shown} (a number libseccomp names no call)"
        syscall = name or syscall
    nr = prof.nr(syscall)
    if arch == "SCMP_ARCH_X86_64" and nr in KERNEL_PASSTHROUGH_X86_64:
        return True, (f"{shown}: ALLOW (the filter says {verdict}, but the kernel does not run seccomp filters "
                      f"for {KERNEL_PASSTHROUGH_X86_64[nr]}: it only works from the uprobe trampoline)")
    return allowed, f"{shown}: {verdict}\n  because: {prof.why(syscall, values, ret)}"


def _all_names(arch: str) -> list[str]:
    from pyrt.seccomp.binding import load

    ps = load()
    out = []
    a = getattr(ps.Arch, ARCHES[arch])
    base = 0x40000000 if arch == "SCMP_ARCH_X32" else 0
    for nr in range(base, base + 600):
        try:
            out.append(ps.resolve_syscall(a, nr).decode())
        except ValueError:
            continue
    return sorted(set(out))


def _probes(name: str, sections: list[dict[str, Any]]) -> list[tuple[int, ...]]:
    """Argument vectors worth asking about: the values the rules compare against, and their neighbours."""
    values: dict[int, set[int]] = {}
    for section in sections:
        for rule in section.get("syscalls") or []:
            if name in rule.get("names", []):
                for c in rule.get("args") or []:
                    s = values.setdefault(c["index"], {0})
                    v = c.get("value", 0)
                    if c["op"] == "SCMP_CMP_MASKED_EQ":
                        s.update(bit for bit in CLONE_FLAGS if v & bit)
                        s.update({v, 0x11})  # SIGCHLD alone: a plain fork
                    else:
                        s.update({v, max(v - 1, 0), v + 1})
    if not values:
        return [()]
    out = []
    for idx, vals in sorted(values.items()):
        for v in sorted(vals):
            vec = [0] * (idx + 1)
            vec[idx] = v
            out.append(tuple(vec))
    return out


def diff(a_src: str, b_src: str, caps: tuple[str, ...], arch: str) -> tuple[int, int, list[str]]:
    """(decisions compared, decisions that differ, lines describing them)."""
    a, b = Compiled(a_src, caps, arch), Compiled(b_src, caps, arch)
    lines, compared = [], 0
    for name in _all_names(arch):
        for args in _probes(name, [a.section, b.section]):
            compared += 1
            ra, rb = a.decide(name, args)[0], b.decide(name, args)[0]
            if ra != rb:
                shown = f"{name}({', '.join(hex(v) for v in args)})" if args else name
                lines.append(f"{shown}: {bpf.describe(ra)} -> {bpf.describe(rb)}")
    return compared, len(lines), lines


def explain(source: str, caps: tuple[str, ...], arch: str) -> str:
    prof = Compiled(source, caps, arch)
    s = prof.section
    default = _action_words(s.get("defaultAction", ""), s.get("defaultErrnoRet"))
    rules = s.get("syscalls") or []
    out = [f"Profile {source}" + (f" (Docker format, rendered for {len(caps)} capabilities on {arch})"
                                 if prof.docker_format else f" (OCI, as given; decisions for {arch})")]
    out.append(f"Default: {default} for every syscall no rule allows"
               + (" - an allow-list" if default.startswith(("ERRNO", "KILL", "TRAP")) else " - a deny-list"))
    arches = s.get("architectures") or [arch]
    out.append(f"Architectures: {', '.join(a.replace('SCMP_ARCH_', '').lower() for a in arches)}; "
               "a call from any other architecture kills the thread")
    if prof.stub_len:
        out.append("Newer syscalls than the profile knows answer ENOSYS (runc's stub), so libc falls back")
    unconditional = sorted({n for r in rules if not r.get("args") and r["action"] in ("SCMP_ACT_ALLOW",
                                                                                      "SCMP_ACT_LOG")
                            for n in r.get("names", [])})
    out.append(f"Allowed unconditionally: {len(unconditional)} syscalls")
    conditional = [(r, n) for r in rules if r.get("args") for n in r.get("names", [])]
    if conditional:
        out.append("Allowed (or decided) only with argument rules:")
        by_name: dict[str, list[str]] = {}
        for r, n in conditional:
            by_name.setdefault(n, []).append(f"{_action_words(r['action'], r.get('errnoRet'))} when "
                                             f"{describe_args(n, r['args'])}")
        for n, words in sorted(by_name.items()):
            out.append(f"  {n}: " + "; or ".join(words))
    special = [(n, _action_words(r["action"], r.get("errnoRet"))) for r in rules if not r.get("args")
               and r["action"] not in ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG") for n in r.get("names", [])]
    if special:
        out.append("Answered with their own action:")
        for n, act in sorted(special):
            note = ""
            if n == "clone3" and act == "ERRNO(ENOSYS)":
                note = " - libc falls back to clone, where the flags rule applies"
            elif n == "clone3" and act.startswith("ERRNO"):
                note = " - trap: libc only falls back to clone on ENOSYS, so threads and fork fail"
            out.append(f"  {n}: {act}{note}")
    out.append("Notable calls:")
    for n in NOTABLE:
        try:
            ret, _ = prof.decide(n)
        except SpecError:
            continue
        verdict = bpf.describe(ret)
        note = ""
        if n in ("execve",) and ret & bpf.RET_ACTION_FULL not in (bpf.RET_ALLOW, bpf.RET_LOG):
            note = " - trap: no container process can start under this profile"
        out.append(f"  {n:18} {verdict}{note}")
    return "\n".join(out)
