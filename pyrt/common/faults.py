"""Fault injection for the tests: PYRT_FAULT=<step> makes pyrt SIGKILL itself at that step of create,
or, for a DELAYS step, wait there half a second (to provoke an ordering a busy machine could produce).

The tests prove that a pyrt killed anywhere in create leaves nothing that `delete --force` cannot
remove.  Checking one environment variable costs nothing measurable.
"""

from __future__ import annotations

import _signal  # built in: the child may call delay() after it has blocked imports

from pyrt.common import posixos as os

STEPS = ("claimed", "state", "fifo", "forked", "cgroups", "joined", "spawned", "recorded")


DELAYS = ("late-pid",)  # the intermediate reports the pid it forked only after its child has run
# PYRT_FAULT=planning-child: a forked planning child (planning/in_child.py) kills itself before it answers.


def delay(step: str) -> None:
    if os.getenv("PYRT_FAULT") == step:
        _signal.sigtimedwait([_signal.SIGUSR2], 0.5)  # a sleep without importing time


def point(step: str) -> None:
    if os.getenv("PYRT_FAULT") == step:
        os.kill(os.getpid(), 9)
