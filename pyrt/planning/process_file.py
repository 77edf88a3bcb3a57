"""exec's --process FILE -> the process part of a plan, through the plan cache, the warm planner or a
forked planning child, as bundle.py plans a config."""

from __future__ import annotations

from pyrt.common.errors import SpecError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def process_key(raw: bytes, code: Any) -> str:
    """The file's bytes, not its path: engines write every exec's process.json to a new file (Docker
    and containerd /tmp/runc-processNNN, Podman exec-process-NNN), so that a keyed path would make every
    exec a cache miss and import attrs (~45 ms); the same command's file has the same bytes."""
    from pyrt.common import cache

    return cache.key("process", raw, code, cache.host_stamp())


_PATH = "\0process-file\0"  # where a cached warning names the file: the path of the exec that uses it


def _portable(warnings: list[str], path: str) -> list[str]:
    return [w.replace(path, _PATH) for w in warnings]


def _named(warnings: list[str], path: str) -> list[str]:
    return [w.replace(_PATH, path) for w in warnings]


def build_process(raw: bytes, path: str) -> tuple[dict[str, Any], list[str]]:
    """Parse and plan a process.json (attrs: the expensive part, ~45 ms of imports here)."""
    from pyrt.common.jsonread import Reader, parse_json_bytes
    from pyrt.config.spec import parse_process
    from pyrt.planning.plan import process_plan

    proc = parse_process(Reader(parse_json_bytes(raw, path), ""))
    if proc.unsupported:
        raise SpecError(proc.unsupported[0], "not supported by this version of pyrt")
    warnings: list[str] = []
    return process_plan(proc, warnings, where=path), warnings


def plan_process_file(path: str, warnings: list[str], meanwhile: Callable[[], object] | None = None) -> dict[str, Any]:
    """--process FILE, through the plan cache and the planner, as create's config is; meanwhile() runs
    while the planner or a planning child plans, as create's does."""
    from pyrt.common import cache
    from pyrt.planning import planner_client

    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise SpecError("--process", f"{path}: {exc.strerror}") from None
    k = process_key(raw, cache.code_stamp())
    hit = cache.get("plans", k)
    if isinstance(hit, dict) and hit.get("kind") == "process" and isinstance(hit.get("process"), dict):
        warnings.extend(_named(hit["warnings"], path))
        proc: dict[str, Any] = hit["process"]
        return proc
    answer, why = planner_client.consult({"kind": "process", "key": k, "config": raw, "config_path": path},
                                     lambda a: planner_client.check_process(a.get("process")), meanwhile)
    if answer is not None:
        got: dict[str, Any] = answer["process"]
        cache.put("plans", k, {"kind": "process", "process": got, "warnings": _portable(answer["warnings"], path)})
        warnings.extend(answer["warnings"])
        return got
    from pyrt.planning import in_child

    (proc, more), unforked = in_child.planned(build_process, raw, path, meanwhile=meanwhile)
    cache.put("plans", k, {"kind": "process", "process": proc, "warnings": _portable(more, path)})
    warnings.extend(more + ([f"{why}; planned in-process"] if why else [])
                    + ([f"{unforked}; planned without a child"] if unforked else []))
    return proc
