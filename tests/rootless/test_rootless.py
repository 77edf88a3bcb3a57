"""pyrt as a normal user, as runc runs rootless: `spec --rootless`, then run, the lifecycle, exec, a
terminal, hooks, subordinate id ranges through newuidmap, seccomp, the recorder, caches, what a rootless
pyrt refuses, and that it never reaches further than the user could.  Every test runs as a dedicated user
(tests/rootless_user.py) and checks that it left no state, process or mount."""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import PYRT, Runtime, host_mounts, reap
from tests.rootless_user import UserRuntime

pytestmark = [pytest.mark.root, pytest.mark.rootless]


def host_status(pid: int, field: str) -> list[str]:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return line.split()[1:]
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_spec_rootless_is_what_runc_writes(urt: UserRuntime) -> None:
    runc = shutil.which("runc")
    if runc is None:
        pytest.skip("runc is not installed")
    ours, theirs = urt.dir / "pyrt", urt.dir / "runc"
    for d in (ours, theirs):
        d.mkdir()
        os.chown(d, urt.user.uid, urt.user.gid)
    assert urt("spec", "--rootless", "--seccomp", "unconfined", "--bundle", str(ours)).returncode == 0
    assert urt.user.run(runc, "spec", "--rootless", cwd=theirs).returncode == 0
    mine = (ours / "config.json").read_text()
    runcs = (theirs / "config.json").read_text()
    assert mine.replace('"ociVersion": "1.2.0"', '"ociVersion": "1.0.2-dev"') == runcs  # byte for byte
    cfg = json.loads(mine)
    assert cfg["linux"]["uidMappings"] == [{"containerID": 0, "hostID": urt.user.uid, "size": 1}]
    assert cfg["linux"]["gidMappings"] == [{"containerID": 0, "hostID": urt.user.gid, "size": 1}]


def test_root_inside_the_user_outside(urt: UserRuntime) -> None:
    """Root of its user namespace, the user on the host; devices bound from the host, not made."""
    cfg = urt.config("sh", "-c", "id -u; cat /proc/self/uid_map; stat -c '%t,%T %U' /dev/null; "
                     "grep -c ' /dev/null ' /proc/self/mountinfo; echo hi > /dev/null && echo written")
    res = urt("run", "--bundle", str(urt.bundle(cfg)), urt.new_id())
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n") == ["0", f"         0 {urt.user.uid:10d}          1", "1,3 nobody", "1",
                                      "written", ""]
    cid = urt.new_id()
    assert urt("run", "-d", "--bundle", str(urt.bundle(urt.config("sleep", "60"))), cid).returncode == 0
    pid = urt.state(cid)["pid"]
    assert host_status(pid, "Uid") == [str(urt.user.uid)] * 4
    assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
    assert urt("delete", "--force", cid).returncode == 0


def test_lifecycle_as_engines_drive_it(urt: UserRuntime) -> None:
    cid = urt.new_id()
    bundle = urt.bundle(urt.config("sleep", "60"))
    assert urt("create", "--bundle", str(bundle), cid).returncode == 0
    state = urt.state(cid)
    assert (state["status"], state["bundle"]) == ("created", str(bundle))
    assert (urt.state_dir / cid / "state.json").stat().st_mode & 0o777 == 0o600
    assert urt.state_dir.stat().st_mode & 0o777 == 0o700
    listed = urt("list", "--format", "json")
    assert [(c["id"], c["owner"]) for c in json.loads(listed.stdout)] == [(cid, urt.user.name)]
    assert urt("start", cid).returncode == 0
    assert urt.state(cid)["status"] == "running"
    res = urt("exec", cid, "sh", "-c", "id -u; exit 7")
    assert (res.returncode, res.stdout) == (7, "0\n"), res.stderr
    ps = urt("ps", "--format", "json", cid)
    assert json.loads(ps.stdout) == [urt.state(cid)["pid"]], ps.stderr
    for argv in (["pause", cid], ["update", "--pids-limit", "9", cid], ["events", "--stats", cid],
                 ["exec", "--cgroup", "sub", cid, "true"]):  # no cgroup of its own here: nothing to do these with
        res = urt(*argv)
        assert res.returncode in (1, 255) and "has no cgroup of its own" in res.stderr, (argv, res.stderr)
    assert urt("kill", cid, "KILL").returncode == 0
    deadline = time.monotonic() + 10
    while urt.state(cid)["status"] != "stopped" and time.monotonic() < deadline:
        reap()
        time.sleep(0.05)
    assert urt("delete", cid).returncode == 0
    assert urt("state", cid).returncode == 1


