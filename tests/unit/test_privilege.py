"""Who calls pyrt, and what follows: the state root, the cache directory, runc's --rootless, the planner."""

from __future__ import annotations

import os
import posix
from pathlib import Path

import pytest

from pyrt.common import posixos, privilege
from pyrt.common.errors import PyrtError


@pytest.fixture
def as_user(monkeypatch: pytest.MonkeyPatch) -> int:
    """A normal user (uid 4242) in the initial user namespace, as pyrt sees it."""
    monkeypatch.setattr(posixos, "geteuid", lambda: 4242)
    monkeypatch.setattr(privilege, "in_user_namespace", lambda: False)
    return 4242


@pytest.fixture
def as_host_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(posixos, "geteuid", lambda: 0)
    monkeypatch.setattr(privilege, "in_user_namespace", lambda: False)


@pytest.fixture
def as_userns_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(posixos, "geteuid", lambda: 0)
    monkeypatch.setattr(privilege, "in_user_namespace", lambda: True)


def env(monkeypatch: pytest.MonkeyPatch, **values: str | None) -> None:
    for key, value in values.items():
        if value is None:
            monkeypatch.delitem(posix.environ, key.encode(), raising=False)
        else:
            monkeypatch.setitem(posix.environ, key.encode(), value.encode())


def test_state_root_for_root_ignores_xdg(as_host_root: None, monkeypatch: pytest.MonkeyPatch) -> None:
    env(monkeypatch, XDG_RUNTIME_DIR="/run/user/0")
    assert privilege.state_root(None) == "/run/pyrt"
    assert privilege.state_root("/elsewhere") == "/elsewhere"


