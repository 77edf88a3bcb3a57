"""AppArmor's profile for the container's process (whether AppArmor is on: common/lsm_state.py).

The profile is asked for the next execve ("exec NAME" into the process's own attr file, as runc's
apparmor.ApplyProfile does), so it takes effect at the container's execve, after every other step.
The kernel refuses a profile that is not loaded (ENOENT).
"""

from __future__ import annotations

from pyrt.common import posixos as os
from pyrt.common.errors import PyrtError


def apparmor_exec(profile: str) -> None:
    """Ask for profile at this process's next execve (the thread's attr file; /proc/self's on kernels
    before 5.8, which have no apparmor/ folder)."""
    data = f"exec {profile}".encode()
    for path in ("/proc/thread-self/attr/apparmor/exec", "/proc/thread-self/attr/exec"):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise PyrtError(f"process.apparmorProfile: open {path}: {exc.strerror}") from None
        try:
            os.write(fd, data)
            return
        except FileNotFoundError:
            raise PyrtError(f"process.apparmorProfile: {profile!r} is not loaded (apparmor_parser -r it, "
                            "or name a loaded one: /sys/kernel/security/apparmor/profiles)") from None
        except OSError as exc:
            raise PyrtError(f"process.apparmorProfile: {profile!r}: {exc.strerror}") from None
        finally:
            os.close(fd)
    raise PyrtError("process.apparmorProfile: no AppArmor attr file in this container's /proc "
                    "(is /proc mounted?)")