def test_a_terminal_through_exec_and_run(urt: UserRuntime) -> None:
    """exec -t and a terminal config in the foreground, each on a pty from the container's devpts."""
    cid = urt.new_id()
    assert urt("run", "-d", "--bundle", str(urt.bundle(urt.config("sleep", "60"))), cid).returncode == 0
    res = urt.user.run("script", "-qec", f"{PYRT} exec -t {cid} sh -c 'tty; id -u'", "/dev/null")
    assert (res.returncode, res.stdout.replace("\r", "")) == (0, "/dev/pts/0\n0\n"), res.stderr
    assert urt("delete", "--force", cid).returncode == 0
    bundle = urt.bundle(urt.config("sh", "-c", "tty; exit 3", terminal=True))
    res = urt.user.run("script", "-qec", f"{PYRT} run --bundle {bundle} {urt.new_id()}", "/dev/null")
    assert (res.returncode, res.stdout.replace("\r", "")) == (3, "/dev/pts/0\n"), res.stderr


def test_hooks_run_as_the_user(urt: UserRuntime) -> None:
    out = urt.dir / "hooks.out"
    cfg = urt.config("true")
    hook = {"path": "/bin/sh", "args": ["sh", "-c", f"echo \"$0 $(id -u)\" >> {out}"]}
    cfg["hooks"] = {phase: [{**hook, "args": [*hook["args"], phase]}]
                    for phase in ("prestart", "createRuntime", "poststart", "poststop")}
    assert urt("run", "--bundle", str(urt.bundle(cfg)), urt.new_id()).returncode == 0
    uid = urt.user.uid
    assert out.read_text().splitlines() == [f"prestart {uid}", f"createRuntime {uid}", f"poststart {uid}",
                                            f"poststop {uid}"]
    assert out.stat().st_uid == uid


