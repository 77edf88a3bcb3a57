"""Fault injection for the tests: PYRT_FAULT=<step> makes pyrt SIGKILL itself at that step of create.

The tests prove that a pyrt killed anywhere in create leaves nothing that `delete --force` cannot
remove.  Checking one environment variable costs nothing measurable.
"""

from __future__ import annotations

import os

STEPS = ("claimed", "state", "fifo", "cgroups", "forked", "joined", "spawned", "recorded")


def point(step: str) -> None:
    if os.environ.get("PYRT_FAULT") == step:
        os.kill(os.getpid(), 9)
