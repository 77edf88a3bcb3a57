"""Interleaved wall-time medians of pyrt vs runc (see scripts/bench)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from argtypes import positive  # scripts/ is sys.path[0] when a script runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYRT = os.path.join(ROOT, ".venv", "bin", "pyrt")
RUNC = shutil.which("runc") or "/usr/sbin/runc"


def make_bundle(tmp: str, name: str = "bundle", args: list[str] | None = None) -> str:
    """bundles/busybox without seccomp, running /bin/true (or args)."""
    with open(os.path.join(ROOT, "bundles/busybox/config.json")) as fh:
        cfg = json.load(fh)
    cfg["process"]["args"] = args or ["/bin/true"]
    cfg["linux"].pop("seccomp", None)
    cfg["root"]["path"] = os.path.join(ROOT, "bundles/busybox/rootfs")
    bundle = os.path.join(tmp, name)
    os.mkdir(bundle)
    with open(os.path.join(bundle, "config.json"), "w") as fh:
        json.dump(cfg, fh)
    return bundle


def docker_bundle(tmp: str, name: str, seccomp: bool, tag: str, args: list[str] | None = None) -> str:
    """Docker 20.10's generated config (../shared/engines), runnable here; a new config each time."""
    src = os.path.join(ROOT, "..", "shared", "engines", "docker-runc-run-rm.config.json")
    with open(src) as fh:
        cfg = json.load(fh)
    cfg["root"]["path"] = os.path.join(ROOT, "bundles/busybox/rootfs")
    cfg["mounts"] = [m for m in cfg["mounts"] if m.get("type") != "bind" or os.path.exists(m["source"])]
    cfg.pop("hooks", None)
    cfg["process"]["args"] = args or ["/bin/true"]
    cfg["hostname"] = tag  # engines send a new config.json for every container
    cfg["linux"]["cgroupsPath"] = f"/docker/{tag}"
    if not seccomp:
        cfg["linux"].pop("seccomp", None)
    bundle = os.path.join(tmp, name)
    os.makedirs(bundle, exist_ok=True)
    with open(os.path.join(bundle, "config.json"), "w") as fh:
        json.dump(cfg, fh)
    return bundle


def seccomp_rows(n: int, tmp: str, bins: dict[str, str], roots: dict[str, str]) -> list[str]:
    """Docker's config with and without its profile, BPF cache cold and warm; per-syscall cost."""
    if not os.path.exists(os.path.join(ROOT, "..", "shared", "engines")):
        return ["| (Docker's config rows need ../shared/engines) | | | |"]
    cases = ["docker config, no seccomp", "docker config + profile, BPF cache warm",
             "docker config + profile, BPF cache cold"]
    times: dict[tuple[str, str], list[float]] = {(c, r): [] for c in cases for r in bins}
    warm_cache = os.path.join(tmp, "seccomp-cache")
    for i in range(n):
        for rt in (("pyrt", "runc") if i % 2 == 0 else ("runc", "pyrt")):
            b, r = bins[rt], roots[rt]
            for c in cases:
                tag = f"s{i}{rt[0]}{cases.index(c)}"
                bundle = docker_bundle(tmp, tag, "profile" in c, tag)
                os.environ["PYRT_CACHE_DIR"] = os.path.join(tmp, f"cold-{tag}") if "cold" in c else warm_cache
                times[(c, rt)].append(timed([b, "--root", r, "run", "-b", bundle, tag], tmp))
    os.environ["PYRT_CACHE_DIR"] = warm_cache
    rows = []
    for c in cases:
        p = statistics.median(times[(c, "pyrt")]) * 1000
        q = statistics.median(times[(c, "runc")]) * 1000
        rows.append(f"| {c} | {p:.1f} | {q:.1f} | {p / q:.2f}x |")
    base = {rt: statistics.median(times[("docker config, no seccomp", rt)]) * 1000 for rt in bins}
    for c in cases[1:]:
        extra = {rt: statistics.median(times[(c, rt)]) * 1000 - base[rt] for rt in bins}
        rows.append(f"| {c}: cost of seccomp | {extra['pyrt']:+.1f} | {extra['runc']:+.1f} | |")
    rows += syscall_rows(tmp, bins, roots)
    rows += record_rows(n, tmp)
    rows += network_rows(n, tmp)
    return rows


