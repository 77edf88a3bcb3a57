"""Error types.  The CLI prints any PyrtError as one line: ``pyrt: <message>``."""

from __future__ import annotations


class PyrtError(Exception):
    """An error a user can act on; its text is the whole message."""


class SpecError(PyrtError):
    """config.json is invalid; the message starts with the JSON path."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.json_path = path


def to_wire(exc: PyrtError) -> list[str]:
    """An error as a planning process sends it (the planner, planning/in_child.py): [JSON path or "", whole message]."""
    return [getattr(exc, "json_path", ""), str(exc)]


def from_wire(error: list[str]) -> PyrtError:
    """to_wire()'s error, as it was raised where it was planned (SpecError keeps its JSON path)."""
    if not error[0]:
        return PyrtError(error[1])
    err = SpecError("", error[1])  # the message is whole already: it starts with the path
    err.json_path = error[0]
    return err


class StateError(PyrtError):
    """The operation does not fit the container's state (unknown id, not stopped, ...)."""


class SetupError(PyrtError):
    """Building the container failed at a named step."""

    def __init__(self, step: str, problem: str) -> None:
        super().__init__(f"{step}: {problem}")
        self.step = step


class ProtocolError(PyrtError):
    """The parent and the child disagree about the sync protocol."""


class InitError(PyrtError):
    """The container's init failed; the message is the child's, already complete."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message or f"{step}: failed")
        self.step = step
