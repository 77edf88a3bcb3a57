"""Small config edits the cases combine."""

from __future__ import annotations

from typing import Any

from tests.differential.harness import Config, Edit

STATUS = "grep -E '^(Cap|NoNewPrivs|Seccomp:|Uid|Gid|Groups)' /proc/self/status"
HOST_DIR = "/tmp/pyrt-differential-src"  # made by the test module: a bind source every runtime can read
PRIVATE_DIR = "/tmp/pyrt-differential-private/inner"  # ... and one below a 0700 directory: host root's only


def chain(*edits: Edit) -> Edit:
    def edit(cfg: Config) -> None:
        for one in edits:
            one(cfg)

    return edit


def process(**fields: Any) -> Edit:
    def edit(cfg: Config) -> None:
        cfg["process"].update(fields)

    return edit


def drop_process(*names: str) -> Edit:
    def edit(cfg: Config) -> None:
        for name in names:
            cfg["process"].pop(name, None)

    return edit


def linux(**fields: Any) -> Edit:
    def edit(cfg: Config) -> None:
        cfg["linux"].update(fields)

    return edit


def resources(**fields: Any) -> Edit:
    def edit(cfg: Config) -> None:
        cfg["linux"].setdefault("resources", {}).update(fields)

    return edit


def caps(**sets: list[str]) -> Edit:
    def edit(cfg: Config) -> None:
        cfg["process"]["capabilities"] = sets

    return edit


def mount(
    destination: str, type: str = "tmpfs", source: str = "tmpfs", options: list[str] | None = None, **extra: Any
) -> Edit:
    def edit(cfg: Config) -> None:
        entry: dict[str, Any] = {"destination": destination, "type": type, "source": source}
        if options is not None:
            entry["options"] = options
        entry.update(extra)
        cfg["mounts"].append(entry)

    return edit


def bind(destination: str, source: str = HOST_DIR, options: tuple[str, ...] = ("bind",)) -> Edit:
    return mount(destination, "bind", source, list(options))


def idmapped_bind(destination: str, host_id: int = 1000, source: str = HOST_DIR) -> Edit:
    """A bind mount whose ids are shifted: host_id appears as 0 (mounts[].uidMappings, runtime-spec 1.1)."""

    def edit(cfg: Config) -> None:
        ids = [{"containerID": 0, "hostID": host_id, "size": 1}]
        cfg["mounts"].append(
            {
                "destination": destination,
                "type": "bind",
                "source": source,
                "options": ["bind", "idmap"],
                "uidMappings": ids,
                "gidMappings": ids,
            }
        )

    return edit


def replace_mount(destination: str, **fields: Any) -> Edit:
    def edit(cfg: Config) -> None:
        for m in cfg["mounts"]:
            if m["destination"] == destination:
                m.update(fields)

    return edit


def drop_mount(destination: str) -> Edit:
    def edit(cfg: Config) -> None:
        cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != destination]

    return edit


def namespaces(*add: str, drop: tuple[str, ...] = ()) -> Edit:
    """Namespaces added (unless there: `runc spec` lists a cgroup namespace on a cgroup v2 host) or dropped."""

    def edit(cfg: Config) -> None:
        ns = [n for n in cfg["linux"]["namespaces"] if n["type"] not in drop]
        cfg["linux"]["namespaces"] = ns + [{"type": t} for t in add if t not in {n["type"] for n in ns}]

    return edit


def userns(size: int = 65536, host: int = 100000) -> Edit:
    """A user namespace mapping 0..size to host..host+size; the rootfs needs no chown for busybox."""

    def edit(cfg: Config) -> None:
        cfg["linux"]["namespaces"].append({"type": "user"})
        cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": host, "size": size}]
        cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": host, "size": size}]

    return edit


def device(path: str, type: str, major: int, minor: int, **extra: Any) -> Edit:
    def edit(cfg: Config) -> None:
        cfg["linux"].setdefault("devices", []).append(
            {"path": path, "type": type, "major": major, "minor": minor, **extra}
        )

    return edit


def device_rule(allow: bool, access: str = "rwm", **extra: Any) -> Edit:
    def edit(cfg: Config) -> None:
        cfg["linux"].setdefault("resources", {}).setdefault("devices", []).append(
            {"allow": allow, "access": access, **extra}
        )

    return edit


def writable_root(cfg: Config) -> None:
    cfg["root"]["readonly"] = False


def hooks(**phases: list[dict[str, Any]]) -> Edit:
    def edit(cfg: Config) -> None:
        cfg["hooks"] = phases

    return edit


def annotate(**values: str) -> Edit:
    def edit(cfg: Config) -> None:
        cfg["annotations"] = values

    return edit


def pop(path: str) -> Edit:
    """Remove a field named by a dotted path (e.g. `process.cwd`)."""

    def edit(cfg: Config) -> None:
        *parents, last = path.split(".")
        node = cfg
        for p in parents:
            node = node[p]
        node.pop(last, None)

    return edit


def set_path(path: str, value: Any) -> Edit:
    def edit(cfg: Config) -> None:
        *parents, last = path.split(".")
        node = cfg
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value

    return edit