def record_rows(n: int, tmp: str) -> list[str]:
    """pyrt only: a run under --seccomp-record against the same run without it, interleaved."""
    rows: list[str] = []
    workloads = {"/bin/true": ["/bin/true"], "sh -c 'echo hi; ls /'": ["sh", "-c", "echo hi; ls /"]}
    root = os.path.join(tmp, "record-root")
    for label, args in workloads.items():
        bundle = make_bundle(tmp, f"rec-{len(rows)}", args)
        plain: list[float] = []
        recorded: list[float] = []
        for i in range(n):
            runs = [(plain, []), (recorded, ["--seccomp-record", os.path.join(tmp, "rec.json")])]
            for times, extra in (runs if i % 2 == 0 else runs[::-1]):
                times.append(timed([PYRT, "--root", root, "--log", os.path.join(tmp, "rec.log"), "run", *extra, "-b",
                                    bundle, f"rec{i}"], tmp))
        p, q = statistics.median(recorded) * 1000, statistics.median(plain) * 1000
        rows.append(f"| pyrt run --seccomp-record vs pyrt run: {label} | {p:.1f} | {q:.1f} (pyrt, no record) "
                    f"| {p / q:.2f}x |")
    exe = os.path.join(tmp, "sysbench")
    if os.path.exists(exe):
        bundle = make_bundle(tmp, "rec-sysbench", ["/sysbench", "2000"])
        with open(os.path.join(bundle, "config.json")) as fh:
            cfg = json.load(fh)
        cfg["mounts"].append({"destination": "/sysbench", "type": "bind", "source": exe, "options": ["bind", "ro"]})
        with open(os.path.join(bundle, "config.json"), "w") as fh:
            json.dump(cfg, fh)
        got = {}
        for label, extra in (("plain", []), ("recorded", ["--seccomp-record", os.path.join(tmp, "rec.json")])):
            got[label] = subprocess.run([PYRT, "--root", root, "run", *extra, "-b", bundle, "recsys"],
                                        capture_output=True, text=True, check=True).stdout.split()
        rows.append(f"| getppid / personality(-1) ns under --seccomp-record | {got['recorded'][0]} / "
                    f"{got['recorded'][1]} | {got['plain'][0]} / {got['plain'][1]} (pyrt, no record) | |")
    return rows


