"""`docker run --rm` and `docker exec` with pyrt and with runc, interleaved (see scripts/bench-docker)."""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import tarfile
import tempfile
import time

from argtypes import positive  # scripts/ is sys.path[0] when a script runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYRT = os.path.join(ROOT, ".venv", "bin", "pyrt")
BRIDGE = "pyrtbench0"


def rootfs_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(os.path.join(ROOT, "bundles", "busybox", "rootfs"), arcname=".")
    return buf.getvalue()



def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench-docker", description="`docker run --rm` and `docker "
                                     "exec` with pyrt and with runc, interleaved, through a private dockerd")
    parser.add_argument("n", nargs="?", type=positive, default=15, help="runs of each case (default 15)")
    n = parser.parse_args().n
    if os.path.exists("/run/pyrt-planner/planner.sock"):
        raise SystemExit("bench-docker: a pyrt planner is running (or left its socket): `pyrt planner --stop` first")
    d = tempfile.mkdtemp(prefix="pyrt-bench-docker-")
    for cmd in (["link", "add", BRIDGE, "type", "bridge"], ["addr", "add", "172.31.215.1/24", "dev", BRIDGE],
                ["link", "set", BRIDGE, "up"]):
        subprocess.run(["ip", *cmd], check=True)
    with open(os.path.join(d, "daemon.json"), "w") as fh:
        json.dump({"storage-driver": "overlay2", "runtimes": {"pyrt": {"path": PYRT}}, "iptables": False,
                   "ip-masq": False, "bridge": BRIDGE}, fh)
    sock = os.path.join(d, "docker.sock")
    daemon = subprocess.Popen(["dockerd", "--config-file", os.path.join(d, "daemon.json"), "--data-root",
                               os.path.join(d, "data"), "--exec-root", os.path.join(d, "exec"), "--pidfile",
                               os.path.join(d, "docker.pid"), "-H", f"unix://{sock}"],
                              stdout=open(os.path.join(d, "dockerd.log"), "wb"), stderr=subprocess.STDOUT)
    client = ["/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker", "-H", f"unix://{sock}"]
    try:
        for _ in range(150):
            if os.path.exists(sock) and subprocess.run([*client, "version"], capture_output=True).returncode == 0:
                break
            time.sleep(0.2)
        subprocess.run([*client, "import", "-", "bb"], input=rootfs_tar(), check=True, capture_output=True)

        def timed(*argv: str) -> float:
            t = time.perf_counter()
            res = subprocess.run([*client, *argv], capture_output=True)
            if res.returncode != 0:
                raise SystemExit(f"docker {' '.join(argv)}: {res.stderr.decode().strip()}")
            return (time.perf_counter() - t) * 1000

        def run_rm(runtime: str) -> float:
            return timed("run", "--rm", f"--runtime={runtime}", "bb", "true")

        def exec_true(runtime: str) -> float:
            return timed("exec", f"bench-{runtime}", "true")

        cases = {"docker run --rm bb true": run_rm, "docker exec C true": exec_true}
        for runtime in ("pyrt", "runc"):  # the containers `docker exec` enters
            timed("run", "-d", "--name", f"bench-{runtime}", f"--runtime={runtime}", "bb", "sleep", "100000")
        print("| case (median, interleaved) | pyrt ms | runc ms | pyrt/runc |\n|---|---|---|---|")
        for label, planner in (("planner stopped", False), ("planner warm", True)):
            if planner:
                subprocess.run([PYRT, "planner", "--detach"], check=True)
            try:
                times: dict[tuple[str, str], list[float]] = {(c, rt): [] for c in cases for rt in ("pyrt", "runc")}
                for case in cases.values():  # warm-up: page cache, the planner's first plan
                    case("pyrt"), case("runc")
                for _ in range(n):
                    for c, case in cases.items():
                        for runtime in random.sample(["pyrt", "runc"], 2):
                            times[(c, runtime)].append(case(runtime))
            finally:
                if planner:
                    subprocess.run([PYRT, "planner", "--stop"], check=True)
            for c in cases:
                p, r = statistics.median(times[(c, "pyrt")]), statistics.median(times[(c, "runc")])
                print(f"| {c}, {label} (n={n}) | {p:.0f} | {r:.0f} | {p / r:.2f}x |")
        for runtime in ("pyrt", "runc"):
            subprocess.run([*client, "rm", "-f", f"bench-{runtime}"], capture_output=True)
    finally:
        daemon.terminate()
        daemon.wait(30)
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)
        subprocess.run(["rm", "-rf", d])


if __name__ == "__main__":
    main()
