"""A typed reader over parsed JSON that names the JSON path in every error."""

from __future__ import annotations

import json
from typing import Any

from pyrt.common.errors import SpecError


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise SpecError("", f"duplicate key {json.dumps(key)}")
        out[key] = value
    return out


def parse_json_bytes(raw: bytes, where: str) -> Any:
    """Parse JSON strictly: UTF-8, no duplicate keys; errors name the file."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError("", f"{where}: not valid UTF-8 at byte {exc.start}") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except SpecError as exc:
        raise SpecError("", f"{where}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise SpecError("", f"{where}: invalid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise SpecError("", f"{where}: invalid JSON: nested too deeply") from None


def _typename(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class Reader:
    """Wraps one JSON object at a known path."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise SpecError(path or "(top level)", f"expected an object, got {_typename(data)}")
        self.data: dict[str, Any] = data
        self.path = path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def obj(self, key: str, required: bool = False) -> Reader | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise SpecError(self.at(key), "required")
            return None
        return Reader(value, self.at(key))

    def string(self, key: str, default: str | None = None, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise SpecError(self.at(key), "required")
            return default
        if not isinstance(value, str):
            raise SpecError(self.at(key), f"expected a string, got {_typename(value)}")
        if "\x00" in value:
            raise SpecError(self.at(key), "contains a NUL byte")
        return value

    def integer(self, key: str, default: int | None = None, lo: int = -(2**63), hi: int = 2**64 - 1,
            required: bool = False) -> int | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise SpecError(self.at(key), "required")
            return default
        return check_int(value, self.at(key), lo, hi)

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise SpecError(self.at(key), f"expected a boolean, got {_typename(value)}")
        return value

    def array(self, key: str) -> list[tuple[Any, str]]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise SpecError(self.at(key), f"expected an array, got {_typename(value)}")
        return [(item, f"{self.at(key)}[{i}]") for i, item in enumerate(value)]

    def objs(self, key: str) -> list[Reader]:
        return [Reader(item, path) for item, path in self.array(key)]

    def strs(self, key: str) -> tuple[str, ...]:
        out = []
        for item, path in self.array(key):
            if not isinstance(item, str):
                raise SpecError(path, f"expected a string, got {_typename(item)}")
            if "\x00" in item:
                raise SpecError(path, "contains a NUL byte")
            out.append(item)
        return tuple(out)

    def ints(self, key: str, lo: int = 0, hi: int = 2**32 - 1) -> tuple[int, ...]:
        return tuple(check_int(item, path, lo, hi) for item, path in self.array(key))

    def strmap(self, key: str) -> dict[str, str]:
        sub = self.obj(key)
        if sub is None:
            return {}
        out = {}
        for name in sub.data:
            out[name] = sub.string(name, default="") or ""
        return out


def check_int(value: Any, path: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(path, f"expected an integer, got {_typename(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise SpecError(path, f"expected an integer, got {value}")
        value = int(value)
    if value < lo or value > hi:
        raise SpecError(path, f"{value} is out of range [{lo}, {hi}]")
    return int(value)
