"""runtime.md and runtime-linux.md: one test per MUST this machine can check (ids of ../shared/spec-musts.md).

"-> error" means: non-zero exit, `state ID` fails, nothing left behind (the rt fixture checks that).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOTFS, Runtime, busybox_config, cgroup_dirs, schema_validator

pytestmark = pytest.mark.root
LOOP = ["sh", "-c", "trap 'echo usr1 > /out/usr1; exit 0' USR1; while :; do sleep 0.05; done"]


def out_config(out: Path, args: list[str]) -> dict[str, Any]:
    cfg = busybox_config()
    cfg["mounts"].append({"destination": "/out", "type": "bind", "source": str(out), "options": ["rbind"]})
    cfg["process"]["args"] = args
    return cfg


def fails(rt: Runtime, *args: str) -> str:
    res = rt(*args)
    assert res.returncode != 0, res.stdout
    return res.stderr


def test_RT_1_config_json_at_the_bundle_root(rt: Runtime, tmp_path: Path) -> None:
    b = tmp_path / "b"
    (b / "sub").mkdir(parents=True)
    (b / "sub" / "config.json").write_text(json.dumps(busybox_config()))
    (b / "Config.json").write_text(json.dumps(busybox_config()))
    assert f"bundle {b}: no config.json in it" in fails(rt, "create", "-b", str(b), rt.new_id())


def test_RT_2_3_4_5_6_7_8_state(rt: Runtime, tmp_path: Path) -> None:
    validator = schema_validator("state-schema.json")  # may skip: before any container exists
    cid = rt.new_id()
    bundle = rt.bundle(busybox_config(), args=["sleep", "30"])
    parent = bundle.parent
    subprocess.run([str(Path(__file__).resolve().parents[2] / ".venv/bin/pyrt"), "--root", str(rt.root), "create",
                    "--bundle", bundle.name, cid], cwd=parent, check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    st = rt.state(cid)
    validator.validate(st)
    assert st["ociVersion"] and st["id"] == cid and st["status"] == "created"
    assert st["bundle"] == str(bundle)  # absolute, though given relative
    assert os.readlink(f"/proc/{st['pid']}/ns/pid") != os.readlink("/proc/self/ns/pid")
    rt("start", cid, check=True)
    cmdline = Path(f"/proc/{st['pid']}/cmdline")
    deadline = time.monotonic() + 5  # start returns once init is released; its execve may still be under way
    while cmdline.read_bytes().split(b"\0")[:2] != [b"sleep", b"30"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cmdline.read_bytes().split(b"\0")[:2] == [b"sleep", b"30"]
    rt("delete", "--force", cid, check=True)


def test_RT_9_a_late_failure_leaves_nothing_and_the_id_is_free(rt: Runtime) -> None:
    cid = rt.new_id()
    cfg = busybox_config()
    cfg["mounts"].append({"destination": "/late", "type": "nosuchfs", "source": "x"})
    fails(rt, "create", "-b", str(rt.bundle(cfg)), cid)
    assert cgroup_dirs(cid) == [] and not (rt.root / cid).exists()
    rt("create", "-b", str(rt.bundle(args=["true"])), cid, check=True)  # the id can be reused at once
    rt("delete", "--force", cid, check=True)


def test_RT_10_namespace_path_missing(rt: Runtime) -> None:
    cfg = busybox_config()
    cfg["linux"]["namespaces"][1]["path"] = "/run/netns/pyrt-none"
    fails(rt, "create", "-b", str(rt.bundle(cfg)), rt.new_id())


def test_RT_11_16_program_runs_only_after_start(rt: Runtime, tmp_path: Path) -> None:
    cid = rt.new_id()
    rt("create", "-b", str(rt.bundle(out_config(tmp_path, ["sh", "-c", "echo ran >> /out/ran"]))), cid, check=True)
    time.sleep(0.3)
    assert not (tmp_path / "ran").exists()
    rt("start", cid, check=True)
    rt.wait_status(cid, "stopped")
    assert (tmp_path / "ran").read_text() == "ran\n"
    rt("delete", cid, check=True)


def test_RT_12_edits_after_create_have_no_effect(rt: Runtime, tmp_path: Path) -> None:
    cid = rt.new_id()
    bundle = rt.bundle(out_config(tmp_path, ["sh", "-c", "hostname > /out/h; echo $V > /out/v"]))
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["process"]["env"].append("V=before")
    (bundle / "config.json").write_text(json.dumps(cfg))
    rt("create", "-b", str(bundle), cid, check=True)
    cfg["hostname"], cfg["process"]["env"][-1] = "edited", "V=after"
    (bundle / "config.json").write_text(json.dumps(cfg))
    rt("start", cid, check=True)
    rt.wait_status(cid, "stopped")
    assert (tmp_path / "h").read_text() == "pyrt-busybox\n" and (tmp_path / "v").read_text() == "before\n"
    rt("delete", cid, check=True)


def test_RT_21_22_operations_need_an_id(rt: Runtime) -> None:
    for op in ("state", "start", "kill", "delete"):
        assert rt(op).returncode != 0
        assert rt(op, "no-such").returncode != 0


def test_RT_23_create_needs_id_and_config(rt: Runtime, tmp_path: Path) -> None:
    assert rt("create", "-b", str(rt.bundle())).returncode != 0
    fails(rt, "create", "-b", str(tmp_path), rt.new_id())


def test_RT_24_duplicate_and_invalid_ids(rt: Runtime) -> None:
    cid = rt.new_id()
    rt("create", "-b", str(rt.bundle(args=["sleep", "30"])), cid, check=True)
    pid = rt.state(cid)["pid"]
    fails(rt, "create", "-b", str(rt.bundle()), cid)
    assert rt.state(cid)["pid"] == pid
    for bad in ("", "a/b", ".."):
        fails(rt, "create", "-b", str(rt.bundle()), bad)
    rt("delete", "--force", cid, check=True)


def test_RT_25_everything_but_process_applied_at_create(rt: Runtime) -> None:
    cid = rt.new_id()
    cfg = busybox_config()
    cfg["hostname"] = "applied-at-create"
    cfg["linux"]["resources"]["pids"] = {"limit": 33}
    rt("create", "-b", str(rt.bundle(cfg, args=["true"])), cid, check=True)
    pid = rt.state(cid)["pid"]
    uts = subprocess.run(["nsenter", "-t", str(pid), "-u", "hostname"], capture_output=True, text=True)
    assert uts.stdout.strip() == "applied-at-create"
    assert Path(f"/sys/fs/cgroup/pids/pyrt/{cid}/pids.max").read_text() == "33\n"
    assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
    rt("delete", "--force", cid, check=True)


@pytest.mark.parametrize("mutate", [
    lambda c: c["linux"].update(sysctl={"kernel.nope": "1"}),
    lambda c: c["process"]["rlimits"].append({"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}),
    lambda c: c["linux"]["namespaces"].append({"type": "bogus"}),
])
def test_RT_26_unappliable_properties(rt: Runtime, mutate: Any) -> None:
    cfg = busybox_config()
    mutate(cfg)
    fails(rt, "create", "-b", str(rt.bundle(cfg)), rt.new_id())


def test_RT_27_start_twice(rt: Runtime, tmp_path: Path) -> None:
    cid = rt.new_id()
    rt("create", "-b", str(rt.bundle(out_config(tmp_path, ["sh", "-c", "echo x >> /out/ran; sleep 30"]))), cid,
       check=True)
    rt("start", cid, check=True)
    fails(rt, "start", cid)
    time.sleep(0.2)
    assert (tmp_path / "ran").read_text() == "x\n" and rt.state(cid)["status"] == "running"
    rt("delete", "--force", cid, check=True)


def test_RT_28_no_process(rt: Runtime) -> None:
    cfg = busybox_config()
    del cfg["process"]
    fails(rt, "create", "-b", str(rt.bundle(cfg)), rt.new_id())  # pyrt refuses at create; start cannot succeed


def test_RT_29_30_kill(rt: Runtime, tmp_path: Path) -> None:
    cid = rt.new_id()
    rt("run", "-d", "-b", str(rt.bundle(out_config(tmp_path, LOOP))), cid, check=True)
    rt("kill", cid, "USR1", check=True)
    rt.wait_status(cid, "stopped")
    assert (tmp_path / "usr1").read_text() == "usr1\n"
    fails(rt, "kill", cid, "KILL")
    assert rt.state(cid)["status"] == "stopped"
    rt("delete", cid, check=True)
    cid2 = rt.new_id()
    rt("create", "-b", str(rt.bundle(args=["sleep", "30"])), cid2, check=True)
    rt("kill", cid2, "KILL", check=True)
    rt.wait_status(cid2, "stopped")
    rt("delete", cid2, check=True)


def test_RT_31_delete_running(rt: Runtime) -> None:
    cid = rt.new_id()
    rt("run", "-d", "-b", str(rt.bundle(args=["sleep", "30"])), cid, check=True)
    pid = rt.state(cid)["pid"]
    fails(rt, "delete", cid)
    assert Path(f"/proc/{pid}").exists()
    rt("delete", "--force", cid, check=True)


def test_RT_32_delete_removes_only_what_create_made(rt: Runtime, tmp_path: Path) -> None:
    netns = f"pyrt-conf-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    parent = Path("/sys/fs/cgroup/pids/pyrt-conf-parent")
    parent.mkdir()
    try:
        cid = rt.new_id()
        cfg = out_config(tmp_path, ["true"])
        cfg["linux"]["namespaces"][1]["path"] = f"/run/netns/{netns}"
        cfg["linux"]["cgroupsPath"] = f"/pyrt-conf-parent/{cid}"
        rt("run", "-b", str(rt.bundle(cfg)), cid, check=True)
        assert Path(f"/run/netns/{netns}").exists() and parent.is_dir() and tmp_path.is_dir()
        assert not (parent / cid).exists()
    finally:
        subprocess.run(["ip", "netns", "delete", netns], check=True)
        parent.rmdir()


def test_RTL_1_only_stdio_by_default(rt: Runtime) -> None:
    fd = os.open("/", os.O_RDONLY)
    try:
        os.set_inheritable(fd, True)
        res = rt("run", "-b", str(rt.bundle(args=["ls", "/proc/self/fd"])), rt.new_id(), pass_fds=(fd,))
    finally:
        os.close(fd)
    assert res.stdout.split() == ["0", "1", "2", "3"]


def test_RTL_2_dev_symlinks_and_no_proc(rt: Runtime) -> None:
    script = "for l in fd stdin stdout stderr; do readlink /dev/$l; done"
    res = rt("run", "-b", str(rt.bundle(args=["sh", "-c", script])), rt.new_id())
    assert res.stdout.split() == ["/proc/self/fd", "/proc/self/fd/0", "/proc/self/fd/1", "/proc/self/fd/2"]
    cfg = busybox_config()
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/proc"]
    cfg["linux"]["maskedPaths"], cfg["linux"]["readonlyPaths"] = [], []
    res2 = rt("run", "-b", str(rt.bundle(cfg, args=["true"])), rt.new_id())
    assert res.returncode == 0 and res2.returncode == 0, res2.stderr


# config-linux.md MUSTs that once differed in pyrt -------------------------------------------------

def test_LNX_9_10_devices_anywhere_with_mode_and_owner(rt: Runtime) -> None:
    cfg = busybox_config()
    cfg["linux"]["devices"] = [
        {"type": "c", "path": "/dev/mynull", "major": 1, "minor": 3, "fileMode": 432, "uid": 1000, "gid": 1000},
        {"type": "c", "path": "/tmp/null2", "major": 1, "minor": 3},
        {"type": "c", "path": "/dev/sub/deep/zero2", "major": 1, "minor": 5},
        {"type": "p", "path": "/dev/fifo0"}]
    cfg["root"]["readonly"] = False
    script = ("stat -c '%t:%T %a %u %g' /dev/mynull; stat -c '%t:%T' /tmp/null2 /dev/sub/deep/zero2; "
              "[ -p /dev/fifo0 ] && echo fifo")
    res = rt("run", "-b", str(rt.bundle(cfg, args=["sh", "-c", script])), rt.new_id())
    assert res.stdout == "1:3 660 1000 1000\n1:3\n1:5\nfifo\n", res.stderr


def test_LNX_11_a_different_file_at_a_device_path(rt: Runtime, tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    subprocess.run(["cp", "-a", str(ROOTFS), str(rootfs)], check=True)
    (rootfs / "opt").mkdir(exist_ok=True)
    (rootfs / "opt" / "foo").write_text("a regular file")
    cfg = busybox_config()
    cfg["root"] = {"path": str(rootfs)}
    cfg["linux"]["devices"] = [{"type": "c", "path": "/opt/foo", "major": 1, "minor": 3}]
    assert "a different file is already there" in fails(rt, "create", "-b", str(rt.bundle(cfg)), rt.new_id())


@pytest.mark.parametrize("section, expected", [
    ({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}, "defaultErrnoRet: SCMP_ACT_ALLOW takes no errno"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ALLOW",
                                                       "errnoRet": 5}]}, "errnoRet: SCMP_ACT_ALLOW takes no errno"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]},
     "names: must name at least one syscall"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "x"}, "listenerPath: must be an absolute path"),
])
def test_LNX_46_47_seccomp_bundle_rules(rt: Runtime, section: dict[str, Any], expected: str) -> None:
    cfg = busybox_config()
    cfg["linux"]["seccomp"] = section
    assert expected in fails(rt, "create", "-b", str(rt.bundle(cfg)), rt.new_id())


@pytest.mark.parametrize("key", ["maskedPaths", "readonlyPaths"])
def test_LNX_51_52_relative_paths(rt: Runtime, key: str) -> None:
    cfg = busybox_config()
    cfg["linux"][key] = ["proc/kcore"]
    assert f"linux.{key}[0]: must be an absolute path" in fails(rt, "create", "-b", str(rt.bundle(cfg)),
                                                                rt.new_id())


def test_LNX_3_namespace_path_of_another_type(rt: Runtime) -> None:
    cfg = busybox_config()
    cfg["linux"]["namespaces"][1]["path"] = "/proc/self/ns/uts"
    assert fails(rt, "create", "-b", str(rt.bundle(cfg)), rt.new_id()) == \
        "pyrt: join network namespace /proc/self/ns/uts: Invalid argument\n"


def test_CFG_43_45_annotations(rt: Runtime) -> None:
    for bad in ({"": "x"}, {"a": 1}):
        cfg = busybox_config()
        cfg["annotations"] = bad
        fails(rt, "create", "-b", str(rt.bundle(cfg)), rt.new_id())
    cfg = busybox_config()
    cfg["annotations"] = {"a": "", "com.example.x": "y"}
    cid = rt.new_id()
    rt("create", "-b", str(rt.bundle(cfg, args=["true"])), cid, check=True)
    assert rt.state(cid)["annotations"] == {"a": "", "com.example.x": "y"}
    rt("delete", "--force", cid, check=True)


def test_CFG_46_unknown_properties_everywhere(rt: Runtime) -> None:
    cfg = busybox_config()
    cfg["x-top"] = 1
    cfg["process"]["x-proc"] = {"a": [1]}
    cfg["linux"]["x-linux"] = "y"
    cfg["linux"]["resources"]["x-res"] = True
    cfg["mounts"][0]["x-mount"] = None
    assert rt("run", "-b", str(rt.bundle(cfg, args=["true"])), rt.new_id()).returncode == 0


@pytest.mark.parametrize("propagation", ["shared", "rshared", "slave", "private", "unbindable"])
def test_LNX_50_rootfs_propagation(rt: Runtime, propagation: str) -> None:
    cfg = busybox_config()
    cfg["linux"]["rootfsPropagation"] = propagation
    res = rt("run", "-b", str(rt.bundle(cfg, args=["awk", '$5 == "/"', "/proc/self/mountinfo"])), rt.new_id())
    assert res.returncode == 0, res.stderr
    fields = res.stdout.split(" - ")[0]
    expect = {"shared": "shared:", "rshared": "shared:", "unbindable": "unbindable"}
    if propagation in expect:
        assert expect[propagation] in fields, fields
    else:  # slave of a mount with no peers, or private: not shared either way
        assert "shared:" not in fields, fields


def test_LNX_2_join_mount_and_uts_namespaces_by_path(rt: Runtime, tmp_path: Path) -> None:
    """Joined by path: the rootfs is built inside the given mount namespace, the hostname set in the
    given uts namespace (both belong to the caller and keep what the container did to them)."""
    holder = subprocess.Popen(["unshare", "--mount", "--uts", "--propagation", "private", "sleep", "60"])
    try:
        time.sleep(0.3)
        cfg = busybox_config()
        for ns in cfg["linux"]["namespaces"]:
            if ns["type"] in ("mount", "uts"):
                ns["path"] = f"/proc/{holder.pid}/ns/{'mnt' if ns['type'] == 'mount' else 'uts'}"
        cfg["hostname"] = "joined-uts"
        cid = rt.new_id()
        rt("create", "-b", str(rt.bundle(cfg, args=["sleep", "30"])), cid, check=True)
        pid = rt.state(cid)["pid"]
        assert os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink(f"/proc/{holder.pid}/ns/mnt")
        assert os.readlink(f"/proc/{pid}/ns/uts") == os.readlink(f"/proc/{holder.pid}/ns/uts")
        host = subprocess.run(["nsenter", "-t", str(holder.pid), "-u", "hostname"], capture_output=True, text=True)
        assert host.stdout.strip() == "joined-uts"
        rt("delete", "--force", cid, check=True)
    finally:
        holder.kill()
        holder.wait()


def test_LNX_5_no_mount_namespace_is_refused_clearly(rt: Runtime) -> None:
    """A deliberate difference from runc: without a mount namespace the container's mounts would be
    made in the host's own mount namespace and stay there; pyrt refuses (runc goes ahead)."""
    cfg = busybox_config()
    cfg["linux"]["namespaces"] = [ns for ns in cfg["linux"]["namespaces"] if ns["type"] != "mount"]
    assert "pyrt needs a mount namespace" in fails(rt, "create", "-b", str(rt.bundle(cfg)), rt.new_id())
