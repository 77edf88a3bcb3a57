"""Container state under ``<root>/<id>/``: state.json written atomically under a lock.

Light on imports (os, json, fcntl): `state`, `kill`, `delete`, `list` and `start`
use this module and nothing heavy.  Status is derived, as runc does: a live init
(same pid *and* same start time, not a zombie) is ``created`` while exec.fifo
exists and ``running`` after; anything else is ``stopped``.
"""

from __future__ import annotations

import errno
import fcntl
import time

from pyrt.common import fastjson
from pyrt.common import posixos as os
from pyrt.common.errors import PyrtError, StateError
from pyrt.linux.processes import proc_stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STATE_FILE = "state.json"
FIFO = "exec.fifo"
PLAN_FILE = "plan.marshal"
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")


def validate_id(container_id: str) -> None:
    """runc's rule: letters, digits, ``_ + - .``; not ``.`` or ``..``; not empty."""
    if (not container_id or container_id in (".", "..") or not _ID_CHARS.issuperset(container_id)
            or len(container_id) > 1024):
        raise PyrtError(f"invalid container id {container_id!r}: use letters, digits and _ + - . only")


def now_rfc3339() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


class Store:
    def __init__(self, root: str) -> None:
        self.root = root

    def dir(self, container_id: str) -> str:
        validate_id(container_id)
        return os.path.join(self.root, container_id)

    def create(self, container_id: str) -> int:
        """Claim the id: exclusive mkdir, then lock.  Returns the locked directory fd."""
        path = self.dir(container_id)
        os.makedirs(self.root, mode=0o700, exist_ok=True)  # nobody else finds, reads or starts these
        try:
            os.mkdir(path, 0o711)
        except FileExistsError:
            raise StateError(f"container with id {container_id!r} already exists") from None
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def lock(self, container_id: str) -> int:
        """Lock an existing container's directory; StateError when it does not exist."""
        fd = self.try_lock(container_id)
        if fd is None:
            raise StateError(f"container {container_id} does not exist")
        return fd

    def try_lock(self, container_id: str) -> int | None:
        """Lock an existing container's directory; None when it does not exist."""
        try:
            fd = os.open(self.dir(container_id), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def write(self, container_id: str, state: dict[str, Any]) -> None:
        path = os.path.join(self.dir(container_id), STATE_FILE)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600), "w") as fh:
            fh.write(fastjson.dumps(state))  # its owner's alone: other users learn nothing from it
        from pyrt.linux import sys as S  # only create writes state, and it has the syscall layer loaded

        S.replace(tmp, path)

    def write_plan(self, container_id: str, plan: dict[str, Any]) -> None:
        """The container's plan (plain data, marshal), for exec."""
        import marshal

        path = os.path.join(self.dir(container_id), PLAN_FILE)
        with open(os.open(f"{path}.tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600), "wb") as fh:
            fh.write(marshal.dumps(plan))
        os.rename(f"{path}.tmp", path)

    def read_plan(self, container_id: str) -> dict[str, Any]:
        import marshal

        try:
            with open(os.path.join(self.dir(container_id), PLAN_FILE), "rb") as fh:
                plan = marshal.loads(fh.read())
        except (OSError, EOFError, ValueError, TypeError) as exc:
            raise StateError(f"container {container_id}: its plan is unreadable ({exc})") from None
        if not isinstance(plan, dict):
            raise StateError(f"container {container_id}: its plan is unreadable")
        return plan

    def read(self, container_id: str) -> dict[str, Any]:
        path = os.path.join(self.dir(container_id), STATE_FILE)
        try:
            with open(path) as fh:
                data = fastjson.loads(fh.read())
        except FileNotFoundError:
            raise StateError(f"container {container_id} does not exist") from None
        except (OSError, ValueError) as exc:
            raise StateError(f"{path}: unreadable state: {exc}") from None
        if not isinstance(data, dict):
            raise StateError(f"{path}: unreadable state")
        return data

    def remove(self, container_id: str) -> None:
        path = self.dir(container_id)
        for name in os.listdir(path) if os.path.isdir(path) else ():
            try:
                os.unlink(os.path.join(path, name))
            except OSError as exc:
                if exc.errno == errno.EBUSY:  # a pinned network namespace that was not released
                    from pyrt.network.cni import unpin_netns

                    unpin_netns(os.path.join(path, name))
                elif exc.errno != errno.ENOENT:
                    raise
        try:
            os.rmdir(path)
        except FileNotFoundError:
            pass

    def ids(self) -> list[str]:
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if os.path.isfile(os.path.join(self.root, n, STATE_FILE)))

    def fifo(self, container_id: str) -> str:
        return os.path.join(self.dir(container_id), FIFO)


def init_alive(state: dict[str, Any]) -> bool:
    pid = state.get("pid") or 0
    if pid <= 0:
        return False
    info = proc_stat(pid)
    if info is None or info[0] in ("Z", "X"):
        return False
    return info[1] == state.get("init_start_time")


def status(store: Store, state: dict[str, Any]) -> str:
    if state.get("status") == "creating":
        creator = proc_stat(state.get("creator_pid") or 0)
        if creator is None or creator[0] in ("Z", "X") or creator[1] != state.get("creator_start_time"):
            return "stopped"  # the pyrt that was creating it died: nothing will ever start it
        return "creating"
    if not init_alive(state):
        return "stopped"
    if os.path.exists(store.fifo(state["id"])):
        return "created"
    from pyrt.linux.freezer import frozen  # only for live containers

    if frozen(state.get("cgroup_leaves") or []):
        return "paused"
    return "running"


def oci_view(store: Store, state: dict[str, Any]) -> dict[str, Any]:
    """The OCI state object, in runc's key order."""
    st = status(store, state)
    out: dict[str, Any] = {
        "ociVersion": state["ociVersion"],
        "id": state["id"],
        "pid": state["pid"] if st in ("created", "running", "creating", "paused") else 0,
        "status": st,
        "bundle": state["bundle"],
        "rootfs": state["rootfs"],
        "created": state["created"],
        "owner": "",
    }
    if state.get("annotations"):
        out["annotations"] = state["annotations"]
    if state.get("network"):  # --network: the CNI result, shown as pyrt's own field
        out["network"] = {"name": state["network"]["name"], **state["network"].get("summary", {})}
    return out