def test_state_root_for_a_user(as_user: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(posixos, "stat", lambda p: os.stat_result((0o40700, 0, 0, 0, as_user, 0, 0, 0, 0, 0)))
    env(monkeypatch, XDG_RUNTIME_DIR=str(tmp_path))
    assert privilege.state_root(None) == f"{tmp_path}/pyrt"
    assert privilege.state_root("/given") == "/given"


def test_state_root_refuses_a_missing_or_foreign_runtime_dir(as_user: int, monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    env(monkeypatch, XDG_RUNTIME_DIR=None)
    with pytest.raises(PyrtError, match=r"XDG_RUNTIME_DIR is not set"):
        privilege.state_root(None)
    env(monkeypatch, XDG_RUNTIME_DIR=str(tmp_path))  # owned by root (the test runs as root) or by the runner
    if tmp_path.stat().st_uid != as_user:
        with pytest.raises(PyrtError, match=rf"owned by uid {tmp_path.stat().st_uid}, not by this user \(uid 4242\)"):
            privilege.state_root(None)
    (tmp_path / "file").write_text("")
    env(monkeypatch, XDG_RUNTIME_DIR=str(tmp_path / "file"))
    with pytest.raises(PyrtError, match="not a directory"):
        privilege.state_root(None)
    env(monkeypatch, XDG_RUNTIME_DIR=str(tmp_path / "missing"))
    with pytest.raises(PyrtError, match="No such file or directory"):
        privilege.state_root(None)


def test_state_root_in_a_user_namespace_follows_runc(as_userns_root: None, monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    """runc's rule for root of a user namespace: XDG_RUNTIME_DIR unless USER is root."""
    env(monkeypatch, XDG_RUNTIME_DIR=str(tmp_path), USER="alice")
    monkeypatch.setattr(posixos, "stat", lambda p: os.stat_result((0o40700, 0, 0, 0, 0, 0, 0, 0, 0, 0)))
    assert privilege.state_root(None) == f"{tmp_path}/pyrt"
    env(monkeypatch, USER="root")
    assert privilege.state_root(None) == "/run/pyrt"
    env(monkeypatch, USER="alice", XDG_RUNTIME_DIR=None)
    assert privilege.state_root(None) == "/run/pyrt"


@pytest.mark.parametrize(("flag", "root", "userns", "expected"), [
    ("auto", True, False, False), ("auto", False, False, True), ("auto", True, True, True),
    ("true", True, False, True), ("false", False, False, False),
])
def test_the_rootless_flag(monkeypatch: pytest.MonkeyPatch, flag: str, root: bool, userns: bool,
                          expected: bool) -> None:
    monkeypatch.setattr(posixos, "geteuid", lambda: 0 if root else 1000)
    monkeypatch.setattr(privilege, "in_user_namespace", lambda: userns)
    assert privilege.rootless(flag) is expected


def test_cache_dir_is_per_user(as_user: int, monkeypatch: pytest.MonkeyPatch) -> None:
    env(monkeypatch, PYRT_CACHE_DIR=None, XDG_CACHE_HOME=None, HOME="/home/alice")
    assert privilege.cache_dir() == "/home/alice/.cache/pyrt"
    env(monkeypatch, XDG_CACHE_HOME="/var/tmp/alice-cache")
    assert privilege.cache_dir() == "/var/tmp/alice-cache/pyrt"
    env(monkeypatch, XDG_CACHE_HOME=None, HOME="/")
    assert privilege.cache_dir() is None  # nowhere of its own: no cache, never root's
    env(monkeypatch, PYRT_CACHE_DIR="/explicit")
    assert privilege.cache_dir() == "/explicit"


def test_cache_dir_for_root(as_host_root: None, monkeypatch: pytest.MonkeyPatch) -> None:
    env(monkeypatch, PYRT_CACHE_DIR=None, HOME="/root")
    assert privilege.cache_dir() == "/var/cache/pyrt"


def test_no_cache_directory_means_misses(as_user: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from pyrt.common import cache

    env(monkeypatch, PYRT_CACHE_DIR=None, XDG_CACHE_HOME=None, HOME=None)
    cache.put("plans", "k", {"a": 1})
    assert cache.get("plans", "k") is None
    assert cache.stats()["kinds"] == {} and cache.clear() == 0


def test_a_user_never_asks_root_s_planner(as_user: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Even with a socket there (the planner's is root's and plans for root's containers)."""
    import socket

    from pyrt.planning import planner_client

    path = tmp_path / "planner.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as listener:
        listener.bind(str(path))
        listener.listen(1)
        env(monkeypatch, PYRT_PLANNER_SOCKET=str(path))
        assert planner_client.ask({"key": "k"}) == (None, "")
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected


def test_rootless_spec_is_runc_s_transformation() -> None:
    from pyrt.config.template import default_spec, rootless_spec

    spec = rootless_spec(default_spec(), 1000, 1001)
    cgroup_ns = ["cgroup"] if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else []  # as runc spec
    assert [ns["type"] for ns in spec["linux"]["namespaces"]] == ["pid", "ipc", "uts", "mount", *cgroup_ns, "user"]
    assert list(spec["linux"])[:2] == ["uidMappings", "gidMappings"] and "resources" not in spec["linux"]
    assert spec["linux"]["gidMappings"] == [{"containerID": 0, "hostID": 1001, "size": 1}]
    sys_mount = next(m for m in spec["mounts"] if m["destination"] == "/sys")
    assert sys_mount == {"destination": "/sys", "type": "none", "source": "/sys",
                         "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
    assert not [o for m in spec["mounts"] for o in m.get("options", []) if o.startswith(("uid=", "gid="))]


@pytest.mark.parametrize(("euid", "uid_map", "gid_map", "how"), [
    (0, "0 100000 65536\n", "0 100000 65536\n", "write"),
    (1000, "0 1000 1\n", "0 1000 1\n", "own"),
    (1000, "5 1000 1\n", "5 1000 1\n", "own"),
    (1000, "0 1000 1\n1 100000 65536\n", "0 1000 1\n", "helpers"),
    (1000, "0 1000 2\n", "0 1000 1\n", "helpers"),
    (1000, "0 1001 1\n", "0 1000 1\n", "helpers"),
])
def test_who_writes_the_id_maps(monkeypatch: pytest.MonkeyPatch, euid: int, uid_map: str, gid_map: str,
                                how: str) -> None:
    from pyrt.linux import idmap

    monkeypatch.setattr(posixos, "geteuid", lambda: euid)
    monkeypatch.setattr(posixos, "getegid", lambda: euid)
    assert idmap.how_to_map(uid_map, gid_map) == how


def test_host_uid_through_the_uid_map(monkeypatch: pytest.MonkeyPatch) -> None:
    """Root of a rootless engine's user namespace is, to the host (and its user bus), the user who made it."""
    monkeypatch.setattr(privilege, "_uid_map", lambda: [(0, 1000, 1), (1, 100000, 65536)])
    monkeypatch.setattr(posixos, "geteuid", lambda: 0)
    assert privilege.host_uid() == 1000 and privilege.in_user_namespace()
    monkeypatch.setattr(posixos, "geteuid", lambda: 5)
    assert privilege.host_uid() == 100004
    monkeypatch.setattr(privilege, "_uid_map", lambda: [(0, 0, 4294967295)])
    assert privilege.host_uid() == 5 and not privilege.in_user_namespace()
