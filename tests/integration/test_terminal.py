"""Terminals: --console-socket receives a working pty master; run proxies the caller's terminal."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PYRT, Runtime, busybox_config

pytestmark = pytest.mark.root


class ConsoleReceiver:
    """A console socket as conmon or containerd-shim serves it: accepts one pty master."""

    def __init__(self, path: Path) -> None:
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(1)
        self.server.settimeout(20)
        self.master: int | None = None
        self.name = b""
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            self.name, fds, _flags, _addr = socket.recv_fds(conn, 4096, 1)
        self.master = fds[0]
        self.server.close()

    def read_until(self, needle: bytes, timeout: float = 10) -> bytes:
        self.thread.join(timeout)
        assert self.master is not None, "no pty master arrived"
        out = b""
        deadline = time.monotonic() + timeout
        while needle not in out and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    out += os.read(self.master, 4096)
                except OSError:
                    break
        return out


def terminal_config(args: list[str]) -> dict[str, Any]:
    cfg = busybox_config()
    cfg["process"].update(terminal=True, args=args, consoleSize={"height": 30, "width": 100})
    return cfg


def test_console_socket_gets_a_working_pty_master(rt: Runtime, tmp_path: Path) -> None:
    sock = tmp_path / "console.sock"
    receiver = ConsoleReceiver(sock)
    cid = rt.new_id()
    script = "tty; stty size; [ -t 0 ] && echo stdin-is-a-tty; readlink /proc/self/fd/1; read line; echo got:$line"
    rt("create", "--console-socket", str(sock), "-b", str(rt.bundle(terminal_config(["sh", "-c", script]))), cid,
       check=True)
    rt("start", cid, check=True)
    out = receiver.read_until(b"stdin-is-a-tty\r\n/dev/pts/0\r\n", 10)  # all four lines: tty may say /dev/pts/0
    assert receiver.master is not None
    os.write(receiver.master, b"hello\n")
    out += receiver.read_until(b"got:hello", 10)
    text = out.decode().replace("\r\n", "\n")
    assert "/dev/console\n30 100\nstdin-is-a-tty\n/dev/pts/0\n" in text or \
        "/dev/pts/0\n30 100\nstdin-is-a-tty\n/dev/pts/0\n" in text, text
    assert "got:hello" in text
    assert receiver.name.startswith(b"/dev/pts/")
    rt.wait_status(cid, "stopped")
    os.close(receiver.master)
    rt("delete", cid, check=True)


def test_terminal_without_a_socket_needs_the_foreground(rt: Runtime, tmp_path: Path) -> None:
    bundle = rt.bundle(terminal_config(["true"]))
    res = rt("create", "-b", str(bundle), rt.new_id())
    assert (res.returncode, res.stderr) == (
        1, "pyrt: process.terminal is true: give --console-socket (or run in the foreground)\n")
    res = rt("create", "--console-socket", str(tmp_path / "s"), "-b", str(rt.bundle(args=["true"])), rt.new_id())
    assert res.stderr == "pyrt: --console-socket needs process.terminal: true\n"


def _run_on_a_pty(argv: list[str], feed: bytes, timeout: float = 20) -> tuple[int, str]:
    """Run argv with a pty of ours as its terminal, type feed, collect what it shows."""
    master, slave = os.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    out = b""
    fed = False
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                out += os.read(master, 4096)
            except OSError:
                break
        if not fed and b"ready" in out:
            os.write(master, feed)
            fed = True
    code = proc.wait(timeout=5)
    try:
        while chunk := os.read(master, 4096):
            out += chunk
    except OSError:
        pass
    os.close(master)
    return code, out.decode(errors="replace").replace("\r\n", "\n")


def test_run_proxies_the_callers_terminal(rt: Runtime) -> None:
    bundle = rt.bundle(terminal_config(["sh", "-c", "tty; echo ready; read line; echo got:$line; exit 4"]))
    code, out = _run_on_a_pty([str(PYRT), "--root", str(rt.root), "run", "-b", str(bundle), rt.new_id()],
                              b"typed\n")
    assert code == 4, out
    assert "/dev/pts/0\n" in out and "got:typed" in out


def test_exec_tty(rt: Runtime, tmp_path: Path) -> None:
    cid = rt.new_id()
    rt("run", "-d", "-b", str(rt.bundle(args=["sleep", "60"])), cid, check=True)
    code, out = _run_on_a_pty([str(PYRT), "--root", str(rt.root), "exec", "-t", cid, "sh", "-c",
                               "tty; echo ready; read l; echo got:$l"], b"x\n")
    assert code == 0 and "/dev/pts/0\n" in out and "got:x" in out, out
    sock = tmp_path / "exec.sock"
    receiver = ConsoleReceiver(sock)
    rt("exec", "-t", "-d", "--console-socket", str(sock), cid, "sh", "-c", "tty; sleep 1", check=True)
    assert b"/dev/pts/" in receiver.read_until(b"\n", 10)
    assert receiver.master is not None
    os.close(receiver.master)
    rt("delete", "--force", cid, check=True)