def test_subordinate_ranges_go_through_newuidmap(urt: UserRuntime) -> None:
    user = urt.user
    cfg = urt.config("sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id")
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": user.uid, "size": 1},
                                   {"containerID": 1, "hostID": user.sub, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": user.gid, "size": 1},
                                   {"containerID": 1, "hostID": user.sub, "size": 65536}]
    cfg["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5]}
    res = urt("run", "--bundle", str(urt.bundle(cfg)), urt.new_id())
    assert res.returncode == 0, res.stderr
    maps = [line.split() for line in res.stdout.splitlines()[:4]]
    assert maps == [["0", str(user.uid), "1"], ["1", str(user.sub), "65536"]] * 2
    assert res.stdout.splitlines()[4].startswith("uid=1000 gid=1000 groups=5")
    # a range that is not the user's: newuidmap refuses, pyrt says which field, nothing is left
    cfg["linux"]["uidMappings"][1]["hostID"] = user.sub + 65536
    res = urt("run", "--bundle", str(urt.bundle(cfg)), urt.new_id())
    assert res.returncode == 1 and len(res.stderr.splitlines()) == 1, res.stderr
    assert res.stderr.startswith("pyrt: linux.uidMappings: newuidmap refused the mapping"), res.stderr


def test_one_own_gid_alone_has_no_supplementary_groups(urt: UserRuntime) -> None:
    cfg = urt.config("id")
    cfg["process"]["user"]["additionalGids"] = [0]
    res = urt("run", "--bundle", str(urt.bundle(cfg)), urt.new_id())
    assert res.returncode == 1 and "process.user.additionalGids" in res.stderr, res.stderr


def test_cgroups_are_optional_without_limits_and_a_limit_is_named(urt: UserRuntime) -> None:
    """runc's rule: where the user may write no cgroup (this host: none delegated), a config without
    limits runs in the caller's cgroups; one with a limit fails naming it; --rootless false wants them."""
    cfg = urt.config("echo", "ran")
    res = urt("run", "--bundle", str(urt.bundle(cfg)), urt.new_id())
    assert (res.returncode, res.stdout) == (0, "ran\n"), res.stderr
    cfg["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "devices": [{"allow": False, "access": "rwm"}]}
    res = urt("run", "--bundle", str(urt.bundle(cfg)), urt.new_id())
    assert res.returncode == 1 and res.stderr.startswith("pyrt: linux.resources.memory.limit: cannot be applied: "
                                                         "rootless"), res.stderr
    del cfg["linux"]["resources"]["memory"]  # device rules alone are not limits: bound nodes need none
    assert urt("run", "--bundle", str(urt.bundle(cfg)), urt.new_id()).returncode == 0
    res = urt("--rootless", "false", "run", "--bundle", str(urt.bundle(cfg)), urt.new_id())
    assert res.returncode == 1 and "Permission denied" in res.stderr, res.stderr


def test_seccomp_as_docker_layers_it(urt: UserRuntime) -> None:
    """The spec's default (Docker's profile) blocks unshare; unconfined lets a nested user namespace in."""
    cfg = urt.config("sh", "-c", "grep '^Seccomp:' /proc/self/status; unshare --user sh -c id")
    bundle = urt.bundle(cfg)
    res = urt("run", "--bundle", str(bundle), urt.new_id())
    assert res.returncode == 1 and "unshare(0x10000000): Operation not permitted" in res.stderr
    assert res.stdout == "Seccomp:\t2\n"
    res = urt("run", "--security-opt", "seccomp=unconfined", "--bundle", str(bundle), urt.new_id())
    nobody = "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"
    assert (res.returncode, res.stdout) == (0, f"Seccomp:\t0\n{nobody}\n"), res.stderr


def test_the_recorder_works_rootless(urt: UserRuntime) -> None:
    profile = urt.dir / "recorded.json"
    cfg = urt.config("sh", "-c", "ls / > /dev/null; echo done")
    res = urt("run", "--seccomp-record", str(profile), "--bundle", str(urt.bundle(cfg)), urt.new_id())
    assert (res.returncode, res.stdout) == (0, "done\n"), res.stderr
    names = {n for rule in json.loads(profile.read_text())["syscalls"] for n in rule["names"]}
    assert {"execve", "getdents64", "write"} <= names
    res = urt("run", "--security-opt", f"seccomp={profile}", "--bundle", str(urt.bundle(cfg)), urt.new_id())
    assert (res.returncode, res.stdout) == (0, "done\n"), res.stderr


def test_caches_are_the_user_s_own(urt: UserRuntime, tmp_path: Path) -> None:
    """Plans and BPF go to ~/.cache/pyrt: built once, then served from there; root's cache is not read or
    written; with PYRT_CACHE_DIR unset for the user, as a login has it."""
    root_cache = Path("/var/cache/pyrt")
    before = {p for p in root_cache.rglob("*")} if root_cache.exists() else set()
    bundle = urt.bundle(urt.config("true"))
    first = urt("--debug", "run", "--bundle", str(bundle), urt.new_id())
    second = urt("--debug", "run", "--bundle", str(bundle), urt.new_id())
    assert "plan for" in first.stderr and ": built" in first.stderr.split("plan for", 1)[1].splitlines()[0]
    assert "from the cache" in second.stderr, second.stderr
    stats = json.loads(urt("cache", "stats").stdout)
    assert stats["dir"] == str(urt.user.home / ".cache" / "pyrt") and stats["kinds"]["plans"]["entries"] >= 1
    owners = {p.stat().st_uid for p in (urt.user.home / ".cache" / "pyrt").rglob("*")}
    assert owners == {urt.user.uid}
    after = {p for p in root_cache.rglob("*")} if root_cache.exists() else set()
    assert not {p for p in after - before if p.stat().st_uid == urt.user.uid}


def test_state_and_runtime_dir_errors(urt: UserRuntime, tmp_path: Path) -> None:
    bundle = urt.bundle(urt.config("true"))
    res = urt("run", "--bundle", str(bundle), urt.new_id(), env=urt.user.env(XDG_RUNTIME_DIR=""))
    assert (res.returncode, res.stderr) == (1, "pyrt: XDG_RUNTIME_DIR is not set: a normal user's containers keep "
                                               "their state in $XDG_RUNTIME_DIR/pyrt (log in through PAM, or give "
                                               "--root DIR)\n")
    res = urt("list", env=urt.user.env(XDG_RUNTIME_DIR="/run"))
    assert res.returncode == 1 and res.stderr.startswith("pyrt: XDG_RUNTIME_DIR=/run: owned by uid 0, not by this "
                                                         f"user (uid {urt.user.uid})"), res.stderr
    own = urt.dir / "state"
    res = urt("--root", str(own), "run", "--bundle", str(bundle), urt.new_id(), env=urt.user.env(XDG_RUNTIME_DIR=""))
    assert res.returncode == 0, res.stderr
    assert list(own.iterdir()) == []


@pytest.mark.parametrize("edit, message", [
    ("no-userns", "pyrt: linux.namespaces: a normal user's container needs a user namespace"),
    ("cni", "pyrt: --network pyrt: CNI networks need root"),
    ("idmap", "pyrt: mounts[7].uidMappings: idmapped mounts need root"),
    ("limit", "pyrt: linux.resources.pids.limit: cannot be applied: rootless"),
    ("unreadable-bind", "pyrt: mounts[7].source: /root/.: permission denied"),
])
def test_what_a_rootless_pyrt_refuses(urt: UserRuntime, edit: str, message: str) -> None:
    """One line naming the field; no state, process or mount left (urt checks)."""
    cfg = urt.config("true")
    argv = ["run"]
    if edit == "no-userns":
        cfg["linux"]["namespaces"] = [ns for ns in cfg["linux"]["namespaces"] if ns["type"] != "user"]
        del cfg["linux"]["uidMappings"], cfg["linux"]["gidMappings"]
    elif edit == "cni":
        argv += ["--network", "pyrt"]
    elif edit == "idmap":
        cfg["mounts"].append({"destination": "/mnt", "type": "bind", "source": str(urt.dir), "options": ["bind"],
                              "uidMappings": [{"containerID": 0, "hostID": urt.user.uid, "size": 1}],
                              "gidMappings": [{"containerID": 0, "hostID": urt.user.gid, "size": 1}]})
    elif edit == "limit":
        cfg["linux"]["resources"] = {"pids": {"limit": 10}}
    else:
        cfg["mounts"].append({"destination": "/mnt", "type": "bind", "source": "/root/.", "options": ["rbind"]})
    res = urt(*argv, "--bundle", str(urt.bundle(cfg)), urt.new_id())
    assert res.returncode == 1 and len(res.stderr.splitlines()) == 1, res.stderr
    assert res.stderr.startswith(message), res.stderr


def test_root_s_containers_are_out_of_reach(urt: UserRuntime, rt: Runtime) -> None:
    """A user's pyrt lists only the user's containers; root's state cannot be read, signalled or deleted,
    even with root's --root; the user's own state cannot be read by another user."""
    from tests.conftest import busybox_config

    rid = rt.new_id()
    assert rt("run", "-d", "--bundle", str(rt.bundle(busybox_config(), args=["sleep", "60"])), rid).returncode == 0
    mine = urt.new_id()
    assert urt("run", "-d", "--bundle", str(urt.bundle(urt.config("sleep", "60"))), mine).returncode == 0
    assert [c["id"] for c in json.loads(urt("list", "--format", "json").stdout)] == [mine]
    for argv in (["list"], ["state", rid], ["kill", rid, "KILL"], ["delete", "--force", rid]):
        res = urt("--root", str(rt.root), *argv)
        assert res.returncode == 1 and "Permission denied" in res.stderr, (argv, res.stderr)
    assert rt.state(rid)["status"] == "running"
    other = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(PYRT), "--root",
                            str(urt.state_dir), "state", mine], capture_output=True, text=True)
    assert other.returncode == 1 and "Permission denied" in other.stderr, other.stderr
    assert rt("delete", "--force", rid).returncode == 0
    assert urt("delete", "--force", mine).returncode == 0


