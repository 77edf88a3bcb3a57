"""The parent/child protocol: one message (a marshalled dict) per SOCK_SEQPACKET datagram.

    pyrt (parent)                  intermediate (A)                    init (B)
    -------------                  ----------------                    --------
    fork A ----------------------> setns(paths), user ns first
    make the cgroups               [new user ns] unshare(NEWUSER)
    (in parallel with A's work)
         <------------------------ {"type": "userns"}
    write uid_map / gid_map
         ------------------------> {"type": "mapped"}
                                   unshare(other namespaces)
         ------------------------> {"type": "joined"} + fds: the cgroup2 leaf, each v1 `tasks`
    record the cgroups made        "0" into each `tasks`; clone3 ---> born in the cgroups, pid 1
    (state.json), meanwhile
         <------------------------ {"type": "pid", "pid": B}           of a new pid namespace:
                                   _exit(0)                            namespaces, rootfs, pivot,
                                                                       caps, user, cwd, seccomp
         [process.terminal: init opens a pty in the container's devpts, keeps the slave as its terminal]
         <------------------------------------------------------------- {"type": "console"} + master fd
    pass it to --console-socket, or keep it to proxy the caller's terminal (run)
    [seccomp with NOTIFY rules: init loads it and hands the listener fd over, by number]
         <------------------------------------------------------------- {"type": "seccomp-fd", "fd": N}
    pidfd_getfd(init, N); send it and the
    state to listenerPath (SCM_RIGHTS)
         -------------------------------------------------------------> {"type": "seccomp-done"}
         <------------------------------------------------------------- {"type": "ready"}
                                                                        or {"type": "error", "step", "msg"}
    state "created", pid file, exit                                    blocks on exec.fifo
    (`start` writes one byte to exec.fifo) --------------------------> execve(process.args)

In the common case there is no A (parent.begin with _create_direct: no user or time namespace, no pid
namespace to join, clone3 into the cgroup possible), and the exchange starts at init:

    pyrt (parent)                                                      init (B)
    -------------                                                      --------
    make the cgroup2 leaf; open it
    clone3(new namespaces | CLONE_INTO_CGROUP) --------------------->  born in its namespaces and the
    make the v1 leaves, write the limits                               cgroup2 leaf, pid 1; setns(paths);
         ------------------------------------------------------------> lo, hostname, keyring (child.born),
                                              {"type": "cgroups"}      its mounts up to a cgroup one;
    record the cgroups made (state.json),                              then "0" into each v1 `tasks`,
    meanwhile                                                          unshare(NEWCGROUP), as above
         <------------------------------------------------------------- {"type": "console"} ... "ready"

Init gets into the cgroups without a cgroup.procs write, whose first one after a quiet spell waits for
an RCU grace period (9-23 ms here): A moves its own thread into the v1 leaves and forks B with
clone3(CLONE_INTO_CGROUP); a directly forked init is born in the cgroup2 leaf and moves itself into the
v1 leaves once "cgroups" says they exist and are limited (limits written after init's birth, as runc
writes them after its init's rootfs), before it binds them into /sys/fs/cgroup and before it unshares
its cgroup namespace, which is so rooted in its own cgroups.  Where the kernel cannot
(before 5.7, or A inside a user namespace) "joined" carries no fds and the parent has written A's
pid into every leaf first.  `exec` follows the same protocol from "joined" on, where the container has a
user or time namespace; otherwise pyrt forks exec's process itself, into the container's pid namespace
(setns for its children) and cgroup2 leaf, and the process moves into the v1 leaves and joins the other
namespaces (parent._fork_direct, child.exec_direct): one fork less.

Messages are plain dicts with a "type"; marshal (built in) rather than json, whose
import pulls in re and enum (~10 ms here).  EOF before "ready" is an init failure.  Every other unexpected message is a
ProtocolError.  Nothing here imports anything at call time: the child uses it
after imports are blocked.
"""

from __future__ import annotations

import _socket  # the C module: `socket` imports enum and selectors (~9 ms here)
import marshal

from pyrt.common import posixos as os
from pyrt.common.errors import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX = 1 << 16
MAX_FDS = 32  # "joined" carries one fd per cgroup hierarchy (9-13 on hybrid hosts)


def pair() -> tuple[_socket.socket, _socket.socket]:
    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    return a, b


def send(sock: _socket.socket, kind: str, fds: list[int] | None = None, **fields: Any) -> None:
    """One message; fds, when given, travel with it (SCM_RIGHTS) and arrive in msg["fds"]."""
    raw = marshal.dumps({"type": kind, **fields})
    if fds:
        sock.sendmsg([raw], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, b"".join(fd.to_bytes(4, "little")
                                                                                for fd in fds))])
    else:
        sock.send(raw)


def write_raw(sock_fd: int, kind: str, **fields: Any) -> None:
    """send() as a single write(2): used under a seccomp filter that may notify on sendto."""
    os.write(sock_fd, marshal.dumps({"type": kind, **fields}))


def read_raw(fd: int, *kinds: str) -> dict[str, Any]:
    raw = os.read(fd, MAX)
    msg = marshal.loads(raw) if raw else None
    if not isinstance(msg, dict) or msg.get("type") not in kinds:
        raise ProtocolError(f"expected {'/'.join(kinds)} from the parent, got {msg!r}")
    return msg


def recv(sock: _socket.socket) -> dict[str, Any] | None:
    """The next message, or None at EOF; file descriptors that came with it are in msg["fds"].

    A peer that exits with one of our messages unread (init failing before it reads "joined") resets
    the connection, and the kernel reports ECONNRESET on our next receive even while what the peer
    sent before exiting (its error report) is still queued: that report is what the caller needs."""
    try:
        raw, ancillary, _flags, _addr = sock.recvmsg(MAX, _socket.CMSG_SPACE(4 * MAX_FDS))
    except ConnectionResetError:  # reported once; then the queue, then EOF
        raw, ancillary, _flags, _addr = sock.recvmsg(MAX, _socket.CMSG_SPACE(4 * MAX_FDS))
    fds = [int.from_bytes(data[i:i + 4], "little") for level, kind, data in ancillary
           if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS for i in range(0, len(data) - 3, 4)]
    if not raw:
        for fd in fds:
            os.close(fd)
        return None
    try:
        msg = marshal.loads(raw)
    except (ValueError, EOFError, TypeError):
        raise ProtocolError(f"malformed sync message: {raw[:80]!r}") from None
    if not isinstance(msg, dict) or "type" not in msg:
        raise ProtocolError(f"malformed sync message: {raw[:80]!r}")
    if fds:
        msg["fds"] = fds
    return msg


def expect(sock: _socket.socket, *kinds: str) -> dict[str, Any]:
    msg = recv(sock)
    if msg is None:
        raise ProtocolError(f"the container's init exited before sending {'/'.join(kinds)}")
    if msg["type"] not in kinds:
        raise ProtocolError(f"expected {'/'.join(kinds)} from the child, got {msg['type']!r}")
    return msg
