"""What the process sees inside: pid 1, hostname, user, capabilities, fds, masked and read-only paths."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PYRT, ROOTFS, Runtime, busybox_config

pytestmark = pytest.mark.root


def inside(rt: Runtime, script: str, cfg: dict[str, Any] | None = None, **kw: Any) -> str:
    res = rt("run", "-b", str(rt.bundle(cfg, args=["sh", "-c", script])), rt.new_id(), **kw)
    assert res.returncode == 0, res.stderr
    return res.stdout


def status_fields(text: str) -> dict[str, str]:
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def test_pid_hostname_and_user(rt: Runtime) -> None:
    assert inside(rt, "echo $$; hostname; id") == "1\npyrt-busybox\nuid=0(root) gid=0(root)\n"


def test_process_user_groups_umask_env_cwd(rt: Runtime) -> None:
    cfg = busybox_config()
    cfg["process"]["user"] = {"uid": 65534, "gid": 65534, "additionalGids": [5, 7], "umask": 0o077}
    cfg["process"]["env"] = ["PATH=/bin:/usr/bin", "GREETING=hello world"]
    cfg["process"]["cwd"] = "/tmp"
    out = inside(rt, "id; umask; echo $GREETING; pwd", cfg)
    assert out == "uid=65534(nobody) gid=65534(nogroup) groups=5,7\n0077\nhello world\n/tmp\n"


def test_capabilities_nnp_and_seccomp_fields(rt: Runtime) -> None:
    fields = status_fields(inside(rt, "cat /proc/self/status"))
    caps = 1 << 29 | 1 << 5 | 1 << 10  # AUDIT_WRITE, KILL, NET_BIND_SERVICE (runc spec's set)
    assert int(fields["CapBnd"], 16) == caps
    assert int(fields["CapEff"], 16) == caps
    assert int(fields["CapPrm"], 16) == caps
    assert int(fields["CapInh"], 16) == 0
    assert int(fields["CapAmb"], 16) == 0
    assert fields["NoNewPrivs"] == "1"
    assert fields["Seccomp"] == "2"  # Docker's default profile, from bundles/busybox


def test_ambient_and_inheritable_when_asked(rt: Runtime) -> None:
    cfg = busybox_config()
    cfg["process"]["user"] = {"uid": 1000, "gid": 1000}
    c = cfg["process"]["capabilities"]
    c["inheritable"] = ["CAP_NET_BIND_SERVICE"]
    c["ambient"] = ["CAP_NET_BIND_SERVICE"]
    fields = status_fields(inside(rt, "cat /proc/self/status", cfg))
    assert int(fields["CapAmb"], 16) == 1 << 10
    assert int(fields["CapInh"], 16) == 1 << 10
    assert int(fields["CapEff"], 16) == 1 << 10  # a non-root user keeps only the ambient set across exec


def test_the_spec_command_s_config_runs_as_it_is(rt: Runtime, tmp_path: Path) -> None:
    """`pyrt spec` (like `runc spec`) asks for ambient capabilities that are not inheritable: the
    kernel raises none of them, and the container runs with an empty ambient set, as under runc."""
    assert subprocess.run([str(PYRT), "spec", "--bundle", str(tmp_path)]).returncode == 0
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["process"]["capabilities"]["ambient"] and "inheritable" not in cfg["process"]["capabilities"]
    cfg["root"] = {"path": str(ROOTFS), "readonly": True}
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["cat", "/proc/self/status"]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    res = rt("run", "-b", str(tmp_path), rt.new_id())
    assert res.returncode == 0, res.stderr
    fields = status_fields(res.stdout)
    assert int(fields["CapAmb"], 16) == 0 and int(fields["CapInh"], 16) == 0
    assert int(fields["CapEff"], 16) == 1 << 29 | 1 << 5 | 1 << 10


def test_only_stdio_reaches_the_process(rt: Runtime) -> None:
    r, w = os.pipe()
    extra = os.open("/", os.O_RDONLY)  # a host directory fd: must never reach the container
    try:
        os.set_inheritable(extra, True)
        os.set_inheritable(r, True)
        out = inside(rt, "ls /proc/self/fd", pass_fds=(r, w, extra))
    finally:
        for fd in (r, w, extra):
            os.close(fd)
    assert out.split() == ["0", "1", "2", "3"]  # 3 is ls's own directory fd


def test_preserve_fds(rt: Runtime, tmp_path: Path) -> None:
    import subprocess

    from tests.conftest import PYRT

    f = tmp_path / "data"
    f.write_text("through fd 3\n")
    bundle = rt.bundle(args=["sh", "-c", "cat <&3; ls /proc/self/fd | wc -l"])
    # a shell opens fd 3 for the runtime, as a caller handing fds over would
    res = subprocess.run(["sh", "-c", f'exec 3<"{f}" 4<"{f}"; exec "$0" "$@"', str(PYRT), "--root", str(rt.root),
                          "run", "--preserve-fds", "1", "-b", str(bundle), rt.new_id()],
                         capture_output=True, text=True, timeout=30)
    assert (res.returncode, res.stdout) == (0, "through fd 3\n5\n"), res.stderr  # 0-2, 3, and ls's own


def test_masked_and_readonly_paths(rt: Runtime) -> None:
    script = ("cat /proc/timer_list | wc -c; ls /proc/acpi | wc -l; "
              "echo x > /proc/sys/kernel/domainname 2>/dev/null && echo writable || echo read-only; "
              "echo x > /proc/sysrq-trigger 2>/dev/null && echo writable || echo read-only; "
              "touch /proc/keys 2>/dev/null; cat /proc/keys | wc -c")
    assert inside(rt, script).split() == ["0", "0", "read-only", "read-only", "0"]


def test_readonly_root_and_writable_tmpfs(rt: Runtime) -> None:
    out = inside(rt, "touch /etc/x 2>/dev/null && echo rw || echo ro; touch /dev/shm/x && echo shm-rw")
    assert out == "ro\nshm-rw\n"


def test_devices_and_links(rt: Runtime) -> None:
    out = inside(rt, "for d in null zero full random urandom tty; do [ -c /dev/$d ] && echo -n $d,; done; echo; "
                     "for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done; head -c 3 /dev/zero | wc -c")
    assert out == ("null,zero,full,random,urandom,tty,\n/proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n"
                   "/proc/self/fd/2\npts/ptmx\n3\n")


def test_rlimits_and_oom_score(rt: Runtime) -> None:
    cfg = busybox_config()
    cfg["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000},
                                 {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
    cfg["process"]["oomScoreAdj"] = 123
    assert inside(rt, "ulimit -n; ulimit -Hn; ulimit -c; cat /proc/self/oom_score_adj", cfg) == "512\n1000\n0\n123\n"


def test_rlimit_of_2_to_the_64_minus_1_is_unlimited(rt: Runtime) -> None:
    import resource

    if resource.getrlimit(resource.RLIMIT_CORE)[1] != resource.RLIM_INFINITY:
        pytest.skip("this host's hard RLIMIT_CORE is finite (root here cannot raise hard limits)")
    cfg = busybox_config()
    cfg["process"]["rlimits"] = [{"type": "RLIMIT_CORE", "soft": 2**64 - 1, "hard": 2**64 - 1}]
    assert inside(rt, "ulimit -c; ulimit -Hc", cfg) == "unlimited\nunlimited\n"


def test_network_namespace_has_lo_up(rt: Runtime) -> None:
    out = inside(rt, "cat /sys/class/net/lo/operstate /sys/class/net/lo/flags; ls /sys/class/net")
    lines = out.split()
    assert int(lines[1], 16) & 1  # IFF_UP
    assert lines[2:] == ["lo"]


def test_sysctl_in_the_container_namespace(rt: Runtime) -> None:
    cfg = busybox_config()
    cfg["linux"]["sysctl"] = {"net.ipv4.ip_unprivileged_port_start": "0", "kernel.shmmni": "1234"}
    host_before = Path("/proc/sys/kernel/shmmni").read_text()
    out = inside(rt, "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmni", cfg)
    assert out == "0\n1234\n"
    assert Path("/proc/sys/kernel/shmmni").read_text() == host_before


def test_no_pivot_and_session_keyring(rt: Runtime) -> None:
    res = rt("run", "--no-pivot", "-b", str(rt.bundle(args=["sh", "-c", "ls /bin/busybox; cat /proc/self/cgroup | "
                                                         "grep -c pyrt"])), rt.new_id())
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == "/bin/busybox"


def test_bind_mounts_with_options(rt: Runtime, tmp_path: Path) -> None:
    src = tmp_path / "data"
    src.mkdir()
    (src / "f").write_text("bound\n")
    cfg = busybox_config()
    cfg["mounts"] += [
        {"destination": "/data", "type": "bind", "source": str(src), "options": ["rbind", "ro", "nosuid"]},
        {"destination": "/file", "type": "bind", "source": str(src / "f"), "options": ["bind"]},
        {"destination": "/etc/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "mode=755"]},
    ]
    out = inside(rt, "cat /data/f /file; touch /data/g 2>/dev/null || echo ro; grep -c ' /data ' /proc/mounts", cfg)
    assert out == "bound\nbound\nro\n1\n"
    assert sorted(p.name for p in src.iterdir()) == ["f"]


def test_user_namespace_with_mappings(rt: Runtime) -> None:
    cfg = busybox_config()
    cfg["linux"]["namespaces"].append({"type": "user"})
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cfg["root"]["readonly"] = True
    out = inside(rt, "id -u; cat /proc/self/uid_map", cfg)
    lines = out.split("\n")
    assert lines[0] == "0"
    assert lines[1].split() == ["0", "100000", "65536"]


def test_cgroup_and_time_namespaces(rt: Runtime) -> None:
    cfg = busybox_config()
    cfg["linux"]["namespaces"] += [{"type": "cgroup"}, {"type": "time"}]
    cid = rt.new_id()
    res = rt("run", "-b", str(rt.bundle(cfg, args=["sh", "-c", "cat /proc/self/cgroup; readlink /proc/self/ns/time"])),
             cid)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert all(line.endswith(":/") for line in lines[:-1]), lines  # rooted at the container's own cgroup
    assert lines[-1] != os.readlink("/proc/self/ns/time")


def test_idmapped_bind_mount(rt: Runtime, tmp_path: Path) -> None:
    src = tmp_path / "data"
    src.mkdir()
    (src / "root-owned").write_text("x")
    (src / "user-owned").write_text("y")
    os.chown(src / "user-owned", 1000, 1000)
    cfg = busybox_config()
    cfg["mounts"].append({"destination": "/data", "type": "bind", "source": str(src), "options": ["rbind"],
                          "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                          "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]})
    out = inside(rt, "stat -c '%n %u:%g' /data/root-owned /data/user-owned", cfg)
    # the mount's user namespace maps its 0 to 1000: on-disk root shows as 1000; 1000 is unmapped
    assert out == "/data/root-owned 1000:1000\n/data/user-owned 65534:65534\n"
    assert (os.stat(src / "root-owned").st_uid, os.stat(src / "user-owned").st_uid) == (0, 1000)
    cfg["mounts"][-1] = {"destination": "/t", "type": "tmpfs", "source": "tmpfs",
                         "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                         "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}
    res = rt("create", "-b", str(rt.bundle(cfg)), rt.new_id())
    assert res.returncode == 1 and res.stderr.startswith("pyrt: mounts[7].uidMappings: only bind mounts")


@pytest.mark.parametrize(("userns", "extra", "binds"), [
    (False, [], "ro,nosuid,nodev,noexec,relatime"), (True, [], "ro,nosuid,nodev,noexec,relatime"),
    (False, ["noatime"], "ro,nosuid,nodev,noexec,noatime"), (False, ["strictatime"], "ro,nosuid,nodev,noexec"),
    (False, ["sync"], "ro,nosuid,nodev,noexec,relatime"),
    (False, ["sync", "noatime"], "ro,nosuid,nodev,noexec,noatime")])
def test_cgroup_mounts_are_read_only_binds_of_the_containers_own_cgroups(rt: Runtime, userns: bool, extra: list[str],
                                                                         binds: str) -> None:
    """/sys/fs/cgroup ("ro" in the config): a read-only tmpfs and, for each hierarchy, a bind of the
    container's own cgroup with the config's flags: one mount_setattr for all of them, or one remount
    each where it cannot ("sync" has no mount attribute; also a user namespace's locked flag, an older
    kernel), with the same result, atime included."""
    cfg = busybox_config()
    opts = next(m for m in cfg["mounts"] if m["destination"] == "/sys/fs/cgroup")["options"]
    opts[:] = [o for o in opts if not (extra and o == "relatime")] + extra
    if userns:
        cfg["linux"]["namespaces"].append({"type": "user"})
        cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    out = inside(rt, "grep ' /sys/fs/cgroup' /proc/self/mountinfo; ls /sys/fs/cgroup/pids/pids.max; "
                     "echo 1 > /sys/fs/cgroup/pids/pids.max || echo refused", cfg)
    lines = out.splitlines()
    mounts = {line.split()[4]: line.split()[5] for line in lines if " /sys/fs/cgroup" in line}
    assert mounts.pop("/sys/fs/cgroup").startswith("ro,nosuid,nodev,noexec")
    host = {line.split()[4].rsplit("/", 1)[1] for line in open("/proc/self/mountinfo")
            if line.split()[4].startswith("/sys/fs/cgroup/")}
    assert {d.rsplit("/", 1)[1] for d in mounts} == host
    assert set(mounts.values()) == {binds}, mounts
    assert lines[-2:] == ["/sys/fs/cgroup/pids/pids.max", "refused"]
