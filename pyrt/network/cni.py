"""`--network NAME`: CNI network lists run against the container's network namespace.

Follows the CNI spec (1.0): the plugins of a network configuration list run in
order for ADD, each getting the list's name and cniVersion and the previous
plugin's result as ``prevResult``; DEL runs them in reverse with the ADD result;
CHECK in order with it.  Parameters go in the CNI_* environment, the plugin's
config on stdin, its result or error ({"code", "msg", "details"}) on stdout.

The namespace is pinned (bind-mounted, as `ip netns add` does) in the
container's state directory, so DEL reaches the right namespace even after the
container exited and its pid was reused; delete unmounts it.  A failed ADD runs
DEL for the whole list, so no veth, lease or bridge port is left behind.

NAME is a network list in the CNI configuration directory (/etc/cni/net.d, or
$PYRT_CNI_CONFIG_DIR), found by its "name" as libcni does, a path to a
.conflist file, or `pyrt`: the built-in default (bridge pyrt0, host-local
addresses in 10.213.0.0/24, the loopback plugin; no NAT, no firewall rules).
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from pyrt.common.errors import PyrtError, SetupError

CONFIG_DIR = "/etc/cni/net.d"
PLUGIN_PATH = "/usr/lib/cni:/opt/cni/bin"
IFNAME = "eth0"
DEFAULT_NAME = "pyrt"
DEFAULT_SUBNET = "10.213.0.0/24"


def default_conflist() -> dict[str, Any]:
    return {
        "cniVersion": "1.0.0",
        "name": DEFAULT_NAME,
        "plugins": [
            {"type": "bridge", "bridge": "pyrt0", "isGateway": True, "ipMasq": False, "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": DEFAULT_SUBNET}]],
                      "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "loopback"},
        ],
    }


def _validate(data: Any, where: str) -> dict[str, Any]:
    """A network list (or a single network config, turned into a list of one), checked field by field."""
    if not isinstance(data, dict):
        raise PyrtError(f"{where}: expected a JSON object")
    if "plugins" not in data and "type" in data:  # a .conf: one plugin
        plugin = {k: v for k, v in data.items() if k not in ("cniVersion", "name")}
        data = {"cniVersion": data.get("cniVersion"), "name": data.get("name"), "plugins": [plugin]}
    for key in ("cniVersion", "name"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise PyrtError(f"{where}: {key}: required, a non-empty string")
    plugins = data.get("plugins")
    if not isinstance(plugins, list) or not plugins:
        raise PyrtError(f"{where}: plugins: required, a non-empty list")
    for i, plugin in enumerate(plugins):
        if not isinstance(plugin, dict):
            raise PyrtError(f"{where}: plugins[{i}]: expected an object")
        kind = plugin.get("type")
        if not isinstance(kind, str) or not kind or "/" in kind:
            raise PyrtError(f"{where}: plugins[{i}].type: required, a plugin name")
    out: dict[str, Any] = data
    return out


def _read(path: str) -> dict[str, Any]:
    from pyrt.linux.files import read_json

    return _validate(read_json(path, "--network"), f"--network: {path}")


def load(name: str) -> dict[str, Any]:
    """The network list NAME (see the module's doc)."""
    if "/" in name:
        return _read(name)
    directory = os.environ.get("PYRT_CNI_CONFIG_DIR", CONFIG_DIR)
    try:
        files = sorted(f for f in os.listdir(directory) if f.endswith((".conflist", ".conf", ".json")))
    except FileNotFoundError:
        files = []
    for f in files:
        path = os.path.join(directory, f)
        try:
            with open(path, "rb") as fh:
                data = json.loads(fh.read())
        except (OSError, ValueError):
            continue  # a broken file that is not the one asked for: libcni skips it too
        if isinstance(data, dict) and data.get("name") == name:
            return _validate(data, f"--network: {path}")
    if name == DEFAULT_NAME:
        return default_conflist()
    raise PyrtError(f"--network {name}: no network list named {name!r} in {directory} (and not the built-in "
                    f"{DEFAULT_NAME!r}); give a name, a .conflist path, none or host")


def _plugin(kind: str) -> str:
    search = os.environ.get("CNI_PATH", PLUGIN_PATH)
    for d in search.split(":"):
        path = os.path.join(d, kind)
        if d and os.access(path, os.X_OK):
            return path
    raise PyrtError(f"CNI plugin {kind!r} not found in {search}")


def _invoke(command: str, conflist: dict[str, Any], index: int, cid: str, netns: str,
            prev: dict[str, Any] | None) -> dict[str, Any] | None:
    plugin = dict(conflist["plugins"][index])
    kind = plugin["type"]
    plugin["cniVersion"], plugin["name"] = conflist["cniVersion"], conflist["name"]
    if prev is not None:
        plugin["prevResult"] = prev
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": netns, "CNI_IFNAME": IFNAME,
           "CNI_PATH": os.environ.get("CNI_PATH", PLUGIN_PATH), "CNI_ARGS": "",
           "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
    try:
        res = subprocess.run([_plugin(kind)], input=json.dumps(plugin).encode(), env=env, capture_output=True,
                             timeout=60)
    except subprocess.TimeoutExpired:
        raise PyrtError(f"plugin {kind} ({command}): no answer in 60 s") from None
    if res.returncode != 0:
        try:
            err = json.loads(res.stdout)
            msg = err.get("msg") or f"error code {err.get('code')}"
            if err.get("details"):
                msg += f": {err['details']}"
        except (ValueError, AttributeError):
            msg = (res.stderr or res.stdout).decode(errors="replace").strip().replace("\n", " ") or \
                f"exit status {res.returncode}"
        raise PyrtError(f"plugin {kind} ({command}): {msg}")
    if command != "ADD":
        return None
    try:
        result = json.loads(res.stdout)
    except ValueError:
        raise PyrtError(f"plugin {kind} (ADD): its result is not JSON: {res.stdout[:80]!r}") from None
    if not isinstance(result, dict):
        raise PyrtError(f"plugin {kind} (ADD): its result is not a JSON object")
    return result


def summary(result: dict[str, Any] | None) -> dict[str, Any]:
    """What state and list show: the container's interfaces and addresses from the ADD result."""
    result = result or {}
    interfaces = [i for i in result.get("interfaces") or [] if isinstance(i, dict)]
    ips = []
    for ip in result.get("ips") or []:
        if not isinstance(ip, dict):
            continue
        entry = {"address": ip.get("address")}
        idx = ip.get("interface")
        if isinstance(idx, int) and 0 <= idx < len(interfaces):
            entry["interface"] = interfaces[idx].get("name")
        if ip.get("gateway"):
            entry["gateway"] = ip["gateway"]
        ips.append(entry)
    return {"interfaces": [{"name": i.get("name"), "mac": i.get("mac")} for i in interfaces if i.get("sandbox")],
            "ips": ips}


class Attachment:
    """One container on one network list: pin the namespace, ADD; later CHECK and DEL (from the state)."""

    def __init__(self, conflist: dict[str, Any], cid: str, pin: str) -> None:
        self.conflist = conflist
        self.cid = cid
        self.pin = pin
        self.result: dict[str, Any] | None = None
        self.pinned = False

    @property
    def field(self) -> str:
        return f"--network {self.conflist['name']}"

    def record(self) -> dict[str, Any]:
        """Everything DEL and CHECK need later, kept in the container's state."""
        return {"name": self.conflist["name"], "conflist": self.conflist, "netns": self.pin, "ifname": IFNAME,
                "result": self.result}

    @classmethod
    def from_record(cls, rec: dict[str, Any], cid: str) -> Attachment:
        att = cls(rec["conflist"], cid, rec["netns"])
        att.result = rec.get("result")
        att.pinned = True
        return att

    def attach(self, pid: int) -> None:
        """Pin pid's network namespace and ADD; on failure everything is undone before raising."""
        try:
            pin_netns(pid, self.pin)
            self.pinned = True
            prev = None
            for i in range(len(self.conflist["plugins"])):
                prev = _invoke("ADD", self.conflist, i, self.cid, self.pin, prev)
            self.result = prev
        except PyrtError as exc:
            self.release()
            raise SetupError(self.field, str(exc)) from None
        except BaseException:
            self.release()
            raise

    def check(self) -> None:
        for i in range(len(self.conflist["plugins"])):
            _invoke("CHECK", self.conflist, i, self.cid, self.pin, self.result)

    def release(self) -> list[str]:
        """DEL (every plugin, in reverse, even after an error) and unpin; returns the errors as lines."""
        errors = []
        if self.pinned:
            for i in reversed(range(len(self.conflist["plugins"]))):
                try:
                    _invoke("DEL", self.conflist, i, self.cid, self.pin, self.result)
                except PyrtError as exc:
                    errors.append(f"{self.field}: {exc}")
            unpin_netns(self.pin)
            self.pinned = False
        return errors


def pin_netns(pid: int, path: str) -> None:
    from pyrt.common import constants as C
    from pyrt.linux import sys as S

    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444))
    except OSError as exc:
        raise PyrtError(f"pinning the network namespace at {path}: {exc.strerror}") from None
    try:
        S.mount(f"/proc/{pid}/ns/net", path, None, C.MS_BIND, None)
    except OSError as exc:
        os.unlink(path)
        raise PyrtError(f"pinning the network namespace of pid {pid} at {path}: {exc.strerror}") from None


def unpin_netns(path: str) -> None:
    from pyrt.linux import sys as S

    try:
        S.umount2(path, 2)  # MNT_DETACH
    except OSError:
        pass
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
