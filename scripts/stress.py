"""See scripts/stress.  Prints one summary line: cycles, failures, leaks, time, rate."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from argtypes import positive  # scripts/ is sys.path[0] when a script runs

ROOT = Path(__file__).resolve().parent.parent
BINARIES = {"pyrt": str(ROOT / ".venv" / "bin" / "pyrt"), "runc": shutil.which("runc") or "/usr/sbin/runc"}
PREFIXES = ("s-", "race-")  # container ids of this script: their cgroups must not outlive them


def sh(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run with stdio in files: `create` leaves the container holding them, a pipe would never close."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.run(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, timeout=120)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(argv, proc.returncode, out.read(), err.read())


def snapshot(root: Path) -> dict[str, int]:
    with open("/proc/self/mountinfo") as fh:
        mounts = sum(1 for _ in fh)
    cgroups = 0
    for base in Path("/sys/fs/cgroup").iterdir():  # runc's default is /<id>, pyrt's /pyrt/<id>
        for parent in (base, base / "pyrt"):
            if parent.is_dir():
                cgroups += sum(1 for d in parent.iterdir() if d.is_dir() and d.name.startswith(PREFIXES))
    states = len(list(root.iterdir())) if root.exists() else 0
    fds = len(os.listdir("/proc/self/fd"))
    zombies = 0
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] == "Z" and int(fields[1]) == os.getpid():
                zombies += 1
    return {"mounts": mounts, "cgroups": cgroups, "state dirs": states, "caller fds": fds, "zombies": zombies}


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def cycle(binary: str, root: Path, bundle: Path) -> str:
    """create, start, kill, wait for stopped, delete; returns "" or what went wrong."""
    cid = f"s-{uuid.uuid4().hex[:12]}"
    base = [binary, "--root", str(root)]
    for step in (["create", "--bundle", str(bundle), cid], ["start", cid], ["kill", cid, "KILL"]):
        res = sh(base + step)
        if res.returncode != 0:
            sh(base + ["delete", "--force", cid])
            return f"{step[0]}: {res.stderr.strip()[:200]}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        out = sh(base + ["state", cid]).stdout
        if '"stopped"' in out:
            break
        time.sleep(0.02)
    res = sh(base + ["delete", cid])
    if res.returncode != 0:
        sh(base + ["delete", "--force", cid])
        return f"delete: {res.stderr.strip()[:200]}"
    return ""


def same_id_race(binary: str, root: Path, bundle: Path, k: int) -> str:
    """k parallel creates of one id: exactly one wins, the others say it exists."""
    cid = f"race-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(k) as pool:
        results = list(pool.map(lambda _: sh([binary, "--root", str(root), "create", "--bundle", str(bundle), cid]),
                                range(k)))
    sh([binary, "--root", str(root), "delete", "--force", cid])
    winners = [r for r in results if r.returncode == 0]
    losers_ok = all("exists" in r.stderr for r in results if r.returncode != 0)
    if len(winners) != 1 or not losers_ok:
        return f"same-id race: {len(winners)} winners; " + "; ".join(r.stderr.strip()[:80] for r in results[:3])
    return ""



def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/stress", description="parallel create/start/kill/delete "
                                     "cycles, checking after each batch that nothing leaked")
    parser.add_argument("n", nargs="?", type=positive, default=500, help="cycles in all (default 500)")
    parser.add_argument("k", nargs="?", type=positive, default=20, help="cycles in parallel (default 20)")
    parser.add_argument("--runtime", choices=sorted(BINARIES), default="pyrt")
    opts = parser.parse_args()
    n, k, binary = opts.n, opts.k, BINARIES[opts.runtime]
    import prctl

    prctl.set_child_subreaper(True)  # the inits become ours when create exits: reap them
    tmp = Path(tempfile.mkdtemp(prefix="pyrt-stress-"))
    root = tmp / "state"
    bundle = tmp / "bundle"
    bundle.mkdir()
    cfg = json.loads((ROOT / "bundles" / "busybox" / "config.json").read_text())
    cfg["root"]["path"] = str(ROOT / "bundles" / "busybox" / "rootfs")
    cfg["process"]["args"] = ["sleep", "30"]
    bundle_cfg = bundle / "config.json"
    failures: list[str] = []
    leaks: list[str] = []
    reap()
    time.sleep(0.5)
    before = snapshot(root)
    start = time.monotonic()
    done = 0
    batch = k * 5
    try:
        bundle_cfg.write_text(json.dumps(cfg))
        while done < n:
            todo = min(batch, n - done)
            with ThreadPoolExecutor(k) as pool:
                results = list(pool.map(lambda _: cycle(binary, root, bundle), range(todo)))
            failures += [r for r in results if r]
            race = same_id_race(binary, root, bundle, k)
            if race:
                failures.append(race)
            done += todo
            reap()
            time.sleep(0.3)
            reap()
            now = snapshot(root)
            grown = {key: (before[key], now[key]) for key in now if now[key] > before[key]}
            if grown:
                leaks.append(f"after {done} cycles: {grown}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    took = time.monotonic() - start
    print(f"{opts.runtime}: cycles={n} parallel={k} failures={len(failures)} leaks={len(leaks)} "
          f"time={took:.1f}s rate={n / took:.1f}/s")
    for line in (failures[:5] + leaks[:5]):
        print("  " + line)
    return 1 if failures or leaks else 0


if __name__ == "__main__":
    sys.exit(main())
