"""A small content-addressed cache of plain data (marshal), for plans and seccomp BPF.

Contract: entries live in ``$PYRT_CACHE_DIR`` (default /var/cache/pyrt for root, the
user's ~/.cache/pyrt for anyone else, none without a home), never inside a --root
(where a name could be a container id); each is written to a temporary file and
renamed into place, so concurrent pyrt processes filling the same entry both
succeed and a reader never sees half an entry; a corrupt or truncated entry reads
as a miss and is rebuilt; the total size is bounded and the oldest entries (by last
use) are evicted first.  Only built-in modules are imported.
"""

from __future__ import annotations

import marshal

from pyrt.common import lsm_state, privilege
from pyrt.common import posixos as os
from pyrt.common.version import VERSION

try:
    from _sha256 import sha256
except ImportError:  # pragma: no cover - other builds
    from hashlib import sha256

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_LIBSECCOMP = "/usr/lib/x86_64-linux-gnu/libseccomp.so.2"
MAGIC = b"pyrt-cache-1\n"
MAX_BYTES = 64 << 20
# Eviction scans the whole kind (a stat per entry: 3.9 ms for 916 plans here, ~25 ms at the limit), and
# engines put a new plan for every container: so only one put in EVICT_ONE_IN, at random, looks.  A kind
# can pass its limit by about that many entries between two looks.
EVICT_ONE_IN = 16


def cache_dir() -> str | None:
    """Per user (common/privilege.py): root's /var/cache/pyrt is never read or written by anyone else."""
    return privilege.cache_dir()


def key(*parts: Any) -> str:
    h = sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else repr(part).encode()
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return str(h.hexdigest())


def get(kind: str, k: str) -> Any:
    """The cached value, or None on a miss (including a corrupt entry, and no cache at all)."""
    top = cache_dir()
    if top is None:
        return None
    path = os.path.join(top, kind, k)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    if not raw.startswith(MAGIC):
        return None
    try:
        value = marshal.loads(raw[len(MAGIC):])
    except (EOFError, ValueError, TypeError):
        return None
    try:
        os.utime(path)  # last use, for eviction
    except OSError:
        pass
    return value


_later: list[tuple[str, str, bytes]] = []


def put(kind: str, k: str, value: Any, later: bool = False) -> None:
    """Store atomically; failures to cache are never errors for the caller.  later: the value is taken
    now and written by flush(), when the caller has time (create: while init builds its rootfs)."""
    try:
        data = MAGIC + marshal.dumps(value)
    except ValueError:
        return
    if later:
        _later.append((kind, k, data))
    else:
        _write(kind, k, data)


def flush() -> None:
    """Write what put(later=True) kept."""
    while _later:
        _write(*_later.pop(0))


def _write(kind: str, k: str, data: bytes) -> None:
    top = cache_dir()
    if top is None:
        return
    directory = os.path.join(top, kind)
    try:
        os.makedirs(top, mode=0o700, exist_ok=True)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        tmp = os.path.join(directory, f".{k}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.rename(tmp, os.path.join(directory, k))
        if os.urandom(1)[0] % EVICT_ONE_IN == 0:
            evict(kind)
    except OSError:
        pass


def _entries(kind: str) -> list[tuple[float, int, str]]:
    out: list[tuple[float, int, str]] = []
    top = cache_dir()
    if top is None:
        return out
    try:
        with os.scandir(os.path.join(top, kind)) as it:
            for e in it:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                out.append((st.st_mtime, st.st_size, e.path))
    except OSError:
        pass
    return out


def evict(kind: str, limit: int | None = None) -> int:
    """Remove the oldest entries until the kind's total is under the limit (MAX_BYTES); returns how many."""
    limit = MAX_BYTES if limit is None else limit
    entries = sorted(_entries(kind))
    total = sum(size for _, size, _ in entries)
    removed = 0
    for _, size, path in entries:
        if total <= limit:
            break
        try:
            os.unlink(path)
            removed += 1
        except OSError:
            pass
        total -= size
    return removed


def stats() -> dict[str, Any]:
    out: dict[str, Any] = {"dir": cache_dir(), "limit_bytes_per_kind": MAX_BYTES, "kinds": {}}
    try:
        kinds = sorted(os.listdir(out["dir"])) if out["dir"] else []
    except OSError:
        kinds = []
    for kind in kinds:
        entries = _entries(kind)
        out["kinds"][kind] = {"entries": len(entries), "bytes": sum(size for _, size, _ in entries)}
    return out


def clear() -> int:
    removed = 0
    for kind in stats()["kinds"]:
        for _, _, path in _entries(kind):
            try:
                os.unlink(path)
                removed += 1
            except OSError:
                pass
    return removed


_code: list[tuple[Any, ...]] = []


def code_stamp() -> tuple[Any, ...]:
    """Identifies this pyrt's code: a changed source file never reuses an old plan.

    Taken once per process (a stat of every source file, ~0.4 ms): the code a process runs is what it
    imported when it started, so a planner that outlives an upgrade keeps its old stamp, and the
    CLI's new keys then differ from the ones it computes: it refuses them (planner_client falls back)."""
    if not _code:
        _code.append(_scan_code())
    return _code[0]


def _scan_code() -> tuple[Any, ...]:
    """The newest mtime and the number of pyrt's .py files: the package and each package in it."""
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # <root>/pyrt/common/cache.py
    newest, count, dirs = 0, 0, [top]
    while dirs:
        with os.scandir(dirs.pop()) as it:
            for e in it:
                if e.name.endswith(".py"):
                    newest = max(newest, e.stat().st_mtime_ns)
                    count += 1
                elif e.name != "__pycache__" and e.is_dir(follow_symlinks=False):
                    dirs.append(e.path)
    return VERSION, newest, count


def host_stamp() -> tuple[Any, ...]:
    try:
        lib = os.stat(_LIBSECCOMP)
        libseccomp: tuple[Any, ...] = (os.path.resolved(_LIBSECCOMP), lib.st_size, lib.st_mtime_ns)
    except OSError:
        libseccomp = ()
    try:
        with open("/proc/sys/kernel/cap_last_cap") as fh:
            last_cap = fh.read()
    except OSError:
        last_cap = ""
    cgroups = (os.path.exists("/sys/fs/cgroup/cgroup.controllers"), os.path.isdir("/sys/fs/cgroup/unified"))
    return os.uname().release, last_cap, libseccomp, cgroups, (lsm_state.apparmor_enabled(),
                                                               lsm_state.selinux_enforcing())
