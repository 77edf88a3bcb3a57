"""The device allow-list as an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE), for cgroup2.

cgroup2 has no devices.allow/deny files: a program attached to the cgroup decides every
open and mknod of a device node.  Rules keep v1's meaning: later rules win, so the program
checks them from the last to the first and the first match decides; nothing matching is
denied.  An allow rule matches when every access asked for is in the rule; a deny rule when
any is.
"""

from __future__ import annotations

from pyrt.common import posixos as os
from pyrt.common.errors import SetupError
from pyrt.linux import sys as S

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# eBPF opcodes (linux/bpf.h, linux/bpf_common.h)
_LDX_W = 0x61  # BPF_LDX | BPF_MEM | BPF_W
_ALU32_AND_K, _ALU32_RSH_K, _ALU32_MOV_K, _ALU32_MOV_X = 0x54, 0x74, 0xB4, 0xBC
_JEQ_K, _JNE_K, _JMP_EXIT = 0x15, 0x55, 0x95
_TYPES = {"b": 1, "c": 2}  # BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR
_ACCESS = {"m": 1, "r": 2, "w": 4}  # BPF_DEVCG_ACC_MKNOD, READ, WRITE
BPF_PROG_TYPE_CGROUP_DEVICE, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI = 15, 6, 2


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return bytes([code, (src << 4) | dst]) + off.to_bytes(2, "little", signed=True) + \
        (imm & 0xFFFFFFFF).to_bytes(4, "little")


def program(rules: list[list[Any]]) -> bytes:
    """rules: [allow, type ("a", "b", "c"), major (-1: any), minor (-1: any), access ("rwm")]."""
    head = [
        _insn(_LDX_W, dst=2, src=1, off=0),    # r2 = ctx->access_type
        _insn(_ALU32_MOV_X, dst=3, src=2),     # r3 = r2
        _insn(_ALU32_AND_K, dst=3, imm=0xFFFF),  # r3: device type
        _insn(_ALU32_RSH_K, dst=2, imm=16),    # r2: access asked for
        _insn(_LDX_W, dst=4, src=1, off=4),    # r4 = ctx->major
        _insn(_LDX_W, dst=5, src=1, off=8),    # r5 = ctx->minor
    ]
    blocks: list[bytes] = []
    for allow, kind, major, minor, access in reversed(rules):
        mask = sum(_ACCESS[a] for a in access)
        # Each step is raw code, or a conditional jump over the rest of this rule's block to the next rule.
        steps: list[bytes | tuple[int, int, int]] = []
        if kind != "a":
            steps.append((_JNE_K, 3, _TYPES[kind]))
        if major >= 0:
            steps.append((_JNE_K, 4, major))
        if minor >= 0:
            steps.append((_JNE_K, 5, minor))
        if mask != 7:
            steps.append(_insn(_ALU32_MOV_X, dst=6, src=2))  # r6 = access asked for
            if allow:  # every access asked for is allowed: (asked & ~mask) == 0, else next rule
                steps += [_insn(_ALU32_AND_K, dst=6, imm=~mask & 7), (_JNE_K, 6, 0)]
            else:  # any access asked for is denied: (asked & mask) != 0, else next rule
                steps += [_insn(_ALU32_AND_K, dst=6, imm=mask), (_JEQ_K, 6, 0)]
        steps += [_insn(_ALU32_MOV_K, dst=0, imm=1 if allow else 0), _insn(_JMP_EXIT)]
        block = []
        for i, step in enumerate(steps):
            if isinstance(step, tuple):
                code, dst, imm = step
                block.append(_insn(code, dst=dst, off=len(steps) - i - 1, imm=imm))
            else:
                block.append(step)
        blocks.append(b"".join(block))
        if not any(isinstance(step, tuple) for step in steps):
            return b"".join(head) + b"".join(blocks)  # it matches everything: nothing after it is reachable
    default = _insn(_ALU32_MOV_K, dst=0, imm=0) + _insn(_JMP_EXIT)
    return b"".join(head) + b"".join(blocks) + default


def attach(cgroup_dir: str, rules: list[list[Any]]) -> None:
    """Load the program and attach it to the cgroup2 directory (it stays as long as the cgroup)."""
    code = program(rules)
    try:
        prog = S.bpf_prog_load(BPF_PROG_TYPE_CGROUP_DEVICE, code, BPF_CGROUP_DEVICE, "pyrt_devices")
    except OSError as exc:
        raise SetupError("linux.resources.devices", f"loading the device program: {exc.strerror}") from None
    cg = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        S.bpf_prog_attach(cg, prog, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)
    except OSError as exc:
        raise SetupError("linux.resources.devices", f"attaching the device program to {cgroup_dir}: "
                         f"{exc.strerror}") from None
    finally:
        os.close(cg)
        os.close(prog)
