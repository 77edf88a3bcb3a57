"""The command line: lifecycle and state, exec, hooks, errors and exit codes."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import UNIFIED
from tests.differential.edits import chain, hooks, process, writable_root
from tests.differential.harness import Case, ConsoleSocket, Session

L = "lifecycle"
E = "exec"
H = "hooks"
X = "cli"
SLEEP = process(args=["sleep", "30"])
RUNC = ("runc",)
Steps = Callable[[Session], str]


def started(s: Session) -> None:
    s("create", s.id)
    s("start", s.id)


def status(s: Session) -> str:
    return f"status={s.state()['status']}"


def state_summary(s: Session) -> str:
    rc, out, _ = s("state", s.id)
    if rc != 0:
        return f"state -> {rc}"
    st = json.loads(out)
    pid = st.get("pid", 0)
    return (
        f"state -> 0: id={st['id'] == s.id} status={st['status']} pid>0={pid > 0} "
        f"bundle={st.get('bundle') == str(s.bundle)} ociVersion={bool(st.get('ociVersion'))}"
    )


def in_running(*args: str, then: Callable[[Session], str] | None = None) -> Steps:
    """A command (ARGS, ID standing for the id) on a started container: its observation, or what then()
    sees after it."""

    def steps(s: Session) -> str:
        started(s)
        seen = s.obs(*[a.replace("ID", s.id) for a in args])
        return seen if then is None else then(s)

    return steps


def sequence(*commands: tuple[str, ...], show_state: bool = True) -> Steps:
    """Commands one after the other (ID stands for the id), each observed; the state after each."""

    def steps(s: Session) -> str:
        out = []
        for cmd in commands:
            if cmd == ("wait-stopped",):
                out.append(f"wait -> {s.wait('stopped')}\n")
                continue
            out.append(s.obs(*[a.replace("ID", s.id) for a in cmd]))
            if show_state:
                out.append(status(s) + "\n")
        return "".join(out)

    return steps


def exec_terminal_container(*exec_args: str) -> Steps:
    """A container whose process.terminal is true (its pty to a console socket), then exec ARGS."""

    def steps(s: Session) -> str:
        sock = ConsoleSocket(s.bundle.parent / f"console-{s.id}.sock")
        try:
            s("create", "--console-socket", str(sock.path), s.id)
            s("start", s.id)
            return s.obs("exec", *exec_args[:-1], s.id, *exec_args[-1].split())
        finally:
            sock.close()

    return steps


def exec_with_cgroup(s: Session) -> str:
    """exec --cgroup into a sub-cgroup made (on the host) under the container's pids cgroup."""
    started(s)
    pid = s.state()["pid"]
    kind, base, flag = ("0::", "/sys/fs/cgroup", "sub") if UNIFIED else (":pids:", "/sys/fs/cgroup/pids", "pids:sub")
    line = next(ln for ln in Path(f"/proc/{pid}/cgroup").read_text().splitlines() if kind in ln)
    sub = Path(base, line.split(":", 2)[2].lstrip("/"), "sub")
    sub.mkdir()
    try:
        return s.obs("exec", "--cgroup", flag, s.id, "sh", "-c", f"grep {kind} /proc/self/cgroup | sed 's|.*/||'")
    finally:
        s("kill", s.id, "KILL")
        s.wait("stopped")
        deadline = time.monotonic() + 5
        while sub.exists() and time.monotonic() < deadline:
            try:
                sub.rmdir()
            except OSError:
                time.sleep(0.05)


def exec_ignore_paused(s: Session) -> str:
    """exec --ignore-paused into a paused container: the process is made frozen (runc's exec waits for
    it until resume), runs after resume."""
    started(s)
    s("pause", s.id)
    late = s.background("exec", "--ignore-paused", s.id, "sh", "-c", "exit 7")
    time.sleep(0.5)
    s("resume", s.id)
    try:
        rc = late.wait(timeout=15)
    except Exception:  # noqa: BLE001 - shown as the observation
        late.kill()
        rc = -1
    return f"exec --ignore-paused (resumed after 0.5 s) -> {rc}\n{status(s)}\n"


