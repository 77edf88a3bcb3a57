"""Classic BPF for seccomp: encoding, runc's ENOSYS stub, and a pure-Python interpreter.

A seccomp program runs over ``struct seccomp_data`` (nr: u32, arch: u32,
instruction_pointer: u64, args: u64[6]) and returns a 32-bit action.  The
interpreter implements exactly the instructions a seccomp filter may use, so
``pyrt seccomp check`` can tell what the kernel would decide without running
the call.
"""

from __future__ import annotations

import struct

# Instruction classes and fields (linux/filter.h).
LD, LDX, ST, STX, ALU, JMP, RET, MISC = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
W, H, B = 0x00, 0x08, 0x10
IMM, ABS, IND, MEM, LEN, MSH = 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0
ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, NEG, MOD, XOR = 0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0
JA, JEQ, JGT, JGE, JSET = 0x00, 0x10, 0x20, 0x30, 0x40
K, X = 0x00, 0x08
TAX, TXA = 0x00, 0x80

# seccomp return values (linux/seccomp.h).
RET_KILL_PROCESS = 0x80000000
RET_KILL_THREAD = 0x00000000
RET_TRAP = 0x00030000
RET_ERRNO = 0x00050000
RET_USER_NOTIF = 0x7FC00000
RET_TRACE = 0x7FF00000
RET_LOG = 0x7FFC0000
RET_ALLOW = 0x7FFF0000
RET_ACTION_FULL = 0xFFFF0000
RET_DATA = 0x0000FFFF

AUDIT_ARCH = {"x86_64": 0xC000003E, "x86": 0x40000003, "x32": 0xC000003E, "aarch64": 0xC00000B7,
              "arm": 0x40000028}
X32_SYSCALL_BIT = 0x40000000
ENOSYS = 38

Insn = tuple[int, int, int, int]  # code, jt, jf, k


def encode(prog: list[Insn]) -> bytes:
    return b"".join(struct.pack("<HBBI", code, jt, jf, k & 0xFFFFFFFF) for code, jt, jf, k in prog)


def decode(raw: bytes) -> list[Insn]:
    if len(raw) % 8:
        raise ValueError(f"a BPF program is a multiple of 8 bytes, got {len(raw)}")
    return [struct.unpack_from("<HBBI", raw, i) for i in range(0, len(raw), 8)]


def enosys_stub(max_nr: dict[str, int]) -> list[Insn]:
    """runc's patch: a syscall above the highest number the profile names, for its arch, gets ENOSYS.

    ``max_nr`` maps "x86_64", "x32", "x86" to the highest number named (x32 with its bit set).
    Other architectures, and arches without an entry, fall through to the profile, which
    starts right after the stub ("main").
    """
    asm: list[tuple[int, int, str, str]] = []  # code, k, true label, false label
    labels: dict[str, int] = {}

    def emit(code: int, k: int = 0, jt: str = "", jf: str = "") -> None:
        asm.append((code, k, jt, jf))

    amd64 = "x86_64" in max_nr or "x32" in max_nr
    emit(LD | W | ABS, 4)  # seccomp_data.arch
    if amd64:
        emit(JMP | JEQ | K, AUDIT_ARCH["x86_64"], "amd64", "next")
    if "x86" in max_nr:
        emit(JMP | JEQ | K, AUDIT_ARCH["x86"], "i386", "next")
    emit(JMP | JA, 0, "main")
    if amd64:
        labels["amd64"] = len(asm)
        emit(LD | W | ABS, 0)  # seccomp_data.nr
        emit(JMP | JSET | K, X32_SYSCALL_BIT, "x32", "next")
        emit(JMP | JGT | K, max_nr["x86_64"], "enosys", "main") if "x86_64" in max_nr else emit(JMP | JA, 0, "main")
        labels["x32"] = len(asm)
        emit(JMP | JGT | K, max_nr["x32"], "enosys", "main") if "x32" in max_nr else emit(JMP | JA, 0, "main")
    if "x86" in max_nr:
        labels["i386"] = len(asm)
        emit(LD | W | ABS, 0)
        emit(JMP | JGT | K, max_nr["x86"], "enosys", "main")
    labels["enosys"] = len(asm)
    emit(RET | K, RET_ERRNO | ENOSYS)
    labels["main"] = len(asm)

    def off(name: str, at: int) -> int:
        return 0 if name in ("", "next") else labels[name] - at - 1

    prog: list[Insn] = []
    for i, (code, k, jt, jf) in enumerate(asm):
        if code == JMP | JA:
            prog.append((code, 0, 0, off(jt, i)))
        elif code & 0x07 == JMP:
            t, f = off(jt, i), off(jf, i)
            if not (0 <= t <= 255 and 0 <= f <= 255):
                raise ValueError("stub jump out of range")
            prog.append((code, t, f, k))
        else:
            prog.append((code, 0, 0, k))
    return prog


