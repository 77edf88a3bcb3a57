"""create / start / state / kill / delete as a user and an engine observe them."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import ROOTFS, SHARED, Runtime, busybox_config, engine_config, reap, schema_validator

pytestmark = pytest.mark.root
LOOP = ["sh", "-c", "trap 'echo got-usr1 > /tmp/usr1; exit 7' USR1; while true; do sleep 0.05; done"]


def test_mission_form_runs_the_bundle(rt: Runtime) -> None:
    res = rt("run", str(Path(__file__).resolve().parents[2] / "bundles" / "busybox"))
    assert res.returncode == 0, res.stderr
    assert res.stdout == "hello from pyrt: pyrt-busybox, uid=0(root) gid=0(root)\n"
    assert res.stderr == ""


def test_run_by_id_in_bundle_dir(rt: Runtime) -> None:
    bundle = rt.bundle(args=["echo", "hi"])
    res = rt("run", rt.new_id(), cwd=bundle)
    assert (res.returncode, res.stdout) == (0, "hi\n")


def test_detached_run_prints_the_generated_id(rt: Runtime, tmp_path: Path) -> None:
    import subprocess

    from tests.conftest import PYRT

    bundle = rt.bundle(args=["sleep", "30"])
    out = tmp_path / "stdout"
    with open(out, "w") as fh:  # the container keeps the stdio it is given: a file, not a pipe to wait on
        subprocess.run([str(PYRT), "--root", str(rt.root), "run", "-d", str(bundle)], stdout=fh, check=True)
    cid = out.read_text().strip()
    rt.ids.append(cid)
    assert cid.startswith(bundle.name + "-") and len(cid) == len(bundle.name) + 9
    assert rt.state(cid)["status"] == "running"
    rt("delete", "--force", cid, check=True)


def test_run_exit_status(rt: Runtime) -> None:
    res = rt("run", "-b", str(rt.bundle(args=["sh", "-c", "exit 3"])), rt.new_id())
    assert (res.returncode, res.stderr) == (3, "")


def test_run_killed_by_signal_exits_128_plus_n(rt: Runtime) -> None:
    import subprocess

    from tests.conftest import PYRT

    cid = rt.new_id()
    bundle = rt.bundle(args=["sh", "-c", "echo ready; while :; do sleep 0.05; done"])
    proc = subprocess.Popen([str(PYRT), "--root", str(rt.root), "run", "-b", str(bundle), cid],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    rt("kill", cid, "KILL", check=True)  # init of a pid namespace can only be killed from outside
    assert proc.wait(timeout=10) == 137


def test_run_forwards_signals(rt: Runtime) -> None:
    import subprocess

    from tests.conftest import PYRT

    bundle = rt.bundle(args=["sh", "-c", "trap 'echo term; exit 9' TERM; echo ready; while :; do sleep 0.05; done"])
    proc = subprocess.Popen([str(PYRT), "--root", str(rt.root), "run", "-b", str(bundle), rt.new_id()],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 9
    assert proc.stdout.read() == "term\n"


def test_create_start_state_kill_delete(rt: Runtime, tmp_path: Path) -> None:
    cid = rt.new_id()
    bundle = rt.bundle(args=LOOP)
    pid_file = tmp_path / "init.pid"
    rt("create", "--bundle", str(bundle), "--pid-file", str(pid_file), cid, check=True)
    pid = int(pid_file.read_text())
    st = rt.state(cid)
    assert (st["status"], st["pid"], st["id"], st["bundle"]) == ("created", pid, cid, str(bundle))
    assert st["rootfs"] == str(ROOTFS)
    assert os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
    assert os.path.basename(os.readlink(f"/proc/{pid}/exe")).startswith("python")  # still pyrt before start
    listed = json.loads(rt("list", "--format", "json", check=True).stdout)
    assert [(c["id"], c["status"]) for c in listed] == [(cid, "created")]
    assert rt("list", "-q", check=True).stdout == cid + "\n"
    rt("start", cid, check=True)
    assert rt.state(cid)["status"] == "running"
    assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] == b"sh"
    res = rt("start", cid)
    assert (res.returncode, res.stderr) == (1, "pyrt: cannot start an already running container\n")
    res = rt("delete", cid)
    assert (res.returncode, res.stderr) == (1, f"pyrt: cannot delete container {cid} that is not stopped: running\n")
    rt("kill", cid, "USR1", check=True)
    rt.wait_status(cid, "stopped")
    st = rt.state(cid)
    assert st["pid"] == 0
    res = rt("kill", cid, "KILL")
    assert (res.returncode, res.stderr) == (1, "pyrt: container not running\n")
    rt("delete", cid, check=True)
    res = rt("state", cid)
    assert (res.returncode, res.stderr) == (1, f"pyrt: container {cid} does not exist\n")


def test_program_does_not_run_before_start(rt: Runtime, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    cfg = busybox_config()
    cfg["mounts"].append({"destination": "/out", "type": "bind", "source": str(out), "options": ["rbind"]})
    cid = rt.new_id()
    rt("create", "-b", str(rt.bundle(cfg, args=["sh", "-c", "echo ran >> /out/ran"])), cid, check=True)
    time.sleep(0.2)
    assert not (out / "ran").exists()
    rt("start", cid, check=True)
    rt.wait_status(cid, "stopped")
    assert (out / "ran").read_text() == "ran\n"
    rt("delete", cid, check=True)


def test_kill_in_created_state_and_delete_force(rt: Runtime) -> None:
    cid = rt.new_id()
    rt("create", "-b", str(rt.bundle(args=LOOP)), cid, check=True)
    rt("kill", cid, "9", check=True)
    rt.wait_status(cid, "stopped")
    res = rt("start", cid)
    assert (res.returncode, res.stderr) == (1, "pyrt: cannot start a container that has stopped\n")
    rt("delete", cid, check=True)
    cid2 = rt.new_id()
    rt("create", "-b", str(rt.bundle(args=LOOP)), cid2, check=True)
    rt("start", cid2, check=True)
    rt("delete", "--force", cid2, check=True)
    assert rt("delete", "--force", cid2).returncode == 0  # unknown id with --force: 0, as runc


def test_kill_all_signals_every_process(rt: Runtime) -> None:
    cid = rt.new_id()
    rt("run", "-d", "-b", str(rt.bundle(args=["sh", "-c", "sleep 100 & sleep 100 & wait"])), cid, check=True)
    pid = rt.state(cid)["pid"]
    time.sleep(0.2)
    procs = Path(f"/sys/fs/cgroup/pids/pyrt/{cid}/cgroup.procs").read_text().split()
    assert len(procs) == 3
    rt("kill", "--all", cid, "KILL", check=True)
    rt.wait_status(cid, "stopped")
    reap()
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    rt("delete", cid, check=True)


def test_state_validates_against_the_schema(rt: Runtime) -> None:
    validator = schema_validator("state-schema.json")
    cid = rt.new_id()
    cfg = busybox_config()
    cfg["annotations"] = {"org.example.key": "value"}
    rt("create", "-b", str(rt.bundle(cfg, args=LOOP)), cid, check=True)
    seen = []
    for action in (None, ("start", cid), ("kill", cid, "KILL")):
        if action:
            rt(*action, check=True)
        if action and action[0] == "kill":
            rt.wait_status(cid, "stopped")
        st = rt.state(cid)
        validator.validate(st)
        assert st["annotations"] == {"org.example.key": "value"}
        seen.append(st["status"])
    assert seen == ["created", "running", "stopped"]
    rt("delete", cid, check=True)


@pytest.mark.skipif(not (SHARED / "engines").exists(), reason="../shared/engines not present")
@pytest.mark.parametrize("name", ["docker-runc-run-rm", "docker-runc-init", "docker-runc-seccomp-unconfined",
                                  "podman-runc-run-rm", "ctr-runc-run-rm", "ctr-runc-seccomp-default"])
def test_engine_configs_run_echo_hi(rt: Runtime, name: str, tmp_path: Path) -> None:
    import subprocess

    cfg = engine_config(name)
    netns = None
    for ns in cfg["linux"]["namespaces"]:
        if ns.get("path"):
            netns = f"pyrt-test-{os.getpid()}"
            subprocess.run(["ip", "netns", "add", netns], check=True)
            ns["path"] = f"/run/netns/{netns}"
    cfg["process"]["args"] = ["echo", "hi"]
    try:
        res = rt("run", "-b", str(rt.bundle(cfg)), rt.new_id())
        assert (res.returncode, res.stdout, res.stderr) == (0, "hi\n", "")
    finally:
        if netns:
            subprocess.run(["ip", "netns", "delete", netns], check=True)