def exec_paused(s: Session) -> str:
    started(s)
    s("pause", s.id)
    out = s.obs("exec", s.id, "true")
    s("resume", s.id)
    return out


def exec_process_file(s: Session) -> str:
    started(s)
    proc = {
        "args": ["sh", "-c", "echo from-file $FROMFILE; pwd"],
        "cwd": "/tmp",
        "env": ["FROMFILE=yes", "PATH=/bin"],
        "user": {"uid": 0, "gid": 0},
    }
    path = s.bundle.parent / f"process-{s.id}.json"
    path.write_text(json.dumps(proc))
    return s.obs("exec", "--process", str(path), s.id)


def exec_pid_file(s: Session) -> str:
    started(s)
    path = s.bundle.parent / f"exec-{s.id}.pid"
    out = s.obs("exec", "--pid-file", str(path), s.id, "true")
    return out + f"pid file holds a pid: {path.read_text().strip().isdigit() if path.exists() else 'missing'}\n"


def with_fd(*args: str, preserve: str, start: bool = True) -> Steps:
    """A command given fd 3 (a file with a line in it) and --preserve-fds N."""

    def steps(s: Session) -> str:
        if start:
            started(s)
        path = s.bundle.parent / f"fd-{s.id}"
        path.write_text("through fd 3\n")
        cmd = [a.replace("ID", s.id) for a in args]
        cmd.insert(1, f"--preserve-fds={preserve}")
        return s.obs(*cmd, fd3=path, timeout=15)

    return steps


def run_preserving_missing_fds(s: Session) -> str:
    """--preserve-fds 5 when the caller passes none: refused, and delete -f answers (a runtime fd of its
    own in that range, a locked state fd, once reached the container and made both wait forever)."""
    rc, _, _ = s("run", "-d", "--preserve-fds", "5", s.id, timeout=15)
    out = [f"run -d --preserve-fds 5 -> {rc}"]
    rc, _, _ = s("delete", "--force", s.id, timeout=15)
    out.append(f"delete --force -> {rc}")
    return "\n".join(out) + "\n"


def log_to(where: str) -> Steps:
    def steps(s: Session) -> str:
        path = where.replace("DIR", str(s.bundle.parent / f"log-{s.id}"))
        rc, _, _ = s("--log", path, "run", s.id)
        return f"--log {where} run -> {rc}\n"

    return steps


def then(prepare: Callable[[Session], object], observe: Callable[[Session], str]) -> Steps:
    """prepare(s), then what observe(s) sees."""

    def steps(s: Session) -> str:
        prepare(s)
        return observe(s)

    return steps


def created(s: Session) -> None:
    s("create", s.id)


def ran(s: Session) -> None:
    s("run", s.id)


def stopped(s: Session) -> None:
    started(s)
    s.wait("stopped")


def killed_from_outside(s: Session) -> None:
    started(s)
    os.kill(s.state()["pid"], 9)
    s.wait("stopped")


def state_line(s: Session) -> str:
    return state_summary(s) + "\n"


def run_obs(*args: str, **kw: object) -> Steps:
    """`ARGS` observed (ID stands for the id)."""

    def steps(s: Session) -> str:
        return s.obs(*[a.replace("ID", s.id) for a in args], **kw)

    return steps


def bundle_file(name: str, text: str | None) -> Callable[[Session], None]:
    """Write (or, with None, remove) a file of the bundle."""

    def edit(s: Session) -> None:
        if text is None:
            (s.bundle / name).unlink()
        else:
            (s.bundle / name).write_text(text)

    return edit


def file_check(label: str, name: str, needle: str | None = None) -> Callable[[Session], str]:
    """Whether a file of the bundle exists (or, with needle, holds it)."""

    def observe(s: Session) -> str:
        path = s.bundle / name
        ok = path.exists() if needle is None else path.exists() and needle in path.read_text()
        return f"{label}: {ok}\n"

    return observe


