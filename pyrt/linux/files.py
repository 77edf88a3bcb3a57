"""Small file helpers shared by the commands: atomic writes and JSON files read with a clear error."""

from __future__ import annotations

from pyrt.common import posixos as os  # `import os` costs create --pid-file ~1.5 ms (posixos.py)
from pyrt.common.errors import PyrtError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def write_atomic(path: str, data: bytes, label: str) -> None:
    """Write beside path and put it in its place (sys.replace): a reader sees the old file or the whole
    new one.  Its callers (create's --pid-file, a recorded profile) have the syscall layer loaded."""
    from pyrt.linux import sys as S

    path = os.path.abspath(path)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        S.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise PyrtError(f"{label} {path}: {exc.strerror}") from None


def read_json(path: str, label: str, missing_ok: bool = False) -> Any:
    """The JSON in path; None when it is missing and that is fine; PyrtError naming label and path."""
    import json

    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        if missing_ok:
            return None
        raise PyrtError(f"{label} {path}: no such file") from None
    except OSError as exc:
        raise PyrtError(f"{label} {path}: {exc.strerror}") from None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise PyrtError(f"{label} {path}: not valid JSON ({exc})") from None