def network_rows(n: int, tmp: str) -> list[str]:
    """pyrt only: `run --network` (the built-in default's plugins, on a private bridge and lease
    directory that are removed afterwards) against `run --network none`, interleaved."""
    conf_dir = os.path.join(tmp, "net.d")
    os.makedirs(conf_dir, exist_ok=True)
    conflist = {"cniVersion": "1.0.0", "name": "bench", "plugins": [
        {"type": "bridge", "bridge": "pyrtbench0", "isGateway": True, "ipMasq": False, "hairpinMode": True,
         "ipam": {"type": "host-local", "dataDir": os.path.join(tmp, "leases"),
                  "ranges": [[{"subnet": "10.216.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
        {"type": "loopback"}]}
    with open(os.path.join(conf_dir, "bench.conflist"), "w") as fh:
        json.dump(conflist, fh)
    os.environ["PYRT_CNI_CONFIG_DIR"] = conf_dir
    bundle = make_bundle(tmp, "net")
    root = os.path.join(tmp, "net-root")
    none: list[float] = []
    attached: list[float] = []
    try:
        for i in range(n):
            runs = [(none, "none"), (attached, "bench")]
            for times, net in (runs if i % 2 == 0 else runs[::-1]):
                times.append(timed([PYRT, "--root", root, "run", "--network", net, "-b", bundle, f"net{i}"], tmp))
    finally:
        subprocess.run(["ip", "link", "del", "pyrtbench0"], capture_output=True)
    p, q = statistics.median(attached) * 1000, statistics.median(none) * 1000
    return [f"| pyrt run --network (bridge + host-local + loopback) vs --network none | {p:.1f} | "
            f"{q:.1f} (pyrt, none) | {p - q:+.1f} ms |"]


def syscall_rows(tmp: str, bins: dict[str, str], roots: dict[str, str]) -> list[str]:
    """ns per syscall inside the container, with Docker's profile and without."""
    exe = os.path.join(tmp, "sysbench")
    try:
        subprocess.run(["gcc", "-static", "-O2", "-o", exe, os.path.join(ROOT, "scripts", "sysbench.c")], check=True)
    except (OSError, subprocess.CalledProcessError):
        return ["| (per-syscall rows need gcc) | | | |"]
    rows = []
    for label, seccomp in (("getppid / personality(-1) ns, no filter", False),
                           ("getppid / personality(-1) ns, Docker's profile", True)):
        got = {}
        for rt in bins:
            tag = f"sys{rt}{int(seccomp)}"
            bundle = docker_bundle(tmp, tag, seccomp, tag, ["/sysbench"])
            with open(os.path.join(bundle, "config.json")) as fh:
                cfg = json.load(fh)
            cfg["mounts"].append({"destination": "/sysbench", "type": "bind", "source": exe, "options": ["bind", "ro"]})
            with open(os.path.join(bundle, "config.json"), "w") as fh:
                json.dump(cfg, fh)
            out = subprocess.run([bins[rt], "--root", roots[rt], "run", "-b", bundle, tag], capture_output=True,
                                 text=True, check=True).stdout.split()
            got[rt] = out
        rows.append(f"| {label} | {got['pyrt'][0]} / {got['pyrt'][1]} | {got['runc'][0]} / {got['runc'][1]} | |")
    return rows


def planner_rows(n: int, tmp: str, bins: dict[str, str], roots: dict[str, str]) -> list[str]:
    """With `pyrt planner` warm: runs whose plan is not cached (a new config each time, as engines send)."""
    sock = os.path.join(tmp, "planner", "planner.sock")
    env = dict(os.environ, PYRT_PLANNER_SOCKET=sock)
    subprocess.run([PYRT, "planner", "--detach"], env=env, check=True)
    cases = ["run /bin/true, new config each run, planner warm",
             "run, Docker's config + profile, new config each run, planner warm",
             "create+start+delete, new config each run, planner warm"]
    times: dict[tuple[str, str], list[float]] = {(c, r): [] for c in cases for r in bins}
    try:
        os.environ["PYRT_PLANNER_SOCKET"] = sock
        for i in range(n):
            for rt in (("pyrt", "runc") if i % 2 == 0 else ("runc", "pyrt")):
                b, r = bins[rt], roots[rt]
                tag = f"pl{i}{rt[0]}"
                bundle = make_bundle(tmp, f"{tag}a", ["/bin/true", tag])  # a new config: no plan cache hit
                times[(cases[0], rt)].append(timed([b, "--root", r, "run", "-b", bundle, f"{tag}a"], tmp))
                bundle = docker_bundle(tmp, f"{tag}d", True, f"{tag}d")
                times[(cases[1], rt)].append(timed([b, "--root", r, "run", "-b", bundle, f"{tag}d"], tmp))
                bundle = make_bundle(tmp, f"{tag}c", ["/bin/true", tag, "c"])
                times[(cases[2], rt)].append(sum(lifecycle(b, r, bundle, f"{tag}c", tmp)))
    finally:
        os.environ["PYRT_PLANNER_SOCKET"] = os.path.join(tmp, "no-planner.sock")
        subprocess.run([PYRT, "planner", "--stop"], env=env)
    rows = []
    for c in cases:
        p = statistics.median(times[(c, "pyrt")]) * 1000
        q = statistics.median(times[(c, "runc")]) * 1000
        rows.append(f"| {c} | {p:.1f} | {q:.1f} | {p / q:.2f}x |")
    return rows


def rss_rows(tmp: str, bundle: str, roots: dict[str, str]) -> list[str]:
    """Peak RSS (MB) of the biggest process of a `run` (pyrt's parent, intermediate and init alike)."""
    exe = os.path.join(tmp, "maxrss")
    try:
        subprocess.run(["gcc", "-static", "-O2", "-o", exe, os.path.join(ROOT, "scripts", "maxrss.c")], check=True)
    except (OSError, subprocess.CalledProcessError):
        return ["| (peak RSS rows need gcc) | | | |"]

    def peak(argv: list[str], **env: str) -> float:
        res = subprocess.run([exe, *argv], capture_output=True, text=True, env=dict(os.environ, **env))
        return int(res.stderr.strip().splitlines()[-1]) / 1024

    sock = os.path.join(tmp, "rss-planner", "planner.sock")
    subprocess.run([PYRT, "planner", "--detach"], env=dict(os.environ, PYRT_PLANNER_SOCKET=sock), check=True)
    try:
        subprocess.run([PYRT, "--root", roots["pyrt"], "run", "-b", bundle, "rss"], check=True)  # fills the cache
        runc = peak([RUNC, "--root", roots["runc"], "run", "-b", bundle, "rss"])
        rows = [f"| peak RSS MB: bare `python -I -S -c pass` | {peak([sys.executable, '-I', '-S', '-c', 'pass']):.1f} "
                f"| {runc:.1f} (runc run) | |"]
        for label, env in (("run, plan cache warm", {}),
                           ("run, cold plan cache, no planner", {"PYRT_CACHE_DIR": os.path.join(tmp, "rss-cold")}),
                           ("run, cold plan cache, planner warm", {"PYRT_CACHE_DIR": os.path.join(tmp, "rss-cold2"),
                                                                   "PYRT_PLANNER_SOCKET": sock})):
            got = peak([PYRT, "--root", roots["pyrt"], "run", "-b", bundle, "rss"], **env)
            rows.append(f"| peak RSS MB: pyrt {label} | {got:.1f} | {runc:.1f} | {got / runc:.2f}x |")
        # the demo bundle keeps its seccomp profile: a cold plan then imports pyseccomp and runs libseccomp
        demo = os.path.join(ROOT, "bundles", "busybox")
        got = peak([PYRT, "--root", roots["pyrt"], "run", "-b", demo, "rss"],
                   PYRT_CACHE_DIR=os.path.join(tmp, "rss-cold3"))  # main() points PYRT_PLANNER_SOCKET nowhere
        runc_demo = peak([RUNC, "--root", roots["runc"], "run", "-b", demo, "rss"])
        rows.append(f"| peak RSS MB: pyrt run of bundles/busybox (seccomp profile), cold plan cache, no planner "
                    f"| {got:.1f} | {runc_demo:.1f} | {got / runc_demo:.2f}x |")
    finally:
        subprocess.run([PYRT, "planner", "--stop"], env=dict(os.environ, PYRT_PLANNER_SOCKET=sock))
    return rows


def plot(rows: list[str], path: str) -> None:
    """A PNG of the pyrt and runc medians per configuration (the ms rows of the table)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(no plot: matplotlib is not installed; scripts/bench installs it)", file=sys.stderr)
        return
    data = []
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        try:
            data.append((cells[0], float(cells[1]), float(cells[2].split()[0])))
        except (ValueError, IndexError):
            continue
    data = [d for d in data if "RSS" not in d[0] and "ns" not in d[0]]
    fig, ax = plt.subplots(figsize=(11, 0.42 * len(data) + 1.5))
    ys = range(len(data))
    ax.barh([y + 0.2 for y in ys], [d[1] for d in data], height=0.4, label="pyrt", color="#3572a5")
    ax.barh([y - 0.2 for y in ys], [d[2] for d in data], height=0.4, label="runc 1.1.5 (or pyrt without the feature)",
            color="#aaaaaa")
    ax.set_yticks(list(ys), [d[0][:70] for d in data], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("median wall time, ms (interleaved runs)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"(plot: {path})", file=sys.stderr)


# What any command costs before it does anything: pyrt's interpreter starting (isolated, no site) and
# exiting, against all of `runc --version`.  `state`, `start`, `kill` and `delete` are this plus ~1-2 ms.
FLOOR_CASE = "bare start: python -IS -c pass / runc --version"


def lifecycle(b: str, root: str, bundle: str, cid: str, tmp: str) -> tuple[float, float, float]:
    """The times of create (with --pid-file, as engines call it), start and delete of one container;
    the wait for its /bin/true to exit between start and delete is not timed (engines wait for it too)."""
    pid_file = os.path.join(tmp, f"{cid}.pid")
    t_create = timed([b, "--root", root, "create", "-b", bundle, "--pid-file", pid_file, cid], tmp)
    t_start = timed([b, "--root", root, "start", cid], tmp)
    with open(pid_file) as fh:
        _wait_exit(int(fh.read()))
    return t_create, t_start, timed([b, "--root", root, "delete", cid], tmp)


def timed(argv: list[str], cwd: str) -> float:
    t = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench", description="pyrt against runc, interleaved; "
                                     "prints a markdown table of medians and writes a plot")
    parser.add_argument("n", nargs="?", type=positive, default=30, help="runs of each case (default 30)")
    parser.add_argument("--against", metavar="CHECKOUT",
                        help="instead of runc, time another pyrt checkout (its .venv set up by its scripts/setup) "
                             "against this one, interleaved")
    parser.add_argument("--rootless", action="store_true",
                        help="`run` as a throwaway normal user: pyrt against runc, and pyrt rootless against root")
    opts = parser.parse_args()
    n = opts.n
    if opts.rootless:
        from bench_rootless import rootless

        rootless(n)
        return
    if opts.against:
        against(n, opts.against)
        return
    tmp = tempfile.mkdtemp(prefix="pyrt-bench-")
    os.environ["PYRT_CACHE_DIR"] = os.path.join(tmp, "cache")
    os.environ["PYRT_PLANNER_SOCKET"] = os.path.join(tmp, "no-planner.sock")  # rows with a planner say so
    bundle = make_bundle(tmp)
    roots = {"pyrt": os.path.join(tmp, "pyrt-root"), "runc": os.path.join(tmp, "runc-root")}
    bins = {"pyrt": PYRT, "runc": RUNC}
    cases = ["run /bin/true", "run /bin/true, cold plan cache", "create+start+delete", "create", "start", "delete",
             "state", "kill (SIGCONT to a running container)", "exec /bin/true (foreground)",
             "exec --detach /bin/true", FLOOR_CASE]
    floor = {"pyrt": [os.path.join(ROOT, ".venv", "bin", "python"), "-IS", "-c", "pass"], "runc": [RUNC, "--version"]}
    times: dict[tuple[str, str], list[float]] = {(c, r): [] for c in cases for r in bins}
    try:
        sleeper = make_bundle(tmp, "sleeper", ["sleep", "100000"])
        for rt in bins:  # persistent containers for `state` and `kill`
            subprocess.run([bins[rt], "--root", roots[rt], "create", "-b", bundle, "bench-state"], check=True)
            subprocess.run([bins[rt], "--root", roots[rt], "run", "-d", "-b", sleeper, "bench-kill"], check=True,
                           stdout=subprocess.DEVNULL)
        for i in range(n):
            for rt in (("pyrt", "runc") if i % 2 == 0 else ("runc", "pyrt")):
                b, r = bins[rt], roots[rt]
                times[("run /bin/true", rt)].append(timed([b, "--root", r, "run", "-b", bundle, f"br{i}"], tmp))
                os.environ["PYRT_CACHE_DIR"] = os.path.join(tmp, f"cold-cache-{i}")  # empty: plans from scratch
                times[("run /bin/true, cold plan cache", rt)].append(
                    timed([b, "--root", r, "run", "-b", bundle, f"bk{i}"], tmp))
                os.environ["PYRT_CACHE_DIR"] = os.path.join(tmp, "cache")
                t_create, t_start, t_delete = lifecycle(b, r, bundle, f"bc{i}", tmp)
                times[("create+start+delete", rt)].append(t_create + t_start + t_delete)
                times[("create", rt)].append(t_create)
                times[("start", rt)].append(t_start)
                times[("delete", rt)].append(t_delete)
                times[("kill (SIGCONT to a running container)", rt)].append(
                    timed([b, "--root", r, "kill", "bench-kill", "CONT"], tmp))
                times[("exec /bin/true (foreground)", rt)].append(
                    timed([b, "--root", r, "exec", "bench-kill", "/bin/true"], tmp))
                times[("exec --detach /bin/true", rt)].append(
                    timed([b, "--root", r, "exec", "--detach", "bench-kill", "/bin/true"], tmp))
                times[("state", rt)].append(timed([b, "--root", r, "state", "bench-state"], tmp))
                times[(FLOOR_CASE, rt)].append(timed(floor[rt], tmp))
    finally:
        for rt in bins:
            for cid in ("bench-state", "bench-kill"):
                subprocess.run([bins[rt], "--root", roots[rt], "delete", "--force", cid], stderr=subprocess.DEVNULL)
    try:
        extra_rows = planner_rows(n, tmp, bins, roots) + seccomp_rows(n, tmp, bins, roots) + rss_rows(tmp, bundle,
                                                                                                        roots)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = []
    # runc has no plan cache: both of its `run` rows are the same command, so pool them
    pooled = times[("run /bin/true", "runc")] + times[("run /bin/true, cold plan cache", "runc")]
    times[("run /bin/true", "runc")] = times[("run /bin/true, cold plan cache", "runc")] = pooled
    for c in cases:
        p_ms = statistics.median(times[(c, "pyrt")]) * 1000
        r_ms = statistics.median(times[(c, "runc")]) * 1000
        rows.append(f"| {c} | {p_ms:.1f} | {r_ms:.1f} | {p_ms / r_ms:.2f}x |")
    rows += extra_rows
    print(f"| case (median of {n}, interleaved) | pyrt ms | runc ms | pyrt/runc |")
    print("|---|---|---|---|")
    for row in rows:
        print(row)
    plot(rows, os.environ.get("PYRT_BENCH_PLOT") or os.path.join(ROOT, "scripts", "bench-medians.png"))

def against(n: int, checkout: str) -> None:
    """This tree's pyrt against another checkout's, the hot commands interleaved; each tree has its own
    plan cache (warm: filled before the timed runs), state root and container ids (the cgroups are
    shared), and neither consults a planner."""
    other = os.path.join(os.path.abspath(checkout), ".venv", "bin", "pyrt")
    if not os.access(other, os.X_OK):
        sys.exit(f"bench: {other}: no launcher there (run that checkout's scripts/setup)")
    tmp = tempfile.mkdtemp(prefix="pyrt-bench-ab-")
    bins = {"this": PYRT, "other": other}
    caches = {t: os.path.join(tmp, f"cache-{t}") for t in bins}
    roots = {t: os.path.join(tmp, f"root-{t}") for t in bins}
    bundle = make_bundle(tmp)
    cases = ["run /bin/true", "create+start+delete", "state", "run /bin/true, cold plan cache"]
    times: dict[tuple[str, str], list[float]] = {(c, t): [] for c in cases for t in bins}
    try:
        for t, b in bins.items():
            os.environ["PYRT_CACHE_DIR"] = caches[t]
            subprocess.run([b, "--root", roots[t], "run", "-b", bundle, f"{t}-warm"], check=True)  # fills the cache
            subprocess.run([b, "--root", roots[t], "create", "-b", bundle, f"{t}-state"], check=True)
        for i in range(n):
            for t in (("this", "other") if i % 2 == 0 else ("other", "this")):
                b, r = bins[t], roots[t]
                os.environ["PYRT_CACHE_DIR"] = caches[t]
                times[("run /bin/true", t)].append(timed([b, "--root", r, "run", "-b", bundle, f"{t}-r{i}"], tmp))
                times[("create+start+delete", t)].append(sum(lifecycle(b, r, bundle, f"{t}-c{i}", tmp)))
                times[("state", t)].append(timed([b, "--root", r, "state", f"{t}-state"], tmp))
                os.environ["PYRT_CACHE_DIR"] = os.path.join(tmp, f"cold-{t}-{i}")
                times[("run /bin/true, cold plan cache", t)].append(
                    timed([b, "--root", r, "run", "-b", bundle, f"{t}-k{i}"], tmp))
    finally:
        for t, b in bins.items():
            subprocess.run([b, "--root", roots[t], "delete", "--force", f"{t}-state"], stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"| case (median of {n}, interleaved) | this tree ms | {checkout} ms | this/other |")
    print("|---|---|---|---|")
    for c in cases:
        a, o = (statistics.median(times[(c, t)]) * 1000 for t in bins)
        print(f"| {c} | {a:.2f} | {o:.2f} | {a / o:.3f}x |")


def _wait_exit(pid: int) -> None:
    """Until the process is gone or a zombie (not timed)."""
    for _ in range(5000):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] in "ZX":
                    return
        except FileNotFoundError:
            return
        time.sleep(0.001)


if __name__ == "__main__":
    main()