def list_json(s: Session) -> str:
    rows = json.loads(s("list", "--format", "json")[1])
    return f"{[(c['id'] == s.id, c['status']) for c in rows]}\n"


def ps_json(s: Session) -> str:
    return f"pids: {len(json.loads(s('ps', '--format', 'json', s.id)[1]))}\n"


def no_rootfs(s: Session) -> None:
    os.rename(s.bundle / "rootfs", s.bundle / "gone")


# Hooks run on the host: each writes what it sees into a file of the bundle (from the state on stdin).
HOOK_OUT = 'b=$(sed \'s/.*"bundle": *"\\([^"]*\\)".*/\\1/\'); {0} >> "$b/hook.out"'


def hook(script: str, **extra: object) -> dict[str, object]:
    return {"path": "/bin/sh", "args": ["sh", "-c", HOOK_OUT.format(script)], **extra}


def hooks_seen(cwd: str | None = None) -> Steps:
    """run (from cwd, with a small known environment), then what the hooks wrote."""
    env = {"PATH": os.environ["PATH"], "DIFF_MARKER": "1"}
    if "PYRT_CACHE_DIR" in os.environ:
        env["PYRT_CACHE_DIR"] = os.environ["PYRT_CACHE_DIR"]

    def steps(s: Session) -> str:
        rc, out, _ = s("run", s.id, cwd=cwd, env=env)
        seen = (s.bundle / "hook.out").read_text() if (s.bundle / "hook.out").exists() else "<no hook output>\n"
        return f"run -> {rc}\n{out}{seen}"

    return steps


ENV_NAMES = (
    "{ env | cut -d= -f1 | grep -v -e '^PWD$' -e '^SHLVL$' -e '^_' -e PYRT_CACHE_DIR | sort | tr '\\n' ' '; echo; }"
)
STATE_STATUS = '{ echo "status=$(echo $s | sed \'s/.*"status": *"\\([a-z]*\\)".*/\\1/\')"; }'

