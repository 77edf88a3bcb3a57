"""The syscall layer: the only module that calls libc (through pyrt.linux.ffi).

Everything here raises ``OSError`` with the errno the kernel gave, so callers can
wrap it with what they were doing and on which path.  libc is reached through
dlopen(NULL) (the symbols already loaded into the interpreter), never through
``ctypes.util``, which would spawn ``ldconfig`` and cost milliseconds.
"""

from __future__ import annotations

import stat

from pyrt.common import constants as C
from pyrt.common import posixos as os
from pyrt.linux import ffi

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_syscall = ffi.libc("syscall", ffi.c_long)
_mount = ffi.libc("mount", argtypes=[ffi.c_char_p, ffi.c_char_p, ffi.c_char_p, ffi.c_ulong, ffi.c_char_p])
_umount2 = ffi.libc("umount2", argtypes=[ffi.c_char_p, ffi.c_int])
_unshare = ffi.libc("unshare", argtypes=[ffi.c_int])
_setns = ffi.libc("setns", argtypes=[ffi.c_int, ffi.c_int])
_sethostname = ffi.libc("sethostname", argtypes=[ffi.c_char_p, ffi.c_size_t])
_setdomainname = ffi.libc("setdomainname", argtypes=[ffi.c_char_p, ffi.c_size_t])
_prctl = ffi.libc("prctl", argtypes=[ffi.c_int, ffi.c_ulong, ffi.c_ulong, ffi.c_ulong, ffi.c_ulong])
_fstatfs = ffi.libc("fstatfs")
_renameat2 = ffi.libc("renameat2", argtypes=[ffi.c_int, ffi.c_char_p, ffi.c_int, ffi.c_char_p, ffi.c_uint32])
_pthread_self = ffi.libc("pthread_self", ffi.c_void_p)


def _check(ret: int, path: str | None = None) -> int:
    """ret, or the OSError of the errno the call left (naming path when given)."""
    if ret < 0:
        err = ffi.get_errno()
        raise OSError(err, os.strerror(err), path)
    return ret


def _b(s: str | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


_cold: dict[str, Any] = {}


def _cold_struct(name: str, fields: list[tuple[str, Any]]) -> Any:
    """A Structure made on first use: each costs ~65 us to define, and these serve rare calls."""
    if name not in _cold:
        _cold[name] = type(name, (ffi.Structure,), {"_fields_": fields})
    return _cold[name]


def unshare(flags: int) -> None:
    _check(_unshare(flags))


def setns(fd: int, nstype: int) -> None:
    _check(_setns(fd, nstype))


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    _check(_mount(_b(source), _b(target), _b(fstype), flags, _b(data) if data else None), target)


def umount2(target: str, flags: int) -> None:
    _check(_umount2(_b(target), flags), target)


def pivot_root(new_root: str, put_old: str) -> None:
    _check(_syscall(C.SYS_PIVOT_ROOT, _b(new_root), _b(put_old)))


def exchange(a: str, b: str) -> None:
    """renameat2(RENAME_EXCHANGE): a and b swap names, atomically; OSError (ENOENT, EINVAL) otherwise."""
    _check(_renameat2(C.AT_FDCWD, _b(a), C.AT_FDCWD, _b(b), C.RENAME_EXCHANGE), b)


def replace(tmp: str, path: str) -> None:
    """rename(tmp, path), atomic for readers.  Over an existing file, the two are exchanged and the old
    one unlinked instead: on ext4 (this machine's /run and /tmp) a rename over a file forces the new
    one's blocks to be allocated (auto_da_alloc: 0.15-0.5 ms) and frees the old one's, and a delete that
    unlinks an allocated state.json waits on the journal too (unlink 230 vs 12 us); exchanged files stay
    in the page cache.  state.json and --pid-file are rewritten this way.  Never a directory: exchange
    would swap one in (rename refuses it, EISDIR); a symlink is replaced, not followed, either way."""
    try:
        exchangeable = not stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        exchangeable = False  # nothing there: a plain rename
    if exchangeable:
        try:
            exchange(tmp, path)
        except OSError:  # a filesystem without RENAME_EXCHANGE (EINVAL)
            pass
        else:
            os.unlink(tmp)  # now the old file
            return
    os.rename(tmp, path)


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_sethostname(raw, len(raw)))


def setdomainname(name: str) -> None:
    raw = name.encode()
    _check(_setdomainname(raw, len(raw)))


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(_prctl(option, arg2, arg3, arg4, arg5))


