"""The supervisor of `pyrt run --seccomp-record`: answer every notification with CONTINUE, and count.

The container's init loads a filter whose only instruction is RET_USER_NOTIF, so
every syscall of every process below it (all architectures) stops until pyrt
answers.  Init cannot hand the listener over by any syscall (each would wait for
the answer nobody can give yet), so it says *before* loading which fd number the
listener will get (the lowest free one), and the parent takes it with
pidfd_getfd once it appears.  A thread then answers: poll, zero the buffer,
SECCOMP_IOCTL_NOTIF_RECV, count (phase, arch, nr) and the first argument of the
argument-gated calls, SECCOMP_IOCTL_NOTIF_SEND with FLAG_CONTINUE.  Calls of
init before its first execve are the runtime's; everything after, the workload's.
"""

from __future__ import annotations

import errno
import os
import select
import struct
import threading
import time
from typing import Any

from pyrt.common.errors import SetupError
from pyrt.seccomp.record import ARG_RULED, Observed

NOTIF_RECV = 0xC0502100  # _IOWR('!', 0, struct seccomp_notif)
NOTIF_SEND = 0xC0182101  # _IOWR('!', 1, struct seccomp_notif_resp)
FLAG_CONTINUE = 1
_NOTIF = struct.Struct("=QIIiIQ6Q")  # id, pid, flags, nr, arch, instruction pointer, args[6]
_RESP = struct.Struct("=QqiI")  # id, val, error, flags
AUDIT_X86_64, AUDIT_I386, X32_BIT = 0xC000003E, 0x40000003, 0x40000000
EXECVE = {(AUDIT_X86_64, 59), (AUDIT_X86_64, 322), (AUDIT_I386, 11), (AUDIT_I386, 358),
          (AUDIT_X86_64, X32_BIT | 520), (AUDIT_X86_64, X32_BIT | 545)}


def filter_plan() -> dict[str, Any]:
    """The plan's seccomp entry for a recorded run: one instruction, RET_USER_NOTIF, with a listener."""
    from pyrt.seccomp import bpf
    from pyrt.seccomp.compiler import FLAG_NEW_LISTENER, FLAG_SPEC_ALLOW

    program = bpf.encode([(bpf.RET | bpf.K, 0, 0, bpf.RET_USER_NOTIF)])
    return {"bpf": program, "flags": FLAG_NEW_LISTENER | FLAG_SPEC_ALLOW, "listener": None, "notify": True,
            "record": True}


def _arch_token(arch: int, nr: int) -> tuple[int, int]:
    """(libseccomp's arch token, number) for a notification: x32 is x86_64's arch with bit 30 set."""
    if arch == AUDIT_X86_64 and nr & X32_BIT:
        return 0x4000003E, nr
    return arch, nr


