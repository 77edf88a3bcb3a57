"""Whether AppArmor and SELinux are on: what planning decides a profile or label by, and what the plan
cache keys its plans on (a cached plan must not outlive a change, e.g. SELinux set to enforcing).
SELinux labels are never applied by pyrt: planning refuses them where SELinux enforces.
"""

from __future__ import annotations

# Where these are read; tests point them at a fake tree.
APPARMOR_ENABLED = "/sys/module/apparmor/parameters/enabled"
SELINUX_ENFORCE = "/sys/fs/selinux/enforce"


def apparmor_enabled() -> bool:
    return _reads(APPARMOR_ENABLED, "Y")


def selinux_enforcing() -> bool:
    return _reads(SELINUX_ENFORCE, "1")


def _reads(path: str, value: str) -> bool:
    try:
        with open(path) as fh:
            return fh.read().strip() == value
    except OSError:
        return False