def join_session_keyring(name: str) -> None:
    _check(_syscall(C.SYS_KEYCTL, C.KEYCTL_JOIN_SESSION_KEYRING, _b(name)))


class _OpenHow(ffi.Structure):
    _fields_ = [("flags", ffi.c_uint64), ("mode", ffi.c_uint64), ("resolve", ffi.c_uint64)]


def openat2(dirfd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    how = _OpenHow(flags, mode, resolve)
    return int(_check(_syscall(C.SYS_OPENAT2, dirfd, _b(path), ffi.byref(how), ffi.sizeof(how)), path))


_MOUNT_ATTR = [("attr_set", ffi.c_uint64), ("attr_clr", ffi.c_uint64), ("propagation", ffi.c_uint64),
               ("userns_fd", ffi.c_uint64)]


def mount_setattr(fd: int, attr_set: int, attr_clr: int, recursive: bool = True, userns_fd: int = 0) -> None:
    attr = _cold_struct("mount_attr", _MOUNT_ATTR)(attr_set, attr_clr, 0, userns_fd)
    flags = C.AT_EMPTY_PATH | (C.AT_RECURSIVE if recursive else 0)
    _check(_syscall(C.SYS_MOUNT_SETATTR, fd, b"", flags, ffi.byref(attr), ffi.sizeof(attr)))


class _StatFs(ffi.Structure):
    _fields_ = [
        ("f_type", ffi.c_long),
        ("f_bsize", ffi.c_long),
        ("f_blocks", ffi.c_ulong),
        ("f_bfree", ffi.c_ulong),
        ("f_bavail", ffi.c_ulong),
        ("f_files", ffi.c_ulong),
        ("f_ffree", ffi.c_ulong),
        ("f_fsid", ffi.c_int * 2),
        ("f_namelen", ffi.c_long),
        ("f_frsize", ffi.c_long),
        ("f_flags", ffi.c_long),
        ("f_spare", ffi.c_long * 4),
    ]


def fstatfs_type(fd: int) -> int:
    buf = _StatFs()
    _check(_fstatfs(fd, ffi.byref(buf)))
    return int(buf.f_type) & 0xFFFFFFFF


class _CapHeader(ffi.Structure):
    _fields_ = [("version", ffi.c_uint32), ("pid", ffi.c_int)]


class _CapData(ffi.Structure):
    _fields_ = [("effective", ffi.c_uint32), ("permitted", ffi.c_uint32), ("inheritable", ffi.c_uint32)]


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set the three per-thread capability sets (64-bit masks) with capset(2) v3."""
    header = _CapHeader(0x20080522, 0)
    data = (_CapData * 2)()
    for i in range(2):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(_syscall(C.SYS_CAPSET, ffi.byref(header), data))


class _SockFprog(ffi.Structure):
    _fields_ = [("len", ffi.c_ushort), ("filter", ffi.c_void_p)]


def seccomp_load_bpf(program: bytes, flags: int) -> int:
    """Install a classic-BPF seccomp filter (8 bytes per instruction) with seccomp(2)."""
    buf = ffi.buffer(program)
    prog = _SockFprog(len(program) // 8, ffi.addressof(buf))
    ret = _syscall(C.SYS_SECCOMP, C.SECCOMP_SET_MODE_FILTER, flags, ffi.byref(prog))
    return int(_check(ret))


def close_range(first: int, last: int) -> None:
    """Close fds first..last (close_range(2); os.closerange where the kernel lacks it)."""
    if _syscall(436, first, last, 0) != 0:
        os.closerange(first, min(last, 65536) + 1)


def loopback_up() -> None:
    """Bring ``lo`` up in the current network namespace with one ioctl pair (no netlink)."""
    import _socket
    import fcntl

    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        ifreq = b"lo".ljust(40, b"\0")  # struct ifreq: 16-byte name, then a short of flags
        got = fcntl.ioctl(sock.fileno(), 0x8913, ifreq)  # SIOCGIFFLAGS
        flags = int.from_bytes(got[16:18], "little") | 0x1  # IFF_UP
        fcntl.ioctl(sock.fileno(), 0x8914, got[:16] + flags.to_bytes(2, "little") + got[18:])  # SIOCSIFFLAGS
    finally:
        sock.close()


def pidfd_getfd(pid: int, fd: int) -> int:
    """A copy of another process's fd (pidfd_open + pidfd_getfd; needs ptrace rights over it)."""
    pidfd = _check(_syscall(434, pid, 0))
    try:
        return int(_check(_syscall(438, pidfd, fd, 0)))
    finally:
        os.close(pidfd)


_SCHED_ATTR = [("size", ffi.c_uint32), ("sched_policy", ffi.c_uint32), ("sched_flags", ffi.c_uint64),
               ("sched_nice", ffi.c_int32), ("sched_priority", ffi.c_uint32), ("sched_runtime", ffi.c_uint64),
               ("sched_deadline", ffi.c_uint64), ("sched_period", ffi.c_uint64)]


def sched_setattr(policy: int, flags: int, nice: int, priority: int, runtime: int, deadline: int,
                  period: int) -> None:
    kind = _cold_struct("sched_attr", _SCHED_ATTR)
    attr = kind(ffi.sizeof(kind), policy, flags, nice, priority, runtime, deadline, period)
    _check(_syscall(314, 0, ffi.byref(attr), 0))


class _Rlimit(ffi.Structure):
    _fields_ = [("cur", ffi.c_uint64), ("max", ffi.c_uint64)]


RLIM_INFINITY = 2**64 - 1


def setrlimit(resource: int, soft: int, hard: int) -> None:
    """prlimit64(2) on this process (the `resource` module is one more shared object to load)."""
    limit = _Rlimit(soft, hard)
    _check(_syscall(302, 0, resource, ffi.byref(limit), None))


def ioprio_set(value: int) -> None:
    _check(_syscall(251, 1, 0, value))  # IOPRIO_WHO_PROCESS, this process


def personality(persona: int) -> None:
    _check(_syscall(135, persona))


def set_mempolicy(mode: int, nodes: list[int]) -> None:
    maxnode = (max(nodes) + 1) if nodes else 0
    words = (maxnode + 63) // 64 or 1
    mask = (ffi.c_ulong * words)()
    for node in nodes:
        mask[node // 64] |= 1 << (node % 64)
    _check(_syscall(238, mode, mask if nodes else None, maxnode + 1 if nodes else 0))


_BPF_PROG_LOAD = [("prog_type", ffi.c_uint32), ("insn_cnt", ffi.c_uint32), ("insns", ffi.c_uint64),
                  ("license", ffi.c_uint64), ("log_level", ffi.c_uint32), ("log_size", ffi.c_uint32),
                  ("log_buf", ffi.c_uint64), ("kern_version", ffi.c_uint32), ("prog_flags", ffi.c_uint32),
                  ("prog_name", ffi.c_char * 16), ("prog_ifindex", ffi.c_uint32),
                  ("expected_attach_type", ffi.c_uint32)]


_BPF_PROG_ATTACH = [("target_fd", ffi.c_uint32), ("attach_bpf_fd", ffi.c_uint32), ("attach_type", ffi.c_uint32),
                    ("attach_flags", ffi.c_uint32)]


def bpf_prog_load(prog_type: int, code: bytes, expected_attach_type: int, name: str) -> int:
    """Load an eBPF program (GPL); the verifier's last lines join strerror when it refuses."""
    insns, lic, log = ffi.buffer(code), ffi.buffer(b"GPL\0"), ffi.buffer(bytes(65536))
    attr = _cold_struct("bpf_prog_load", _BPF_PROG_LOAD)(
        prog_type, len(code) // 8, ffi.addressof(insns), ffi.addressof(lic), 1, len(log), ffi.addressof(log), 0, 0,
        name.encode()[:15], 0, expected_attach_type)
    ret = _syscall(321, 5, ffi.byref(attr), ffi.sizeof(attr))  # bpf(BPF_PROG_LOAD)
    if ret < 0:
        err = ffi.get_errno()
        said = bytes(log).split(b"\0", 1)[0].decode(errors="replace").strip()[-200:]
        raise OSError(err, f"{os.strerror(err)}: {said}" if said else os.strerror(err))
    return int(ret)


def bpf_prog_attach(target_fd: int, prog_fd: int, attach_type: int, flags: int) -> None:
    attr = _cold_struct("bpf_prog_attach", _BPF_PROG_ATTACH)(target_fd, prog_fd, attach_type, flags)
    _check(_syscall(321, 8, ffi.byref(attr), ffi.sizeof(attr)))  # bpf(BPF_PROG_ATTACH)


OPEN_TREE_CLONE, AT_RECURSIVE_FLAG = 1, 0x8000
MOVE_MOUNT_F_EMPTY_PATH, MOVE_MOUNT_T_EMPTY_PATH = 0x4, 0x40
MOUNT_ATTR_IDMAP = 0x00100000


def open_tree_clone(path: str, recursive: bool) -> int:
    """A detached copy of the mount tree at path (open_tree(2) with OPEN_TREE_CLONE)."""
    flags = OPEN_TREE_CLONE | os.O_CLOEXEC | (AT_RECURSIVE_FLAG if recursive else 0)
    return int(_check(_syscall(428, -100, _b(path), flags), path))


def move_mount_fd(tree_fd: int, target_fd: int) -> None:
    """Attach a detached tree onto the directory or file target_fd refers to (move_mount(2))."""
    _check(_syscall(429, tree_fd, b"", target_fd, b"", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH))


class _CloneArgs(ffi.Structure):
    _fields_ = [(name, ffi.c_uint64) for name in (
        "flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack", "stack_size", "tls", "set_tid",
        "set_tid_size", "cgroup")]


CLONE_CHILD_SETTID, CLONE_INTO_CGROUP, SIGCHLD = 0x01000000, 0x200000000, 17
_tid_slot: list[int | None] = []


def _cached_tid_address() -> int | None:
    """Where glibc caches this thread's id (struct pthread's tid): fork() rewrites it in the child, and
    so must a raw clone3, or raise() and pthread_kill() in the child would aim at the parent."""
    if not _tid_slot:
        _tid_slot.append(_tid_address_from_kernel() or _tid_address_by_scan())
    return _tid_slot[0]


def _tid_address_from_kernel() -> int | None:
    """PR_GET_TID_ADDRESS: the address the kernel clears at exit, which glibc points at struct
    pthread's tid (set_tid_address at start-up, CLONE_CHILD_CLEARTID in fork); it needs the kernel's
    CONFIG_CHECKPOINT_RESTORE.  Checked against gettid()."""
    addr = ffi.c_ulong(0)
    if _prctl(C.PR_GET_TID_ADDRESS, ffi.addressof(addr), 0, 0, 0) != 0 or not addr.value:
        return None
    return int(addr.value) if ffi.c_int.from_address(addr.value).value == int(_syscall(186)) else None


def _tid_address_by_scan() -> int | None:
    """The one int in the first 1 KiB of struct pthread that equals gettid(); None if not one.  A tid
    equal to the high 32 bits of pthread_self (0x7fxx, a valid pid where pid_max is 32768) is found
    twice: struct pthread starts with pointers to itself.  So the lookup runs before each fork (the
    hook below) and the children inherit the answer of a process whose tid was unambiguous."""
    me = int(_pthread_self())
    tid = int(_syscall(186))  # gettid
    hits = [off for off in range(0, 1024, 4) if ffi.c_int.from_address(me + off).value == tid]
    return me + hits[0] if len(hits) == 1 else None


# Looked up (once) before any os.fork() of a process that loaded this layer, so that a child that
# clone3s (the intermediate) inherits it: its own scan could fail where its parent's did not.
os.register_at_fork(before=_cached_tid_address)


def can_clone_into_cgroup() -> bool:
    """clone3(CLONE_INTO_CGROUP) needs Linux 5.7 and glibc's cached tid where we can rewrite it."""
    try:
        major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (5, 7) and _cached_tid_address() is not None


def fork_into_cgroup(cgroup_fd: int, namespaces: int = 0) -> int:
    """os.fork(), with the child born in the cgroup2 directory cgroup_fd (clone3 CLONE_INTO_CGROUP) and
    in new namespaces of the CLONE_NEW* flags `namespaces`.

    Moving a process with a cgroup.procs write takes the kernel's global cgroup_threadgroup_rwsem for
    writing, and the first writer after a quiet spell waits for an RCU grace period (9-23 ms here);
    being born in the cgroup takes only its read side.  CPython's own fork hooks run around the call,
    as os.fork() runs them.  Returns the child's pid in the parent and 0 in the child."""
    slot = _cached_tid_address()
    if slot is None:
        raise OSError(95, "cannot locate glibc's cached thread id")  # EOPNOTSUPP
    args = _CloneArgs(flags=CLONE_INTO_CGROUP | CLONE_CHILD_SETTID | namespaces, child_tid=slot,
                      exit_signal=SIGCHLD, cgroup=cgroup_fd)
    before, after_child, after_parent = (ffi.python_api(name) for name in (
        "PyOS_BeforeFork", "PyOS_AfterFork_Child", "PyOS_AfterFork_Parent"))
    before()
    pid = int(_syscall(435, ffi.byref(args), ffi.c_size_t(ffi.sizeof(args))))  # clone3
    if pid == 0:
        after_child()
        return 0
    err = ffi.get_errno()
    after_parent()
    if pid < 0:
        raise OSError(err, os.strerror(err))
    return pid