def hostile(urt: UserRuntime) -> tuple[Path, Path]:
    """A copy of the user's rootfs and a 'host' directory (the user's own) its symlinks will aim at."""
    rootfs = urt.dir / f"rootfs-{len(list(urt.dir.iterdir()))}"
    subprocess.run(["cp", "-a", str(urt.user.rootfs), str(rootfs)], check=True)
    host = urt.dir / f"host-{rootfs.name}"
    host.mkdir()
    (host / "secret").write_text("host data\n")
    return rootfs, host


def owned(urt: UserRuntime, *paths: Path) -> None:
    subprocess.run(["chown", "-R", "-h", f"{urt.user.uid}:{urt.user.gid}", *map(str, paths)], check=True)


def host_untouched(host: Path, before: set[str]) -> None:
    assert sorted(p.name for p in host.iterdir()) == ["secret"], "the image made pyrt create on the host"
    assert (host / "secret").read_text() == "host data\n"
    assert not {m for m in host_mounts() - before if m.startswith(str(host))}, "a mount landed on the host"


def test_hostile_rootfs_symlinks_stay_inside(urt: UserRuntime) -> None:
    """The image's symlinks at mount destinations resolve inside its root, as for root's containers: the
    host directory they aim at (the user's own) gets no mount and no new file; nor does a cwd reached
    through a descriptor init holds."""
    rootfs, host = hostile(urt)
    (rootfs / "mnt-abs").symlink_to(str(host))
    (rootfs / "mnt-dots").symlink_to("../" * 12 + str(host).lstrip("/"))
    owned(urt, rootfs, host)
    inside = "/" + str(host).lstrip("/") + "/sub"  # where the links lead when resolved inside the root
    cfg = urt.config("sh", "-c", f"grep -c ' {inside} tmpfs' /proc/self/mounts")
    cfg["root"] = {"path": str(rootfs), "readonly": False}
    cfg["mounts"] += [{"destination": "/mnt-abs/sub", "type": "tmpfs", "source": "tmpfs"},
                      {"destination": "/mnt-dots/sub", "type": "tmpfs", "source": "tmpfs"}]
    before = host_mounts()
    res = urt("run", "--bundle", str(urt.bundle(cfg)), urt.new_id())
    assert (res.returncode, res.stdout) == (0, "2\n"), res.stderr
    cfg["process"]["cwd"] = "/proc/self/fd/3/made"
    res = urt("run", "--bundle", str(urt.bundle(cfg)), urt.new_id())
    assert res.returncode == 1 and "process.cwd" in res.stderr, res.stderr
    host_untouched(host, before)
    assert not [p for p in urt.user.runtime_dir.rglob("made")]


