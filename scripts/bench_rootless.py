"""`scripts/bench --rootless`: `run /bin/true` as a normal user, pyrt against runc (both rootless, on the
same `runc spec --rootless` config), and pyrt rootless against pyrt as root (root's own `runc spec`
config); interleaved, medians.  A throwaway user is made for it (and removed): its own XDG_RUNTIME_DIR,
a copy of the busybox rootfs it owns, its own plan cache (~/.cache/pyrt, warm: filled before the timed
runs; root's in a private directory, warm too).  No planner is consulted by either pyrt."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYRT = os.path.join(ROOT, ".venv", "bin", "pyrt")
RUNC = shutil.which("runc") or "/usr/sbin/runc"


def _user() -> tuple[str, int, int, str]:
    name = f"pyrt-bench-{uuid.uuid4().hex[:6]}"
    subprocess.run(["useradd", "--create-home", "--user-group", "--shell", "/bin/sh", name], check=True)
    uid = int(subprocess.run(["id", "-u", name], capture_output=True, text=True, check=True).stdout)
    gid = int(subprocess.run(["id", "-g", name], capture_output=True, text=True, check=True).stdout)
    return name, uid, gid, f"/home/{name}"


def rootless(n: int) -> None:
    name, uid, gid, home = _user()
    runtime_dir = f"/run/user/{uid}"
    tmp = tempfile.mkdtemp(prefix="pyrt-bench-rootless-")
    try:
        os.makedirs(runtime_dir, mode=0o700)
        os.chown(runtime_dir, uid, gid)
        subprocess.run(["cp", "-a", os.path.join(ROOT, "bundles/busybox/rootfs"), f"{home}/rootfs"], check=True)
        env = {"HOME": home, "USER": name, "PATH": "/usr/local/bin:/usr/bin:/bin", "XDG_RUNTIME_DIR": runtime_dir}
        as_user = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--init-groups", "--"]
        bundle = f"{home}/bundle"
        os.mkdir(bundle)
        subprocess.run([RUNC, "spec", "--rootless"], cwd=bundle, check=True)
        with open(f"{bundle}/config.json") as fh:
            cfg = json.load(fh)
        cfg["process"].update(terminal=False, args=["/bin/true"])
        cfg["root"]["path"] = f"{home}/rootfs"
        cfg["linux"]["uidMappings"][0]["hostID"] = uid
        cfg["linux"]["gidMappings"][0]["hostID"] = gid
        with open(f"{bundle}/config.json", "w") as fh:
            json.dump(cfg, fh)
        subprocess.run(["chown", "-R", f"{uid}:{gid}", home], check=True)
        root_bundle = os.path.join(tmp, "root-bundle")
        os.mkdir(root_bundle)
        subprocess.run([RUNC, "spec"], cwd=root_bundle, check=True)
        with open(f"{root_bundle}/config.json") as fh:
            rcfg = json.load(fh)
        rcfg["process"].update(terminal=False, args=["/bin/true"])
        rcfg["root"]["path"] = os.path.join(ROOT, "bundles/busybox/rootfs")
        with open(f"{root_bundle}/config.json", "w") as fh:
            json.dump(rcfg, fh)
        root_env = {**os.environ, "PYRT_CACHE_DIR": os.path.join(tmp, "cache"),
                    "PYRT_PLANNER_SOCKET": os.path.join(tmp, "no-planner.sock")}
        argv = {"pyrt rootless": [*as_user, PYRT, "run", "-b", bundle],
                "runc rootless": [*as_user, RUNC, "run", "-b", bundle],
                # through setpriv too (changing nothing), so that all three pay for the same wrapper
                "pyrt as root": ["setpriv", "--", PYRT, "--root", os.path.join(tmp, "root-state"), "run", "-b",
                                 root_bundle]}
        envs = {"pyrt rootless": env, "runc rootless": env, "pyrt as root": root_env}
        for case in argv:  # warm: plan caches filled, files in the page cache
            subprocess.run([*argv[case], f"warm-{uuid.uuid4().hex[:6]}"], env=envs[case], cwd="/", check=True)
        times: dict[str, list[float]] = {case: [] for case in argv}
        order = list(argv)
        for i in range(n):
            for case in order[i % 3:] + order[:i % 3]:
                t = time.perf_counter()
                subprocess.run([*argv[case], f"b{i}"], env=envs[case], cwd="/", check=True)
                times[case].append(time.perf_counter() - t)
    finally:
        subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
        subprocess.run(["userdel", "--remove", name], capture_output=True)
        shutil.rmtree(runtime_dir, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    med = {case: statistics.median(ts) * 1000 for case, ts in times.items()}
    print(f"| run /bin/true (median of {n}, interleaved) | ms | ratio |")
    print("|---|---|---|")
    print(f"| runc rootless | {med['runc rootless']:.1f} | |")
    print(f"| pyrt rootless | {med['pyrt rootless']:.1f} | {med['pyrt rootless'] / med['runc rootless']:.2f}x "
          "runc rootless |")
    print(f"| pyrt as root (runc spec's config) | {med['pyrt as root']:.1f} | "
          f"rootless/root {med['pyrt rootless'] / med['pyrt as root']:.2f}x |")
