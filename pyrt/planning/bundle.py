"""From a bundle directory to a plan: read config.json, then plan it, through the cache.

A cache hit needs neither attrs (~45 ms to import here) nor pyseccomp: the
planner's whole output is plain data keyed by everything that shapes it.
"""

from __future__ import annotations

from pyrt.common import cache
from pyrt.common import posixos as os
from pyrt.common.errors import SpecError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyrt.config.spec import Spec

def read_config(bundle: str) -> tuple[bytes, str]:
    config_path = os.path.join(bundle, "config.json")
    try:
        with open(config_path, "rb") as fh:
            return fh.read(), config_path
    except FileNotFoundError:
        if not os.path.isdir(bundle):
            raise SpecError("", f"bundle {bundle}: no such directory") from None
        raise SpecError("", f"bundle {os.path.abspath(bundle)}: no config.json in it (the bundle is the current "
                        "directory unless --bundle DIR names one)") from None
    except OSError as exc:
        raise SpecError("", f"{config_path}: {exc.strerror}") from None


def _security_opt(value: str | None) -> tuple[str | None, bytes]:
    """--security-opt seccomp=unconfined|default|FILE -> (source, bytes that key the cache)."""
    if value is None:
        return None, b""
    key, _, source = value.partition("=")
    if key != "seccomp" or not source:
        raise SpecError("--security-opt", f"unsupported option {value!r} (pyrt takes seccomp=unconfined|default|FILE)")
    if source in ("unconfined", "default"):
        return source, source.encode()
    try:
        with open(source, "rb") as fh:
            return os.path.abspath(source), fh.read()
    except OSError as exc:
        raise SpecError("--security-opt", f"{source}: {exc.strerror}") from None


def plan_bundle(bundle: str, security_opt: str | None = None, meanwhile: Callable[[], object] | None = None,
                put_later: bool = False, **options: Any) -> tuple[dict[str, Any], list[str], list[str], str]:
    """(plan, warnings, debug messages, where it came from: "cache", "planner" or "built").

    meanwhile() runs while the planner plans, if it is asked (planner_client.ask).  put_later: a new plan
    goes into the cache at the caller's cache.flush()."""
    raw, config_path = read_config(bundle)
    seccomp_source, seccomp_bytes = _security_opt(security_opt)
    k = plan_key(raw, bundle, options, seccomp_source, seccomp_bytes, cache.code_stamp())
    hit = cache.get("plans", k)
    if isinstance(hit, dict) and hit.get("kind") == "plan" and isinstance(hit.get("plan"), dict):
        recheck_host(hit["plan"])
        return hit["plan"], list(hit["warnings"]), list(hit["debug"]), "cache"
    from pyrt.planning import planner_client

    answer, why = planner_client.consult(
        {"key": k, "config": raw, "config_path": config_path, "bundle": bundle, "options": options,
         "seccomp_source": seccomp_source, "seccomp_bytes": seccomp_bytes},
        lambda a: planner_client.check_plan(a.get("plan"), bundle, options), meanwhile)
    if answer is not None:
        plan, warnings, debug = answer["plan"], answer["warnings"], answer["debug"]
        recheck_host(plan)
        cache.put("plans", k, {"kind": "plan", "plan": plan, "warnings": warnings, "debug": debug}, put_later)
        return plan, list(warnings), list(debug), "planner"
    from pyrt.planning import in_child

    (plan, warnings, debug), unforked = in_child.planned(build_plan, raw, config_path, bundle, seccomp_source, options,
                                                      True, meanwhile=meanwhile)  # True: overlap
    cache.put("plans", k, {"kind": "plan", "plan": plan, "warnings": warnings, "debug": debug}, put_later)
    notes = [f"{why}; planned in-process"] if why else []
    return plan, warnings + notes + ([f"{unforked}; planned without a child"] if unforked else []), debug, "built"


def plan_key(raw: bytes, bundle: str, options: dict[str, Any], seccomp_source: str | None, seccomp_bytes: bytes,
             code: Any) -> str:
    """Everything that shapes a plan: the config, the bundle, the options, a --security-opt file's bytes,
    pyrt's code and the host (kernel, capabilities, libseccomp, cgroup layout)."""
    return cache.key("plan", raw, bundle, sorted(options.items()), seccomp_source, seccomp_bytes, code,
                     cache.host_stamp())


def build_plan(raw: bytes, config_path: str, bundle: str, seccomp_source: str | None,
               options: dict[str, Any], overlap: bool = False) -> tuple[dict[str, Any], list[str], list[str]]:
    """Parse and plan (attrs, and pyseccomp unless the BPF is cached): the expensive part.  overlap: a
    cold process (not the warm planner) compiles the config's seccomp section in a forked child while it
    imports the spec model (_parse_while_compiling)."""
    from pyrt.common.jsonread import parse_json_bytes

    data = parse_json_bytes(raw, config_path)
    spec = _parse_while_compiling(data) if overlap and seccomp_source is None else None
    from pyrt.config.spec import parse_spec
    from pyrt.planning import plan as planner

    if spec is None:
        spec = parse_spec(data)
    debug: list[str] = []
    plan, warnings = planner.build(spec, bundle=bundle, debug=debug, seccomp_source=seccomp_source, **options)
    return plan, warnings, debug


def _parse_while_compiling(data: Any) -> Spec | None:
    """The config's own seccomp section compiled in a forked child while this process imports attrs and
    the spec model and parses the config: the two took ~25 and ~45 ms one after the other, and this
    process never loads pyseccomp or libseccomp (its peak is the spec model's).  None when there is
    nothing to compile (no section, or the BPF cache has it): the caller parses, as it would have."""
    linux = data.get("linux") if isinstance(data, dict) else None
    section = linux.get("seccomp") if isinstance(linux, dict) else None
    if not isinstance(section, dict):
        return None
    from pyrt.seccomp import compiler

    if compiler.cached(compiler.section_key(section)) is not None:
        return None
    from pyrt.planning import in_child

    parsed: list[Spec] = []

    def parse() -> None:
        from pyrt.config.spec import parse_spec  # attrs: the import the compilation overlaps

        parsed.append(parse_spec(data))

    try:
        got, _why = in_child.call(compiler.compiled, section, "linux.seccomp", meanwhile=parse)
    except SpecError:
        if not parsed:
            raise  # the config's own error, found here
        return parsed[0]  # the section's: planning compiles it again and raises it in its place
    if got is not None:  # else (no answer) planning compiles it here
        compiler.remember(*got)
    return parsed[0]


def recheck_host(plan: dict[str, Any]) -> None:
    """Host facts a cached plan relied on, checked again (cheap stats, no parsing)."""
    if not os.path.isdir(plan["rootfs"]):
        raise SpecError("root.path", f"{plan['rootfs']}: no such directory")
    for ns_type, _flag, path in plan["join_ns"]:
        if not os.path.exists(path):
            raise SpecError("linux.namespaces", f"{ns_type} namespace {path}: no such file")
    for m in plan["mounts"]:
        why = os.path.unreachable(m["source"]) if m["bind"] else None
        if why is not None:
            raise SpecError(f"{m['json_path']}.source", f"{m['source']}: {why}")
