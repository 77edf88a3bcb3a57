"""User namespaces that only hold id mappings, for idmapped mounts (MOUNT_ATTR_IDMAP)."""

from __future__ import annotations

from pyrt.common import constants as C
from pyrt.common import posixos as os
from pyrt.common.errors import SetupError
from pyrt.linux import sys as S


def userns_fd(uid_map: str, gid_map: str, where: str) -> int:
    """An fd of a new user namespace with these mappings: a child makes it and waits, pyrt writes its
    maps and keeps a reference to the namespace, then the child is gone."""
    ready_r, ready_w = os.pipe()
    hold_r, hold_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ready_r)
            os.close(hold_w)
            S.unshare(C.CLONE_NEWUSER)
            os.write(ready_w, b"1")
            os.read(hold_r, 1)  # until the parent has the namespace
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(hold_r)
    try:
        if os.read(ready_r, 1) != b"1":
            raise SetupError(where, "could not create a user namespace for the id mapping")
        for name, text in (("uid_map", uid_map), ("gid_map", gid_map)):
            with open(f"/proc/{pid}/{name}", "w") as fh:
                fh.write(text)
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise SetupError(where, f"id mapping: {exc.strerror}") from None
    finally:
        os.close(ready_r)
        os.close(hold_w)
        os.waitpid(pid, 0)


def how_to_map(uid_map: str, gid_map: str) -> str:
    """"write" (root: any mapping), "own" (a normal user mapping only its own uid and gid, one id each:
    written after setgroups "deny") or "helpers" (newuidmap/newgidmap, for ranges from /etc/subuid)."""
    from pyrt.common.privilege import unprivileged

    if not unprivileged():
        return "write"
    uids, gids = uid_map.split(), gid_map.split()  # one id each, any id inside: the kernel's own rule
    own = len(uids) == len(gids) == 3 and [uids[1:], gids[1:]] == [[str(os.geteuid()), "1"], [str(os.getegid()), "1"]]
    return "own" if own else "helpers"


def run_helper(pid: int, name: str, mapping: str, field: str) -> None:
    """newuidmap PID (or newgidmap) with the mapping's triples; its refusal is the field's error."""
    import shutil
    import subprocess

    helper = "newuidmap" if name == "uid_map" else "newgidmap"
    path = shutil.which(helper) or (f"/usr/bin/{helper}" if os.path.exists(f"/usr/bin/{helper}") else None)
    if path is None:
        raise SetupError(field, f"mapping more than your own id needs {helper} (Debian's uidmap package), "
                         "which is not installed")
    done = subprocess.run([path, str(pid), *mapping.split()], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        why = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit status {done.returncode}"
        src = "/etc/subuid" if name == "uid_map" else "/etc/subgid"
        raise SetupError(field, f"{helper} refused the mapping ({why}); the ranges must be yours in {src}")