CASES = [
    Case(L, "create then state", steps=then(created, state_line), edit=SLEEP),
    Case(L, "start then state", steps=then(started, state_line), edit=SLEEP),
    Case(
        L,
        "stopped then state",
        steps=then(stopped, state_line),
        script="true",
    ),
    Case(
        L,
        "create, start, kill, delete",
        steps=sequence(("create", "ID"), ("start", "ID"), ("kill", "ID", "KILL"), ("wait-stopped",), ("delete", "ID")),
        edit=SLEEP,
    ),
    Case(L, "start twice", steps=sequence(("create", "ID"), ("start", "ID"), ("start", "ID")), edit=SLEEP),
    Case(L, "create an id in use", steps=sequence(("create", "ID"), ("create", "ID")), edit=SLEEP),
    Case(L, "delete while running", steps=sequence(("run", "-d", "ID"), ("delete", "ID")), edit=SLEEP),
    Case(
        L, "delete --force while running", steps=sequence(("run", "-d", "ID"), ("delete", "--force", "ID")), edit=SLEEP
    ),
    Case(
        L,
        "delete a created container",
        steps=sequence(("create", "ID"), ("delete", "ID")),
        edit=SLEEP,
        differs="the spec requires delete of a container that is not stopped to fail: pyrt refuses a created "
        "one (use --force), runc kills it",
        expect="$ create ID -> 0\nstatus=created\n$ delete ID -> 1\nstatus=created\n",
    ),
    Case(
        L,
        "kill with the default signal",
        steps=sequence(("run", "-d", "ID"), ("kill", "ID"), ("wait-stopped",)),
        edit=SLEEP,
    ),
    Case(L, "kill by number", steps=sequence(("run", "-d", "ID"), ("kill", "ID", "9"), ("wait-stopped",)), edit=SLEEP),
    Case(
        L,
        "kill by name with SIG",
        steps=sequence(("run", "-d", "ID"), ("kill", "ID", "SIGKILL"), ("wait-stopped",)),
        edit=SLEEP,
    ),
    Case(
        L,
        "kill with an unknown signal",
        steps=sequence(("run", "-d", "ID"), ("kill", "ID", "NOPE")),
        edit=SLEEP,
        refs_differ="crun ignores a signal name it does not know (exit 0); runc refuses it",
    ),
    Case(L, "kill with signal 0", steps=sequence(("run", "-d", "ID"), ("kill", "ID", "0")), edit=SLEEP),
    Case(L, "kill --all with signal 0", steps=sequence(("run", "-d", "ID"), ("kill", "--all", "ID", "0")), edit=SLEEP),
    Case(
        L,
        "kill --all",
        steps=sequence(("run", "-d", "ID"), ("kill", "--all", "ID", "KILL"), ("wait-stopped",)),
        edit=SLEEP,
    ),
    Case(L, "kill a stopped container", steps=sequence(("run", "ID"), ("kill", "ID", "KILL")), script="true"),
    Case(
        L,
        "kill a created container",
        steps=sequence(("create", "ID"), ("kill", "ID", "KILL"), ("wait-stopped",)),
        edit=SLEEP,
    ),
    Case(L, "pause and resume", steps=sequence(("run", "-d", "ID"), ("pause", "ID"), ("resume", "ID")), edit=SLEEP),
    Case(
        L,
        "pause a paused container",
        steps=sequence(("run", "-d", "ID"), ("pause", "ID"), ("pause", "ID"), ("resume", "ID")),
        edit=SLEEP,
        refs_differ="runc refuses to pause a paused container; crun says nothing",
    ),
    Case(
        L,
        "resume a running container",
        steps=sequence(("run", "-d", "ID"), ("resume", "ID")),
        edit=SLEEP,
        refs_differ="runc refuses to resume a container that is not paused; crun says nothing",
    ),
    Case(
        L,
        "delete --force a paused container",
        steps=sequence(("run", "-d", "ID"), ("pause", "ID"), ("delete", "--force", "ID"), show_state=True),
        edit=SLEEP,
    ),
    Case(L, "run: the exit status passes through", steps=lambda s: s.obs("run", s.id), script="exit 42"),
    Case(
        L,
        "run -d returns at once",
        steps=sequence(
            ("run", "-d", "ID"),
        ),
        edit=SLEEP,
    ),
    Case(
        L,
        "run --pid-file",
        steps=then(run_obs("run", "-d", "--pid-file", "pidfile", "ID"), file_check("pid file", "pidfile")),
        edit=SLEEP,
    ),
    Case(
        L,
        "run with --bundle from elsewhere",
        steps=lambda s: s.obs("run", "--bundle", str(s.bundle), s.id, cwd="/"),
        script="echo ok",
    ),
    Case(L, "list -q", steps=then(created, run_obs("list", "-q")), edit=SLEEP),
    Case(
        L,
        "list --format json",
        steps=then(created, list_json),
        edit=SLEEP,
    ),
    Case(
        L,
        "ps --format json",
        steps=then(started, ps_json),
        edit=SLEEP,
    ),
    Case(
        L,
        "the state of a container whose process was killed from outside",
        steps=then(killed_from_outside, state_line),
        edit=SLEEP,
    ),
    Case(L, "the init is pid 1 and its parent is outside", "echo $$ $PPID"),
    Case(E, "echo", steps=in_running("exec", "ID", "echo", "hi"), edit=SLEEP),
    Case(E, "exit status", steps=in_running("exec", "ID", "sh", "-c", "exit 3"), edit=SLEEP),
    Case(E, "environment", steps=in_running("exec", "ID", "sh", "-c", "env | sort"), edit=SLEEP),
    Case(
        E,
        "--env",
        steps=in_running("exec", "-e", "FOO=bar", "-e", "PATH=/bin", "ID", "sh", "-c", "env | sort"),
        edit=SLEEP,
        refs_differ="crun drops TERM from the config when --env is given; runc adds to the config's env",
    ),
    Case(E, "--cwd", steps=in_running("exec", "--cwd", "/tmp", "ID", "pwd"), edit=SLEEP),
    Case(E, "--cwd missing", steps=in_running("exec", "--cwd", "/nope", "ID", "pwd"), edit=SLEEP),
    Case(E, "--user", steps=in_running("exec", "-u", "1000:1000", "ID", "id"), edit=SLEEP),
    Case(
        E,
        "--user and --additional-gids",
        steps=in_running("exec", "-u", "1000", "-g", "10", "ID", "id", "-G"),
        edit=SLEEP,
        refs_differ="crun 1.8.1 fails -g without a matching --user group (64)",
    ),
    Case(
        E,
        "--cap",
        steps=in_running("exec", "--cap", "CAP_SYS_ADMIN", "ID", "grep", "Cap", "/proc/self/status"),
        edit=SLEEP,
        refs_differ="crun gives --cap alone; runc adds it to the container's capabilities",
    ),
    Case(
        E,
        "--no-new-privs",
        steps=in_running("exec", "--no-new-privs", "ID", "grep", "NoNewPrivs", "/proc/self/status"),
        edit=chain(SLEEP, process(noNewPrivileges=False)),
    ),
    Case(
        E,
        "HOME of the exec'd user",
        steps=in_running("exec", "-u", "65534", "ID", "sh", "-c", "echo $HOME"),
        edit=SLEEP,
    ),
    Case(E, "a missing binary", steps=in_running("exec", "ID", "/no/such"), edit=SLEEP),
    Case(E, "a binary not on PATH", steps=in_running("exec", "ID", "nosuchcmd"), edit=SLEEP),
    Case(
        E,
        "into a stopped container",
        steps=then(ran, run_obs("exec", "ID", "true")),
        script="true",
        refs_differ="exec failures exit 255 in runc, 1 in crun",
    ),
    Case(
        E,
        "into an unknown container",
        steps=lambda s: s.obs("exec", "nope-" + s.id, "true"),
        refs_differ="exec failures exit 255 in runc, 1 in crun",
    ),
    Case(E, "--process file", steps=exec_process_file, edit=SLEEP),
    Case(E, "--pid-file", steps=exec_pid_file, edit=SLEEP),
    Case(E, "--detach", steps=in_running("exec", "-d", "ID", "sleep", "1"), edit=SLEEP),
    Case(
        E,
        "into a paused container",
        steps=exec_paused,
        edit=SLEEP,
        refs_differ="exec failures exit 255 in runc, 1 in crun",
    ),
    Case(E, "--ignore-paused", steps=exec_ignore_paused, edit=SLEEP, refs=RUNC),  # crun 1.8.1 has no such flag
    Case(
        E,
        "--cgroup",
        steps=exec_with_cgroup,
        edit=SLEEP,
        refs_differ="crun 1.8.1 ignores --cgroup for a v1 controller (the process stays in the container's own)",
        standard_host={"refs_differ": ""},  # on cgroup v2 crun honours it too
    ),
    Case(E, "--preserve-fds", steps=with_fd("exec", "ID", "sh", "-c", "cat <&3", preserve="1"), edit=SLEEP),
    Case(
        E,
        "the process group and session",
        steps=in_running(
            "exec",
            "ID",
            "sh",
            "-c",
            "read -r p c s pp pg sid rest < /proc/self/stat; "
            "[ $pg = $p ] && echo own-group || echo group=$pg; [ $sid = $p ] && echo own-session || echo session=$sid",
        ),
        edit=SLEEP,
        refs_differ="runc makes the exec'd process a session leader; crun leaves it in its caller's session, "
        "outside the pid namespace (0 inside)",
    ),
    Case(
        E,
        "no terminal by default in a terminal container",
        steps=exec_terminal_container("sh -c tty;echo;true"),
        edit=chain(SLEEP, process(terminal=True)),
        refs=RUNC,
    ),
    Case(
        E,
        "--detach in a terminal container",
        steps=exec_terminal_container("-d", "sleep 1"),
        edit=chain(SLEEP, process(terminal=True)),
        refs=RUNC,
    ),
    Case(
        E,
        "--tty --detach without a console socket",
        steps=in_running("exec", "-t", "-d", "ID", "true"),
        edit=SLEEP,
        refs_differ="exec failures exit 255 in runc, 1 in crun",
    ),
    Case(
        E,
        "the config's environment and a duplicate --env",
        steps=in_running("exec", "-e", "TERM=dumb", "ID", "sh", "-c", "echo $TERM"),
        edit=SLEEP,
        refs_differ="crun 1.8.1 fails on a --env key the config has (255)",
    ),
    Case(
        H,
        "prestart sees the runtime's environment",
        steps=hooks_seen(),
        edit=hooks(prestart=[hook(ENV_NAMES)]),
        script="true",
        differs="Python's locale coercion (PEP 538) adds LC_CTYPE=C.UTF-8 to pyrt's own environment when the "
        "caller's locale is C, and a hook without env gets that environment",
        expect="run -> 0\nDIFF_MARKER LC_CTYPE PATH \n",
    ),
    Case(H, "a hook's own env", steps=hooks_seen(), edit=hooks(prestart=[hook(ENV_NAMES, env=["A=1"])]), script="true"),
    Case(H, "a hook's working directory", steps=hooks_seen(cwd="/"), edit=hooks(prestart=[hook("pwd")]), script="true"),
    Case(
        H,
        "createRuntime sees the state",
        steps=hooks_seen(),
        edit=hooks(createRuntime=[hook("s=$(cat); " + STATE_STATUS)]),
        script="true",
    ),
    Case(
        H,
        "the state on stdin",
        steps=hooks_seen(),
        edit=hooks(poststart=[hook("s=$(cat); " + STATE_STATUS)], poststop=[hook("s=$(cat); " + STATE_STATUS)]),
        script="sleep 0.2",
    ),
    Case(
        H,
        "hook args[0]",
        steps=hooks_seen(),
        edit=hooks(prestart=[{"path": "/bin/sh", "args": ["custom-name", "-c", HOOK_OUT.format("echo $0")]}]),
        script="true",
    ),
    Case(
        H,
        "a failing prestart hook",
        steps=hooks_seen(),
        edit=hooks(prestart=[{"path": "/bin/false"}]),
        script="echo ran",
        refs_differ="run exits 1 in runc, 255 in crun",
    ),
    Case(
        H,
        "a failing createRuntime hook",
        steps=hooks_seen(),
        edit=hooks(createRuntime=[{"path": "/bin/false"}]),
        script="echo ran",
        refs_differ="run exits 1 in runc, 255 in crun",
    ),
    Case(
        H,
        "a failing poststart hook",
        steps=hooks_seen(),
        edit=hooks(poststart=[{"path": "/bin/false"}]),
        script="sleep 1; echo ran",
        refs_differ="runc kills the container and exits 1; crun warns and goes on (exit 0, 'ran')",
    ),
    Case(
        H,
        "a failing poststop hook",
        steps=hooks_seen(),
        edit=hooks(poststop=[{"path": "/bin/false"}]),
        script="echo ran",
    ),
    Case(
        H,
        "a hook that times out",
        steps=hooks_seen(),
        edit=hooks(prestart=[{"path": "/bin/sleep", "args": ["sleep", "5"], "timeout": 1}]),
        script="echo ran",
    ),
    Case(
        H,
        "a hook path that does not exist",
        steps=hooks_seen(),
        edit=hooks(prestart=[{"path": "/no/such/hook"}]),
        script="echo ran",
        refs_differ="run exits 1 in runc, 255 in crun",
    ),
    Case(
        H,
        "hooks run in order",
        steps=hooks_seen(),
        edit=hooks(prestart=[hook("echo one"), hook("echo two")], createRuntime=[hook("echo three")]),
        script="true",
    ),
    Case(X, "state of an unknown container", steps=lambda s: s.obs("state", "nope-" + s.id)),
    Case(X, "delete an unknown container", steps=lambda s: s.obs("delete", "nope-" + s.id)),
    Case(X, "delete --force an unknown container", steps=lambda s: s.obs("delete", "--force", "nope-" + s.id)),
    Case(X, "kill an unknown container", steps=lambda s: s.obs("kill", "nope-" + s.id)),
    Case(X, "an id with a slash", steps=lambda s: s.obs("run", "a/b")),
    Case(X, "an empty id", steps=lambda s: s.obs("run", "")),
    Case(X, "no config.json", steps=then(bundle_file("config.json", None), run_obs("run", "ID"))),
    Case(
        X,
        "config.json that is no JSON",
        steps=then(bundle_file("config.json", "{nope"), run_obs("run", "ID")),
    ),
    Case(X, "no rootfs", steps=then(no_rootfs, run_obs("run", "ID"))),
    Case(X, "no process", steps=lambda s: s.obs("run", s.id), edit=lambda c: c.pop("process")),
    Case(X, "no args", steps=lambda s: s.obs("run", s.id), edit=process(args=[])),
    Case(X, "a missing binary", steps=lambda s: s.obs("run", s.id), edit=process(args=["/no/such"])),
    Case(
        X,
        "an unknown command",
        steps=lambda s: s.obs("frobnicate", s.id),
        refs_differ="runc exits 3, crun 1",
        differs="an unknown command is a usage error: pyrt exits 2 as argparse does",
        expect="$ frobnicate ID -> 2\n",
    ),
    Case(X, "--log to a directory that does not exist", steps=log_to("/no/such/dir/log"), script="true"),
    Case(
        X,
        "--log to a file",
        steps=then(run_obs("--log", "log", "run", "ID"), file_check("log exists", "log")),
        script="true",
    ),
    Case(
        X,
        "exec --debug --log",
        steps=in_running("--debug", "--log", "debug.log", "exec", "ID", "true"),
        edit=SLEEP,
    ),
    Case(
        X,
        "exec --debug --log writes debug lines",
        steps=in_running(
            "--debug",
            "--log",
            "debug.log",
            "exec",
            "ID",
            "true",
            then=file_check("debug lines", "debug.log", "level=debug"),
        ),
        edit=SLEEP,
        refs_differ="crun writes no debug lines for exec",
    ),
    Case(
        X,
        "a failing exec's error in --log",
        steps=in_running(
            "--log", "err.log", "exec", "ID", "/no/such", then=file_check("error line", "err.log", "level=error")
        ),
        edit=SLEEP,
        refs_differ="crun writes exec's error to stderr only",
    ),
    Case(X, "--debug run succeeds", steps=lambda s: s.obs("--debug", "run", s.id), script="echo debug"),
    Case(
        X,
        "run --preserve-fds passes fd 3",
        steps=with_fd("run", "ID", preserve="1", start=False),
        script="cat <&3; ls /proc/self/fd | wc -l",
    ),
    Case(
        X,
        "run --preserve-fds beyond the fds passed",
        steps=run_preserving_missing_fds,
        edit=SLEEP,
        refs_differ="runc refuses fds the caller did not pass (exit 1); crun runs",
    ),
    Case(X, "run --no-new-keyring", steps=lambda s: s.obs("run", "--no-new-keyring", s.id), script="echo ok"),
    Case(
        X,
        "a terminal without a console socket",
        steps=lambda s: s.obs("create", s.id),
        edit=chain(SLEEP, process(terminal=True)),
    ),
    Case(
        X,
        "create --console-socket that is no socket",
        steps=lambda s: s.obs("create", "--console-socket", "/no/such.sock", s.id),
        edit=chain(SLEEP, process(terminal=True)),
    ),
    Case(X, "a writable root and a file written", "echo x > /written && cat /written", edit=writable_root),
]