class BPFError(Exception):
    pass


def seccomp_data(nr: int, arch: int, args: tuple[int, ...] = (), ip: int = 0) -> bytes:
    full = tuple(args) + (0,) * (6 - len(args))
    return struct.pack("<iIQ6Q", nr, arch, ip, *(a & 0xFFFFFFFFFFFFFFFF for a in full))


def run(prog: list[Insn], data: bytes) -> tuple[int, int]:
    """Evaluate a seccomp program; returns (return value, instructions executed)."""
    a = x = 0
    mem = [0] * 16
    pc = 0
    steps = 0
    while True:
        if pc >= len(prog):
            raise BPFError(f"fell off the end of the program at {pc}")
        code, jt, jf, k = prog[pc]
        steps += 1
        pc += 1
        cls = code & 0x07
        if cls == LD:
            mode, size = code & 0xE0, code & 0x18
            if mode == ABS and size == W:
                if k + 4 > len(data) or k % 4:
                    raise BPFError(f"load outside seccomp_data at offset {k}")
                a = struct.unpack_from("<I", data, k)[0]
            elif mode == IMM:
                a = k
            elif mode == MEM:
                a = mem[k]
            elif mode == LEN:
                a = len(data)
            else:
                raise BPFError(f"unsupported load 0x{code:02x}")
        elif cls == LDX:
            mode = code & 0xE0
            x = k if mode == IMM else mem[k] if mode == MEM else len(data) if mode == LEN else None  # type: ignore[assignment]
            if x is None:
                raise BPFError(f"unsupported ldx 0x{code:02x}")
        elif cls == ST:
            mem[k] = a
        elif cls == STX:
            mem[k] = x
        elif cls == ALU:
            op, src = code & 0xF0, (x if code & X else k)
            if op == NEG:
                a = -a
            elif op in (DIV, MOD) and src == 0:
                return 0, steps  # the kernel rejects this at load; treat as kill
            else:
                a = {ADD: a + src, SUB: a - src, MUL: a * src, DIV: a // src if src else 0, OR: a | src,
                     AND: a & src, LSH: a << src, RSH: a >> src, MOD: a % src if src else 0, XOR: a ^ src}[op]
            a &= 0xFFFFFFFF
        elif cls == JMP:
            op, src = code & 0xF0, (x if code & X else k)
            if op == JA:
                pc += k
                continue
            taken = {JEQ: a == src, JGT: a > src, JGE: a >= src, JSET: bool(a & src)}.get(op)
            if taken is None:
                raise BPFError(f"unsupported jump 0x{code:02x}")
            pc += jt if taken else jf
        elif cls == RET:
            return (a if code & 0x18 == 0x10 else k) & 0xFFFFFFFF, steps
        elif cls == MISC:
            if code & 0xF8 == TAX:
                x = a
            else:
                a = x
        else:
            raise BPFError(f"unknown instruction class {cls}")


def describe(ret: int) -> str:
    """A seccomp return value in words: ALLOW, ERRNO(EPERM), KILL_PROCESS, TRACE(7), ..."""
    import errno as _errno

    action, data = ret & RET_ACTION_FULL, ret & RET_DATA
    if action == RET_ERRNO:
        return f"ERRNO({_errno.errorcode.get(data, str(data))})"
    names = {RET_KILL_PROCESS: "KILL_PROCESS", RET_KILL_THREAD: "KILL_THREAD", RET_TRAP: "TRAP",
             RET_USER_NOTIF: "NOTIFY", RET_LOG: "LOG", RET_ALLOW: "ALLOW"}
    if action == RET_TRACE:
        return f"TRACE({data})"
    return names.get(action, f"0x{ret:08x}")
