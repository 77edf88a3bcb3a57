"""Messages as runc writes them: ``pyrt: <message>`` on stderr, and with --log the
same message in FILE as text (``time=... level=... msg=...``) or one JSON object
per line, which Docker and Podman read to show the user why a call failed."""

from __future__ import annotations

import sys
import time

from pyrt.common import posixos as os
from pyrt.common.fastjson import dumps

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


class Logger:
    def __init__(self) -> None:
        self.path: str | None = None
        self.fd = -1
        self.fmt = "text"
        self.debug_enabled = False

    def configure(self, path: str | None, fmt: str, debug: bool) -> None:
        """--log FILE is opened (made if missing) now, as runc does: a path that cannot be written is an
        error before anything happens, not a message lost later.  Raises OSError."""
        self.path, self.fmt, self.debug_enabled = path, fmt, debug
        if path:
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def _line(self, level: str, msg: str) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if self.fmt == "json":
            return dumps({"level": level, "msg": msg, "time": stamp}) + "\n"
        return f"time={dumps(stamp)} level={level} msg={dumps(msg)}\n"

    def _to_file(self, level: str, msg: str) -> bool:
        if self.fd < 0:
            return False
        try:
            os.write(self.fd, self._line(level, msg).encode())
            return True
        except OSError:
            return False

    def error(self, msg: str) -> None:
        self._to_file("error", msg)
        sys.stderr.write(f"pyrt: {msg}\n")
        sys.stderr.flush()

    def warning(self, msg: str) -> None:
        """With --log, warnings go to the log only (stderr may be the container's)."""
        if not self._to_file("warning", msg):
            sys.stderr.write(f"pyrt: warning: {msg}\n")
            sys.stderr.flush()

    def info(self, msg: str) -> None:
        """A result worth telling (with --log, in the log only, as warnings)."""
        if not self._to_file("info", msg):
            sys.stderr.write(f"pyrt: {msg}\n")
            sys.stderr.flush()

    def debug(self, msg: str) -> None:
        if not self.debug_enabled:
            return
        if not self._to_file("debug", msg):
            sys.stderr.write(f"pyrt: debug: {msg}\n")


log = Logger()
