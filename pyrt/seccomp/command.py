"""`pyrt seccomp ...`: render, convert, check, explain and diff profiles."""

from __future__ import annotations

import json
from typing import Any

from pyrt.common.errors import PyrtError
from pyrt.common.log import log
from pyrt.seccomp import profiles


def seccomp_command(args: Any) -> int:
    """Exit codes: default/convert/explain 0 or 1; check 0 allowed, 1 not; diff 0 alike, 1 not; 2 bad input."""
    try:
        return _run(args)
    except PyrtError as exc:
        if args.action not in ("check", "diff"):
            raise
        log.error(str(exc))
        return 2


def _run(args: Any) -> int:
    from pyrt.seccomp import tools

    caps = profiles.DOCKER_DEFAULT_CAPS if args.caps is None else profiles.cap_names(args.caps)
    arch = profiles.arch_name(args.arch) if args.arch else profiles.host_arch()
    if args.action in ("default", "convert"):
        source = "default" if args.action == "default" else args.file
        section = profiles.render(profiles.load(source), caps, arch)
        from pyrt.seccomp.compiler import compile_section

        compile_section(section, "linux.seccomp")  # refuse, naming the field, what no runtime could load
        print(json.dumps(section, indent=2))
        return 0
    if args.action == "check":
        allowed, text = tools.check(args.profile, args.syscall, args.args, caps, arch)
        print(text)
        return 0 if allowed else 1
    if args.action == "explain":
        print(tools.explain(args.profile, caps, arch))
        return 0
    compared, differ, lines = tools.diff(args.a, args.b, caps, arch)
    for line in lines:
        print(line)
    print(f"{differ} of {compared} decisions differ ({arch}, {len(caps)} capabilities)")
    return 1 if differ else 0