def test_hostile_dev_masked_paths_and_devices(urt: UserRuntime) -> None:
    """/dev, a masked path, a read-only path and a device's directory that are symlinks to the host."""
    rootfs, host = hostile(urt)
    shutil.rmtree(rootfs / "dev")
    (rootfs / "dev").symlink_to(str(host / "dev"))
    (rootfs / "etc" / "masked").symlink_to(str(host / "secret"))
    (rootfs / "etc" / "ro").symlink_to("../" * 12 + str(host).lstrip("/"))
    owned(urt, rootfs, host)
    # the devices (bound from the host's nodes of the same path) land under the /dev tmpfs inside
    cfg = urt.config("sh", "-c", "head -1 /proc/self/status; echo x > /dev/full; echo x > /dev/null && echo bound")
    cfg["root"] = {"path": str(rootfs), "readonly": False}
    cfg["linux"].update(maskedPaths=["/etc/masked"], readonlyPaths=["/etc/ro"],
                        devices=[{"type": "c", "path": "/dev/full", "major": 1, "minor": 7}])
    before = host_mounts()
    res = urt("run", "--bundle", str(urt.bundle(cfg)), urt.new_id())
    assert (res.returncode, res.stdout) == (0, "Name:\thead\nbound\n"), res.stderr
    host_untouched(host, before)


def test_a_listed_device_must_be_the_host_s_node_of_that_path(urt: UserRuntime) -> None:
    """In a user namespace devices are the host's nodes bound at the same path (as runc): one whose type
    or numbers differ from the config's is refused, never bound under the config's name."""
    cfg = urt.config("true")
    cfg["linux"]["devices"] = [{"type": "c", "path": "/dev/full", "major": 1, "minor": 3}]
    res = urt("run", "--bundle", str(urt.bundle(cfg)), urt.new_id())
    assert res.returncode == 1 and len(res.stderr.splitlines()) == 1, res.stderr
    assert res.stderr.startswith("pyrt: linux.devices: /dev/full: the host's node is c 1:7, not c 1:3"), res.stderr


def test_the_runtime_cannot_be_opened_from_the_container(urt: UserRuntime) -> None:
    """CVE-2019-5736 class, rootless: while `pyrt exec` joins the container, a process inside scans
    /proc/*/exe of the others; pyrt's processes (python) are never opened."""
    out = urt.dir / "out"
    out.mkdir()
    owned(urt, out)
    attacker = ("end=$(( $(date +%s) + 5 )); n=0; while [ $(date +%s) -lt $end ]; do "
                "for e in /proc/[0-9]*/exe; do p=${e%/exe}; p=${p#/proc/}; [ $p = $$ ] && continue; "
                "head -c1 $e >/dev/null 2>&1 && echo $p $(cat /proc/$p/cmdline | tr '\\0' ' ') >> /out/opened; "
                "n=$((n+1)); done; done; echo $n > /out/tries")
    cfg = urt.config("sh", "-c", attacker)
    cfg["mounts"].append({"destination": "/out", "type": "bind", "source": str(out), "options": ["rbind"]})
    cid = urt.new_id()
    assert urt("run", "-d", "--bundle", str(urt.bundle(cfg)), cid).returncode == 0
    for _ in range(12):
        urt("exec", cid, "true")
    deadline = time.monotonic() + 20
    while urt.state(cid)["status"] != "stopped" and time.monotonic() < deadline:
        reap()
        time.sleep(0.1)
    assert urt("delete", cid).returncode == 0
    assert int((out / "tries").read_text()) > 0
    opened = (out / "opened").read_text() if (out / "opened").exists() else ""
    assert [line for line in opened.splitlines() if "python" in line or "pyrt" in line] == []


