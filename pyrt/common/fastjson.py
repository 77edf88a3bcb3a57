"""JSON for the hot commands without importing ``json`` (which pulls in ``re`` and
``enum``: ~10 ms on this machine), nor even its C module ``_json`` (a shared object:
0.4 ms of every `state`, `start`, `kill` and `delete`).  Strings are escaped with one
``str.translate`` and read with ``str.find``; the rest is a small recursive-descent
reader for pyrt's own state files.  Input that is not plain JSON raises ValueError.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_WS = " \t\n\r"
_ESCAPE = {**{c: f"\\u{c:04x}" for c in range(32)}, 8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r",
           ord('"'): '\\"', ord("\\"): "\\\\"}
_UNESCAPE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_HEX = frozenset("0123456789abcdefABCDEF")


def encode_basestring(text: str) -> str:
    """A JSON string literal, non-ASCII kept as is (json.dumps(..., ensure_ascii=False))."""
    return '"' + text.translate(_ESCAPE) + '"'


def _hex4(s: str, i: int) -> int:
    digits = s[i:i + 4]
    if len(digits) != 4 or not _HEX.issuperset(digits):
        raise ValueError(f"invalid \\u escape at offset {i - 2}")
    return int(digits, 16)


def scanstring(s: str, i: int) -> tuple[str, int]:
    """The string whose opening quote is at i - 1, and the offset after its closing quote."""
    parts = []
    while True:
        quote, slash = s.find('"', i), s.find("\\", i)
        if quote < 0:
            raise ValueError(f"unterminated string at offset {i - 1}")
        end = slash if 0 <= slash < quote else quote
        chunk = s[i:end]
        if not chunk.isprintable() and any(c < " " for c in chunk):
            raise ValueError(f"control character in a string near offset {i}")
        parts.append(chunk)
        if end == quote:
            return "".join(parts), quote + 1
        kind = s[slash + 1:slash + 2]
        if kind == "u":
            code, i = _hex4(s, slash + 2), slash + 6
            if 0xD800 <= code < 0xDC00 and s[i:i + 2] == "\\u":
                low = _hex4(s, i + 2)
                if 0xDC00 <= low < 0xE000:
                    code, i = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00), i + 6
            parts.append(chr(code))
        elif kind in _UNESCAPE:
            parts.append(_UNESCAPE[kind])
            i = slash + 2
        else:
            raise ValueError(f"invalid escape at offset {slash}")


def dumps(obj: Any, indent: int | None = None, _level: int = 0) -> str:
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, str):
        return encode_basestring(obj)
    if isinstance(obj, (int, float)):
        return repr(obj)
    if isinstance(obj, dict):
        items = [f"{encode_basestring(str(k))}:{' ' if indent else ''}{dumps(v, indent, _level + 1)}"
                 for k, v in obj.items()]
        return _join("{", items, "}", indent, _level)
    if isinstance(obj, (list, tuple)):
        return _join("[", [dumps(v, indent, _level + 1) for v in obj], "]", indent, _level)
    raise TypeError(f"cannot encode {type(obj).__name__}")


def _join(open_: str, items: list[str], close: str, indent: int | None, level: int) -> str:
    if not items:
        return open_ + close
    if not indent:
        return open_ + ",".join(items) + close
    pad = "\n" + " " * (indent * (level + 1))
    return open_ + pad + ("," + pad).join(items) + "\n" + " " * (indent * level) + close


def loads(text: str) -> Any:
    value, end = _value(text, _skip(text, 0))
    if _skip(text, end) != len(text):
        raise ValueError(f"extra data at offset {end}")
    return value


def _skip(s: str, i: int) -> int:
    while i < len(s) and s[i] in _WS:
        i += 1
    return i


def _after_member(s: str, i: int, close: str) -> tuple[int, bool]:
    """After an object member or array item: skip a ',' (False) or the closing bracket (True)."""
    i = _skip(s, i)
    if i < len(s) and s[i] == ",":
        return _skip(s, i + 1), False
    if i < len(s) and s[i] == close:
        return i + 1, True
    raise ValueError(f"expected ',' or '{close}' at offset {i}")


def _value(s: str, i: int) -> tuple[Any, int]:
    if i >= len(s):
        raise ValueError("unexpected end of input")
    c = s[i]
    if c == '"':
        return scanstring(s, i + 1)
    if c == "{":
        out: dict[str, Any] = {}
        i = _skip(s, i + 1)
        if i < len(s) and s[i] == "}":
            return out, i + 1
        while True:
            if i >= len(s) or s[i] != '"':
                raise ValueError(f"expected a key at offset {i}")
            key, i = scanstring(s, i + 1)
            i = _skip(s, i)
            if i >= len(s) or s[i] != ":":
                raise ValueError(f"expected ':' at offset {i}")
            out[key], i = _value(s, _skip(s, i + 1))
            i, done = _after_member(s, i, "}")
            if done:
                return out, i
    if c == "[":
        items: list[Any] = []
        i = _skip(s, i + 1)
        if i < len(s) and s[i] == "]":
            return items, i + 1
        while True:
            item, i = _value(s, i)
            items.append(item)
            i, done = _after_member(s, i, "]")
            if done:
                return items, i
    for word, val in (("true", True), ("false", False), ("null", None)):
        if s.startswith(word, i):
            return val, i + len(word)
    j = i
    while j < len(s) and s[j] in "+-0123456789.eE":
        j += 1
    if j == i:
        raise ValueError(f"unexpected character {c!r} at offset {i}")
    num = s[i:j]
    return (float(num) if any(ch in num for ch in ".eE") else int(num)), j
