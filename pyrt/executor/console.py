"""Terminals: hand a pty master to a console socket, or proxy the caller's terminal to it."""

from __future__ import annotations

from pyrt.common import posixos as os
from pyrt.common.errors import PyrtError


def send_master(path: str, fd: int, name: str) -> None:
    """Send the pty master over the unix socket at path with SCM_RIGHTS, as runc does.  Through the C
    module `_socket`: `socket` imports enum and selectors (~9 ms here) on every `create` with a terminal."""
    import _socket
    import sys

    try:
        conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            conn.settimeout(10)
            conn.connect(path)
            rights = fd.to_bytes(4, sys.byteorder, signed=True)  # one C int, as socket.send_fds packs it
            conn.sendmsg([name.encode() or b"/dev/ptmx"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)])
        finally:
            conn.close()
    except OSError as exc:
        raise PyrtError(f"--console-socket {path}: {exc.strerror or exc}") from None


def _copy_size(src: int, dst: int) -> None:
    import fcntl
    import termios

    try:
        size = fcntl.ioctl(src, termios.TIOCGWINSZ, bytes(8))
        fcntl.ioctl(dst, termios.TIOCSWINSZ, size)
    except OSError:
        pass


def proxy(master: int, pid: int) -> int:
    """Copy the caller's terminal to the container's pty and back until pid exits; its exit code.

    The caller's terminal is put in raw mode (restored afterwards) and window size changes
    (SIGWINCH) are passed on to the pty.
    """
    import gc
    import select
    import signal
    import termios
    import tty

    from pyrt.linux.processes import reap_until

    gc.enable()  # a loop that may last hours (cli.py: the launcher starts with the GC off)

    interactive = os.isatty(0)
    saved = termios.tcgetattr(0) if interactive else None
    if interactive:
        _copy_size(0, master)
        tty.setraw(0)
        signal.signal(signal.SIGWINCH, lambda _s, _f: _copy_size(0, master))
    poller = select.poll()
    poller.register(master, select.POLLIN)
    stdin_open = True
    try:
        poller.register(0, select.POLLIN)
    except (OSError, ValueError):
        stdin_open = False
    code: int | None = None
    try:
        while code is None:
            for fd, events in poller.poll(50):
                if fd == master:
                    try:
                        data = os.read(master, 65536)
                    except OSError:  # EIO: the last holder of the slave is gone
                        data = b""
                    if not data:
                        poller.unregister(master)
                        continue
                    os.write(1, data)
                elif fd == 0 and stdin_open:
                    data = os.read(0, 65536) if events & select.POLLIN else b""
                    if not data:
                        poller.unregister(0)
                        stdin_open = False
                        continue
                    os.write(master, data)
            code = reap_until(pid, block=False)
        try:  # what the container printed last
            while data := os.read(master, 65536):
                os.write(1, data)
        except OSError:
            pass
        return code
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        os.close(master)
