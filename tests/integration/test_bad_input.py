"""Bad input: one clear line on stderr, exit 1, and the host exactly as before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Runtime, busybox_config, clear_default_parents, default_parents

pytestmark = pytest.mark.root


def one_line_error(res: Any) -> str:
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pyrt: "), res.stderr
    assert "Traceback" not in res.stderr
    return str(lines[0][len("pyrt: "):])


def create_error(rt: Runtime, cfg: dict[str, Any] | None = None, raw: bytes | None = None) -> str:
    bundle = rt.bundle(cfg)
    if raw is not None:
        (bundle / "config.json").write_bytes(raw)
    cid = rt.new_id()
    clear_default_parents()
    msg = one_line_error(rt("create", "-b", str(bundle), cid))
    assert one_line_error(rt("state", cid)) == f"container {cid} does not exist"
    assert default_parents() == set(), "a failed create left pyrt's /pyrt cgroup parent"
    return msg


def mutated(fn: Any) -> dict[str, Any]:
    cfg = busybox_config()
    fn(cfg)
    return cfg


@pytest.mark.parametrize("mutate, expected", [
    (lambda c: c["process"].update(args=[]), "process.args: must name the program to run"),
    (lambda c: c["process"].update(args=[1]), "process.args[0]: expected a string, got number"),
    (lambda c: c["linux"]["namespaces"].append({"type": "foo"}), "linux.namespaces[5].type: unknown namespace 'foo'"),
    (lambda c: c["process"]["rlimits"].append({"type": "RLIMIT_NOPE", "soft": 1, "hard": 1}),
     "process.rlimits[1].type: unknown rlimit 'RLIMIT_NOPE'"),
    (lambda c: c["root"].update(path="/nonexistent/rootfs"), "root.path: /nonexistent/rootfs: no such directory"),
    (lambda c: c["linux"]["namespaces"][1].update(path="/run/netns/pyrt-no-such-ns"),
     "linux.namespaces[1].path: /run/netns/pyrt-no-such-ns: no such file"),
    (lambda c: c["hostname"].__class__ and c.update(hostname=["x"]), "hostname: expected a string, got array"),
    (lambda c: c["process"].update(cwd="relative"), "process.cwd: must be an absolute path"),
])
def test_config_errors(rt: Runtime, mutate: Any, expected: str) -> None:
    assert create_error(rt, mutated(mutate)).startswith(expected)


def test_invalid_json(rt: Runtime) -> None:
    msg = create_error(rt, raw=b'{"ociVersion": "1.0.2",')
    assert msg.endswith("config.json: invalid JSON: Expecting property name enclosed in double quotes (line 1 "
                        "column 24)")


def test_systemd_cgroup_without_systemd(rt: Runtime) -> None:
    if Path("/run/systemd/system").is_dir():
        pytest.skip("systemd runs here: the VM lab's tests cover --systemd-cgroup")
    cid = rt.new_id()
    res = rt("--systemd-cgroup", "create", "-b", str(rt.bundle()), cid)
    assert one_line_error(res) == "--systemd-cgroup: systemd is not running on this host"
    assert not rt.leftovers()


@pytest.mark.parametrize("path, why", [
    ("/docker/x", 'linux.cgroupsPath: expected "slice:prefix:name" with --systemd-cgroup, got \'/docker/x\''),
    ("a--b.slice:p:x", "linux.cgroupsPath: 'a--b.slice' is not a valid slice name"),
])
def test_systemd_cgroup_paths_are_checked_before_anything_is_made(rt: Runtime, path: str, why: str) -> None:
    if not Path("/run/systemd/system").is_dir():
        pytest.skip("needs systemd (the VM lab)")
    cfg = busybox_config()
    cfg["linux"]["cgroupsPath"] = path
    cid = rt.new_id()
    assert one_line_error(rt("--systemd-cgroup", "create", "-b", str(rt.bundle(cfg)), cid)) == why
    assert not rt.leftovers()


def test_run_of_a_path_that_is_no_bundle(rt: Runtime, tmp_path: Path) -> None:
    """`pyrt run DIR` with a typo, or a folder without config.json: "no such bundle", not a bad id."""
    typo = tmp_path / "bundles" / "busybx"
    assert one_line_error(rt("run", str(typo))) == f"run {typo}: no such bundle ({typo}: no such directory)"
    (tmp_path / "empty").mkdir()
    res = rt("run", "empty", cwd=str(tmp_path))
    assert one_line_error(res) == "run empty: no such bundle (empty/config.json: no such file)"
    assert not rt.leftovers()


def test_missing_bundle_and_config(rt: Runtime, tmp_path: Path) -> None:
    msg = one_line_error(rt("create", "-b", str(tmp_path / "nope"), rt.new_id()))
    assert msg == f"bundle {tmp_path / 'nope'}: no such directory"
    (tmp_path / "empty").mkdir()
    msg = one_line_error(rt("create", "-b", str(tmp_path / "empty"), rt.new_id()))
    assert msg == (f"bundle {tmp_path / 'empty'}: no config.json in it (the bundle is the current directory unless "
                   "--bundle DIR names one)")


@pytest.mark.parametrize("script, expected", [
    (["nope-not-here"], "exec: 'nope-not-here': executable file not found in $PATH"),
    (["/bin/nope"], "exec: '/bin/nope': no such file or directory"),
])
def test_program_not_found_fails_create(rt: Runtime, script: list[str], expected: str) -> None:
    cfg = busybox_config()
    cfg["process"]["args"] = script
    assert create_error(rt, cfg) == expected


def test_late_failures_inside_init_leave_nothing(rt: Runtime) -> None:
    cfg = busybox_config()
    cfg["mounts"].append({"destination": "/x", "type": "nosuchfs", "source": "none"})
    assert create_error(rt, cfg) == "mount mounts[7]: /x: No such device"
    cfg = busybox_config()
    cfg["process"]["cwd"] = "/does/not/exist"
    assert create_error(rt, cfg) == "process.cwd /does/not/exist: No such file or directory"


def test_an_rlimit_above_the_callers_hard_limit_fails_create(rt: Runtime) -> None:
    """Raising a hard limit needs CAP_SYS_RESOURCE, which root lacks on this machine (and in many
    containers that run runtimes): init fails at that step, and the host is left as it was."""
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        pytest.skip("the hard RLIMIT_NOFILE is unlimited here")
    cfg = busybox_config()
    cfg["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": hard + 1}]
    with open("/proc/self/status") as fh:
        caps = int(next(line for line in fh if line.startswith("CapEff:")).split()[1], 16)
    if caps & (1 << 24):  # CAP_SYS_RESOURCE: the raise would succeed
        pytest.skip("this process has CAP_SYS_RESOURCE")
    assert create_error(rt, cfg) == "rlimit RLIMIT_NOFILE: Operation not permitted"


def test_duplicate_id_keeps_the_first(rt: Runtime) -> None:
    cid = rt.new_id()
    bundle = rt.bundle(args=["sleep", "30"])
    rt("create", "-b", str(bundle), cid, check=True)
    pid = rt.state(cid)["pid"]
    assert one_line_error(rt("create", "-b", str(bundle), cid)) == f"container with id '{cid}' already exists"
    assert rt.state(cid)["pid"] == pid and rt.state(cid)["status"] == "created"
    rt("delete", "--force", cid, check=True)


@pytest.mark.parametrize("cid", ["../../x", "a/b", "..", "."])
def test_invalid_ids_touch_nothing(rt: Runtime, cid: str) -> None:
    assert one_line_error(rt("create", "-b", str(rt.bundle()), cid)).startswith("invalid container id")
    assert not rt.root.exists()


def test_empty_id_is_a_usage_error(rt: Runtime) -> None:
    res = rt("create", "-b", str(rt.bundle()), "")
    assert res.returncode == 1 and res.stderr.startswith("pyrt: invalid container id")


@pytest.mark.parametrize("cmd", [["state"], ["start"], ["kill"], ["delete"]])
def test_unknown_id(rt: Runtime, cmd: list[str]) -> None:
    assert one_line_error(rt(*cmd, "no-such-container")) == "container no-such-container does not exist"


def test_usage_errors_exit_2_with_one_line(rt: Runtime) -> None:
    for argv in (["frobnicate"], ["state"], ["kill", "--bogus", "x"], ["list", "--format", "xml"]):
        res = rt(*argv)
        assert res.returncode == 2, argv
        assert len(res.stderr.splitlines()) == 1 and res.stderr.startswith("pyrt: "), res.stderr


def test_log_file_gets_the_error_as_runc_writes_it(rt: Runtime, tmp_path: Path) -> None:
    log = tmp_path / "log.json"
    res = rt("--log", str(log), "--log-format", "json", "state", "nope")
    assert res.returncode == 1 and res.stderr == "pyrt: container nope does not exist\n"
    entry = json.loads(log.read_text())
    assert entry["level"] == "error" and entry["msg"] == "container nope does not exist" and entry["time"].endswith("Z")
    text_log = tmp_path / "log.txt"
    rt("--log", str(text_log), "state", "nope")
    assert text_log.read_text().startswith('time="') and 'level=error msg="container nope does not exist"' in \
        text_log.read_text()


def test_warnings_go_to_the_log_when_given(rt: Runtime, tmp_path: Path) -> None:
    cfg = busybox_config()
    cfg["process"]["capabilities"]["bounding"].append("CAP_NOT_REAL")
    cfg["process"]["args"] = ["true"]
    log = tmp_path / "log.json"
    res = rt("--log", str(log), "--log-format", "json", "run", "-b", str(rt.bundle(cfg)), rt.new_id())
    assert (res.returncode, res.stderr) == (0, "")
    assert "CAP_NOT_REAL" in json.loads(log.read_text().splitlines()[0])["msg"]
    res = rt("run", "-b", str(rt.bundle(cfg)), rt.new_id())
    assert res.stderr.startswith("pyrt: warning: process.capabilities.bounding: ignoring unknown")
