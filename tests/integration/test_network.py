"""--network (CNI plugins from /usr/lib/cni) and linux.netDevices (pyroute2).

Tests that touch host networking use their own bridge, subnet, lease directory and veth names
and remove them; the built-in default network's bridge (pyrt0) and lease directory are removed
at the end when a test created them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Runtime, busybox_config, reap

PLUGINS = Path("/usr/lib/cni")
pytestmark = pytest.mark.skipif(not (PLUGINS / "bridge").exists(),
                                reason="CNI plugins missing (scripts/setup installs containernetworking-plugins)")


def links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def config(args: list[str], caps: tuple[str, ...] = ()) -> dict[str, Any]:
    cfg = busybox_config()
    cfg["process"]["args"] = args
    for kind in ("bounding", "effective", "permitted"):
        cfg["process"]["capabilities"][kind] += list(caps)
    return cfg


def address(rt: Runtime, cid: str) -> str:
    ip: str = rt.state(cid)["network"]["ips"][0]["address"]
    return ip.split("/")[0]


class Net:
    """A private CNI network list: its own bridge, /24 and host-local data dir."""

    def __init__(self, tmp: Path, octet: int, **ipam: Any) -> None:
        self.bridge = f"ptb{uuid.uuid4().hex[:8]}"
        self.name = f"pt-{uuid.uuid4().hex[:8]}"
        self.data = tmp / "leases"
        self.subnet = f"10.214.{octet}"
        self.conflist = {
            "cniVersion": "1.0.0", "name": self.name,
            "plugins": [{"type": "bridge", "bridge": self.bridge, "isGateway": True, "ipMasq": False,
                         "ipam": {"type": "host-local", "dataDir": str(self.data),
                                  "ranges": [[{"subnet": f"{self.subnet}.0/24", **ipam}]]}}]}

    def leases(self) -> list[str]:
        d = self.data / self.name
        return sorted(p.name for p in d.iterdir() if p.name[0].isdigit()) if d.exists() else []

    def ports(self) -> list[str]:
        brif = Path("/sys/class/net") / self.bridge / "brif"
        return sorted(os.listdir(brif)) if brif.exists() else []

    def remove(self) -> None:
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)


@pytest.fixture
def cni_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "net.d"
    d.mkdir()
    monkeypatch.setenv("PYRT_CNI_CONFIG_DIR", str(d))
    return d


@pytest.fixture
def net(tmp_path: Path, cni_dir: Path) -> Iterator[Net]:
    n = Net(tmp_path, 1)
    (cni_dir / "10-test.conflist").write_text(json.dumps(n.conflist))
    yield n
    n.remove()


@pytest.fixture
def default_network(cni_dir: Path) -> Iterator[None]:
    """The built-in `pyrt` network; what it creates on the host is removed if it was not there before."""
    had_bridge = "pyrt0" in links()
    store = Path("/var/lib/cni/networks/pyrt")
    missing = [p for p in (store, store.parent, store.parent.parent) if not p.exists()]  # host-local makes them
    yield
    if not had_bridge:
        subprocess.run(["ip", "link", "del", "pyrt0"], capture_output=True)
    for p in missing:  # deepest first
        if p == store:
            shutil.rmtree(p, ignore_errors=True)
        elif p.exists():
            p.rmdir()


def test_default_network_containers_reach_each_other_and_the_host(rt: Runtime, default_network: None) -> None:
    server = rt.new_id("srv")
    rt("run", "-d", "--network", "pyrt", "-b", str(rt.bundle(config(["httpd", "-f", "-p", "8080", "-h", "/etc"]))),
       server, check=True)
    try:
        ip = address(rt, server)
        assert ip.startswith("10.213.0.")
        state = rt.state(server)["network"]
        assert state["name"] == "pyrt" and state["interfaces"][0]["name"] == "eth0"
        listed = rt("list", check=True).stdout
        assert "NETWORK" in listed.splitlines()[0] and f"pyrt {ip}/24" in listed
        assert json.loads(rt("list", "--format", "json", check=True).stdout)[0]["network"]["ips"][0]["address"]
        passwd = urllib.request.urlopen(f"http://{ip}:8080/passwd", timeout=5).read().decode()  # host -> container
        assert passwd.startswith("root:")
        script = (f"wget -q -O - http://{ip}:8080/passwd | head -1; ping -c1 -W2 {ip} >/dev/null && echo peer-ok; "
                  "ping -c1 -W2 10.213.0.1 >/dev/null && echo host-ok; ip -o -4 addr show eth0")
        client = config(["sh", "-c", script], caps=("CAP_NET_RAW",))
        res = rt("run", "--network", "pyrt", "-b", str(rt.bundle(client)), rt.new_id("cl"), check=True)
        assert res.stdout.splitlines()[:3] == ["root:x:0:0:root:/root:/bin/sh", "peer-ok", "host-ok"]
        assert rt("network", "check", server).returncode == 0
    finally:
        rt("delete", "--force", server, check=True)


def test_no_network_is_the_default_and_host_shares_the_hosts(rt: Runtime) -> None:
    show = config(["ls", "/sys/class/net"])
    assert rt("run", "-b", str(rt.bundle(show)), rt.new_id(), check=True).stdout.split() == ["lo"]
    assert rt("run", "--network", "none", "-b", str(rt.bundle(show)), rt.new_id(), check=True).stdout.split() == ["lo"]
    res = rt("run", "--network", "host", "-b", str(rt.bundle(show)), rt.new_id(), check=True)
    assert set(res.stdout.split()) == links()
    assert "--network host: the config's network namespace is dropped" in res.stderr


def test_delete_removes_the_veth_and_releases_the_address(rt: Runtime, net: Net) -> None:
    cid = rt.new_id()
    before = links()
    rt("create", "--network", net.name, "-b", str(rt.bundle(config(["sleep", "100"]))), cid, check=True)
    ip = address(rt, cid)
    assert net.leases() == [ip]
    assert len(net.ports()) == 1
    assert len(links() - before) == 2  # the bridge and the host end of the veth
    rt("delete", "--force", cid, check=True)
    assert net.leases() == [] and net.ports() == []
    assert links() - before == {net.bridge}


def test_network_check_sees_a_broken_attachment(rt: Runtime, net: Net) -> None:
    cid = rt.new_id()
    rt("create", "--network", net.name, "-b", str(rt.bundle(config(["sleep", "100"]))), cid, check=True)
    try:
        ok = rt("network", "check", cid)
        assert ok.returncode == 0 and "ok" in ok.stdout
        (port,) = net.ports()
        subprocess.run(["ip", "link", "del", port], check=True)  # takes the container's eth0 with it
        broken = rt("network", "check", cid)
        assert broken.returncode == 1 and len(broken.stderr.splitlines()) == 1, broken.stderr
        assert "plugin bridge (CHECK)" in broken.stderr
        assert rt("network", "check", "no-such").returncode == 2
    finally:
        rt("delete", "--force", cid, check=True)
    plain = rt.new_id()
    rt("create", "-b", str(rt.bundle(config(["sleep", "100"]))), plain, check=True)
    try:
        res = rt("network", "check", plain)
        assert res.returncode == 2 and "has no network" in res.stderr
    finally:
        rt("delete", "--force", plain, check=True)


def test_twenty_containers_in_parallel_leave_no_interface_or_lease(rt: Runtime, net: Net) -> None:
    before = links()
    ids = [rt.new_id(f"p{i}") for i in range(20)]
    bundle = str(rt.bundle(config(["sleep", "100"])))
    results: dict[str, int] = {}

    def each(fn: Any) -> None:
        threads = [threading.Thread(target=fn, args=(cid,)) for cid in ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def create(cid: str) -> None:
        results[cid] = rt("create", "--network", net.name, "-b", bundle, cid, timeout=120).returncode

    def delete(cid: str) -> None:
        results[cid] = rt("delete", "--force", cid, timeout=120).returncode

    each(create)
    assert set(results.values()) == {0}
    assert len(set(net.leases())) == 20 and len(net.ports()) == 20
    assert len({address(rt, cid) for cid in ids}) == 20
    each(delete)
    reap()
    assert set(results.values()) == {0}
    assert net.leases() == [] and net.ports() == []
    assert links() - before == {net.bridge}


@pytest.mark.parametrize("case", ["missing plugin", "malformed conflist", "unknown name", "no netns"])
def test_bad_network_input_is_one_line_and_leaves_nothing(rt: Runtime, tmp_path: Path, cni_dir: Path,
                                                          case: str) -> None:
    before = links()
    cfg = config(["true"])
    name = "broken"
    if case == "missing plugin":
        (cni_dir / "b.conflist").write_text(json.dumps(
            {"cniVersion": "1.0.0", "name": name, "plugins": [{"type": "nosuch-plugin"}]}))
        expect = "CNI plugin 'nosuch-plugin' not found"
    elif case == "malformed conflist":
        path = tmp_path / "bad.conflist"
        path.write_text('{"cniVersion": "1.0.0", "name": "x", "plugins": [')
        name, expect = str(path), "not valid JSON"
    elif case == "unknown name":
        name, expect = "no-such-network", "no network list named 'no-such-network'"
    else:
        cfg["linux"]["namespaces"] = [ns for ns in cfg["linux"]["namespaces"] if ns["type"] != "network"]
        name, expect = "pyrt", "has no network namespace"
    res = rt("run", "--network", name, "-b", str(rt.bundle(cfg)), rt.new_id())
    assert res.returncode == 1
    assert expect in res.stderr and len(res.stderr.splitlines()) == 1, res.stderr
    assert links() == before


def test_an_exhausted_range_fails_cleanly(rt: Runtime, tmp_path: Path, cni_dir: Path) -> None:
    n = Net(tmp_path, 2, rangeStart="10.214.2.10", rangeEnd="10.214.2.10")
    (cni_dir / "one.conflist").write_text(json.dumps(n.conflist))
    first = rt.new_id()
    try:
        rt("create", "--network", n.name, "-b", str(rt.bundle(config(["sleep", "100"]))), first, check=True)
        before = links()
        res = rt("create", "--network", n.name, "-b", str(rt.bundle(config(["sleep", "100"]))), rt.new_id())
        assert res.returncode == 1
        assert "no IP addresses available" in res.stderr and len(res.stderr.splitlines()) == 1, res.stderr
        assert links() == before and n.leases() == ["10.214.2.10"] and len(n.ports()) == 1
    finally:
        rt("delete", "--force", first, check=True)
        n.remove()


@pytest.fixture
def veth() -> Iterator[tuple[str, str]]:
    """A veth pair (this kernel has no dummy driver): the host keeps one end, the test moves the other."""
    tag = uuid.uuid4().hex[:6]
    host, moved = f"vh{tag}", f"vc{tag}"
    subprocess.run(["ip", "link", "add", host, "type", "veth", "peer", "name", moved], check=True)
    subprocess.run(["ip", "addr", "add", "10.215.0.2/24", "dev", moved], check=True)
    subprocess.run(["ip", "addr", "add", "2001:db8::5/64", "dev", moved, "nodad"], check=True)
    yield host, moved
    subprocess.run(["ip", "link", "del", host], capture_output=True)


def net_devices_config(moved: str, args: list[str], name: str = "eth1") -> dict[str, Any]:
    cfg = config(args)
    cfg["linux"]["netDevices"] = {moved: {"name": name}}
    return cfg


def test_net_devices_move_renamed_with_their_addresses_and_up(rt: Runtime, veth: tuple[str, str]) -> None:
    host, moved = veth  # the moved end is down on the host: the runtime sets it up (LNX-18)
    script = "ip -o addr show eth1; cat /sys/class/net/eth1/flags"
    res = rt("run", "-b", str(rt.bundle(net_devices_config(moved, ["sh", "-c", script]))), rt.new_id(), check=True)
    assert "10.215.0.2/24" in res.stdout and "2001:db8::5/64" in res.stdout
    assert int(res.stdout.split()[-1], 16) & 0x1
    assert moved not in links()
    deadline = time.monotonic() + 5  # the kernel tears a network namespace down in a workqueue, later
    while host in links() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert host not in links(), "the pair dies with the namespace pyrt made"


def test_net_devices_name_template_lets_the_kernel_pick(rt: Runtime, veth: tuple[str, str]) -> None:
    _host, moved = veth
    res = rt("run", "-b", str(rt.bundle(net_devices_config(moved, ["ls", "/sys/class/net"], name="eth%d"))),
             rt.new_id(), check=True)
    assert res.stdout.split() == ["eth0", "lo"]


def test_net_devices_stay_in_a_namespace_given_by_path(rt: Runtime, veth: tuple[str, str]) -> None:
    host, moved = veth
    ns = f"pt-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        cfg = net_devices_config(moved, ["true"])
        for entry in cfg["linux"]["namespaces"]:
            if entry["type"] == "network":
                entry["path"] = f"/run/netns/{ns}"
        rt("run", "-b", str(rt.bundle(cfg)), rt.new_id(), check=True)
        inside = subprocess.run(["ip", "netns", "exec", ns, "ip", "-o", "-4", "addr", "show", "eth1"],
                                capture_output=True, text=True, check=True).stdout
        assert "10.215.0.2/24" in inside
        assert host in links()
        clash_cfg = net_devices_config(host, ["true"])
        clash_cfg["linux"]["namespaces"] = cfg["linux"]["namespaces"]  # the same namespace: eth1 is taken
        clash = rt("run", "-b", str(rt.bundle(clash_cfg)), rt.new_id())
        assert clash.returncode == 1 and "already has a device named 'eth1'" in clash.stderr
        assert len(clash.stderr.splitlines()) == 1
        assert host in links(), "nothing moved when the name is taken"
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_net_devices_errors_leave_the_device_where_it_was(rt: Runtime, veth: tuple[str, str]) -> None:
    _host, moved = veth
    missing = rt("run", "-b", str(rt.bundle(net_devices_config("nosuch0", ["true"]))), rt.new_id())
    assert missing.returncode == 1 and "no network device 'nosuch0' on the host" in missing.stderr
    assert len(missing.stderr.splitlines()) == 1
    cfg = net_devices_config(moved, ["true"])
    cfg["linux"]["netDevices"]["vc-other"] = {"name": "eth1"}
    twice = rt("run", "-b", str(rt.bundle(cfg)), rt.new_id())
    assert twice.returncode == 1 and "is also the name given to" in twice.stderr
    cfg = net_devices_config(moved, ["true"], name="bad/name")
    bad = rt("run", "-b", str(rt.bundle(cfg)), rt.new_id())
    assert bad.returncode == 1 and "linux.netDevices" in bad.stderr and "not a valid interface name" in bad.stderr
    assert moved in links()
    out = subprocess.run(["ip", "-o", "-4", "addr", "show", moved], capture_output=True, text=True).stdout
    assert "10.215.0.2/24" in out