class Recorder:
    def __init__(self) -> None:
        import gc

        from pyrt.seccomp.binding import load

        gc.enable()  # it answers every call of the container, for as long as it runs (cli.py: GC off at start)
        self._ps = ps = load()
        self.counts: dict[tuple[str, int, int], int] = {}
        self.values: dict[str, set[int]] = {name: set() for name in ARG_RULED}
        self._gated: dict[tuple[int, int], str] = {}
        for token, audit in ((ps.Arch.X86_64, AUDIT_X86_64), (ps.Arch.X86, AUDIT_I386), (ps.Arch.X32, AUDIT_X86_64)):
            for name in ARG_RULED:
                nr = ps.resolve_syscall(token, name)
                if nr >= 0:
                    self._gated[(audit, nr)] = name
        self.init_pid = 0
        self._fd = -1
        self._thread: threading.Thread | None = None
        self._stop_r, self._stop_w = os.pipe2(os.O_CLOEXEC)
        self.error: str | None = None

    def attach(self, init_pid: int, number: int, sock: Any, timeout: float = 10.0) -> bool:
        """Take init's listener (fd `number`) once its filter is loaded and start answering; False when
        init sent a message first (its load failed: the caller reads the error)."""
        from pyrt.linux import sys as S

        self.init_pid = init_pid
        deadline = time.monotonic() + timeout
        while True:
            try:
                fd = S.pidfd_getfd(init_pid, number)
            except OSError as exc:
                if exc.errno not in (errno.EBADF,):
                    raise SetupError("--seccomp-record", f"taking the listener from init: {exc.strerror}") from None
            else:
                if os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:seccomp notify":
                    break
                os.close(fd)
            if select.select([sock], [], [], 0.0005)[0]:
                return False
            if time.monotonic() > deadline:
                raise SetupError("--seccomp-record", f"init loaded no listener at fd {number} in {timeout:g} s")
        self._fd = fd
        self._thread = threading.Thread(target=self._serve, name="seccomp-record", daemon=True)
        self._thread.start()
        return True

    def _serve(self) -> None:
        import fcntl

        fd, counts, values, gated = self._fd, self.counts, self.values, self._gated
        runtime_pid = self.init_pid
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.register(self._stop_r, select.POLLIN)
        buf = bytearray(_NOTIF.size)
        resp = bytearray(_RESP.size)
        zero = bytes(_NOTIF.size)
        try:
            while True:
                ready = dict(poller.poll())
                if self._stop_r in ready:
                    return
                events = ready.get(fd, 0)
                if not events & select.POLLIN:
                    if events & (select.POLLHUP | select.POLLERR):
                        return  # no process uses the filter any more
                    continue
                buf[:] = zero  # the kernel refuses a receive into a dirty buffer
                try:
                    fcntl.ioctl(fd, NOTIF_RECV, buf, True)
                except OSError as exc:
                    if exc.errno in (errno.ENOENT, errno.EINTR):
                        continue  # the caller died before we read it
                    raise
                nid, pid, _flags, nr, arch, _ip, arg0, _a1, _a2, _a3, _a4, _a5 = _NOTIF.unpack(buf)
                nr &= 0xFFFFFFFF
                phase = "runtime" if pid == runtime_pid else "workload"
                key = (phase, arch, nr)
                counts[key] = counts.get(key, 0) + 1
                name = gated.get((arch, nr))
                if name is not None:
                    values[name].add(arg0 & 0xFFFFFFFF if arch == AUDIT_I386 else arg0)
                _RESP.pack_into(resp, 0, nid, 0, 0, FLAG_CONTINUE)
                try:
                    fcntl.ioctl(fd, NOTIF_SEND, resp, True)
                except OSError as exc:
                    if exc.errno != errno.ENOENT:
                        raise
                if pid == runtime_pid and (arch, nr) in EXECVE:
                    runtime_pid = -1  # init becomes the workload with this execve
        except BaseException as exc:  # noqa: BLE001 - reported by finish()
            self.error = f"{type(exc).__name__}: {exc}"

    def _stop(self, timeout: float) -> None:
        """Wait for the last process to leave the filter (or timeout), then stop answering."""
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                os.write(self._stop_w, b"x")
                self._thread.join()
        for fd in (self._fd, self._stop_r, self._stop_w):
            if fd >= 0:
                os.close(fd)
        self._fd = self._stop_r = self._stop_w = -1

    def finish(self, timeout: float = 5.0) -> Observed:
        """Stop once the container is gone, and name what was seen."""
        self._stop(timeout)
        if self.error is not None:
            raise SetupError("--seccomp-record", f"the recorder failed: {self.error}")
        return self.observed()

    def observed(self) -> Observed:
        obs = Observed()
        for (phase, arch, nr), count in self.counts.items():
            token, number = _arch_token(arch, nr)
            try:
                name = self._ps.resolve_syscall(token, number).decode()
            except ValueError:
                obs.unnamed.add(f"{'x86' if arch == AUDIT_I386 else 'x86_64'} {number:#x}")
                continue
            (obs.runtime if phase == "runtime" else obs.workload).add(name)
            obs.calls += count
        for name, seen in self.values.items():
            obs.values[name] |= seen
        return obs

    def close(self) -> None:
        """Stop without naming anything (the run failed)."""
        self._stop(timeout=0)