def test_rootless_engine_model_uid0_of_a_user_namespace(urt: UserRuntime) -> None:
    """How rootless Podman calls a runtime: pyrt is uid 0 of a user namespace the user made (with the
    subordinate ranges, through newuidmap) and its own mount namespace; the config is a root one, with no
    user namespace of its own.  Devices are bound (mknod is refused there), seccomp is in force."""
    if subprocess.run(["unshare", "--help"], capture_output=True, text=True).stdout.find("--map-auto") < 0:
        pytest.skip("this unshare has no --map-auto")
    cfg = urt.config("sh", "-c", "cat /proc/self/uid_map; stat -c %t,%T /dev/null; grep '^Seccomp:' /proc/self/status")
    cfg["linux"]["namespaces"] = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")]
    del cfg["linux"]["uidMappings"], cfg["linux"]["gidMappings"]
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/sys"] + [
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}]
    bundle = urt.bundle(cfg)
    cid = urt.new_id()
    res = urt.user.run("unshare", "--user", "--map-root-user", "--map-auto", "--mount", str(PYRT), "run", "--bundle",
                       str(bundle), cid)
    assert res.returncode == 0, res.stderr
    uid_map = [line.split() for line in res.stdout.splitlines()[:2]]
    assert uid_map == [["0", str(urt.user.uid), "1"], ["1", str(urt.user.sub), "65535"]]
    assert res.stdout.splitlines()[2:] == ["1,3", "Seccomp:\t2"]
    # what only root of the host may do is refused there too, by name
    res = urt.user.run("unshare", "--user", "--map-root-user", "--map-auto", "--mount", str(PYRT), "run", "--network",
                       "pyrt", "--bundle", str(bundle), urt.new_id())
    assert res.returncode == 1 and res.stderr.startswith("pyrt: --network pyrt: CNI networks need root"), res.stderr


PROBES = {
    "ids": "id; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups",
    "status": "grep -E '^(Cap|NoNewPrivs|Seccomp:|Uid|Gid|Groups)' /proc/self/status",
    "dev": "ls -ln /dev | grep -v '^total' | awk '{print $1, $3, $4, $5, $6, $NF}'",
    # but for a hybrid host's cgroup2, which pyrt binds at /sys/fs/cgroup/unified (a named difference)
    "mounts": "awk '$2 != \"/sys/fs/cgroup/unified\" {print $2, $3}' /proc/self/mounts | sort",
    "writes": "touch /x 2>&1; echo x > /dev/null && echo null-ok; cat /proc/sys/kernel/hostname",
    "limits": "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj",
}


@pytest.mark.parametrize("probe", list(PROBES))
def test_the_same_as_runc_rootless(urt: UserRuntime, probe: str) -> None:
    """The spec's config run by pyrt and by runc as the same user: what the process sees of itself is the
    same (ids and maps, capabilities, /dev, mounts, what it may write, limits)."""
    runc = shutil.which("runc")
    if runc is None:
        pytest.skip("runc is not installed")
    cfg = urt.config("sh", "-c", PROBES[probe] + " 2>&1")
    cfg["linux"].pop("seccomp", None)  # runc spec writes none: the two configs are the same
    bundle = urt.bundle(cfg)
    pyrt = urt("run", "--bundle", str(bundle), urt.new_id())
    ref = urt.user.run(runc, "run", "--bundle", str(bundle), urt.new_id())
    assert ref.returncode == 0 and ref.stdout.strip(), ref.stderr
    diff = "\n".join(difflib.unified_diff(ref.stdout.splitlines(), pyrt.stdout.splitlines(), "runc", "pyrt",
                                           lineterm=""))
    assert (pyrt.returncode, pyrt.stdout) == (ref.returncode, ref.stdout), f"{pyrt.stderr}{diff}"
