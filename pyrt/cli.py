"""pyrt's command line, with runc's command and flag names.

Global flags come before the command.  Any PyrtError becomes one line on
stderr, ``pyrt: <message>`` (and a line in --log FILE), and exit status 1;
usage errors are one line too and exit 2.
"""

from __future__ import annotations

import sys

from pyrt.common import posixos as os
from pyrt.common import privilege
from pyrt.common.errors import PyrtError
from pyrt.common.log import log
from pyrt.common.version import SPEC_VERSION, VERSION, commit

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any, NoReturn

    Flag = tuple[tuple[str, ...], str, str, Any, str]

# runc update's flags: flag -> (group, field, kind); running.update gets the ones given.
UPDATE_FLAGS: dict[str, tuple[str, str, str]] = {
    "memory": ("memory", "limit", "bytes"), "memory-reservation": ("memory", "reservation", "bytes"),
    "memory-swap": ("memory", "swap", "bytes"), "cpu-shares": ("cpu", "shares", "int"),
    "cpu-quota": ("cpu", "quota", "int"), "cpu-period": ("cpu", "period", "int"),
    "cpu-rt-period": ("cpu", "realtimePeriod", "int"), "cpu-rt-runtime": ("cpu", "realtimeRuntime", "int"),
    "cpuset-cpus": ("cpu", "cpus", "str"), "cpuset-mems": ("cpu", "mems", "str"),
    "pids-limit": ("pids", "limit", "int"), "blkio-weight": ("blockIO", "weight", "int"),
}

# One table drives both parsers.  A flag: (names, dest, kind, default, help); kind is
# "bool", "value", "int", "append" (repeatable) or "choice:a,b".  Positionals: (name, required,
# default, help); a positional named "args" takes the rest of the line verbatim (exec's command).
GLOBAL_FLAGS: list[Flag] = [
    (("--root",), "root", "value", None,
     "state directory (default /run/pyrt; $XDG_RUNTIME_DIR/pyrt for a normal user)"),
    (("--log",), "log", "value", None, "also write messages to this file"),
    (("--log-format",), "log_format", "choice:text,json", "text", "format of --log: text or json"),
    (("--debug",), "debug", "bool", False, "debug messages"),
    (("--rootless",), "rootless", "choice:true,false,auto", "auto",
     "cgroups are optional when rootless: true, false, or auto (rootless unless root of the host)"),
    (("--systemd-cgroup",), "systemd_cgroup", "bool", False,
     "make the container's cgroup a systemd scope (cgroupsPath slice:prefix:name; cgroup v2 hosts)"),
    (("--version", "-v"), "version", "bool", False, "print the version"),
]
_CREATE_FLAGS: list[Flag] = [
    (("--bundle", "-b"), "bundle", "value", None, "bundle directory (default: the current one)"),
    (("--pid-file",), "pid_file", "value", None, "write the init's pid to this file"),
    (("--console-socket",), "console_socket", "value", None, "unix socket that receives the pty master"),
    (("--no-pivot",), "no_pivot", "bool", False, "use MS_MOVE and chroot instead of pivot_root"),
    (("--no-new-keyring",), "no_new_keyring", "bool", False, "keep the caller's session keyring"),
    (("--preserve-fds",), "preserve_fds", "int", 0, "pass this many fds after stdio to the container"),
    (("--security-opt",), "security_opt", "value", None,
     "seccomp=unconfined|default|FILE: replace the bundle's seccomp filter (Docker's flag)"),
    (("--network",), "network", "value", None,
     "none (default), host, pyrt (the built-in bridge), a CNI network list's name or a .conflist path"),
]
_ID = ("id", True, None, "container id")
COMMANDS: dict[str, tuple[str, list[Flag], list[tuple[str, bool, Any, str]]]] = {
    "create": ("create a container", _CREATE_FLAGS, [_ID]),
    "run": ("create and start a container", _CREATE_FLAGS + [
        (("--detach", "-d"), "detach", "bool", False, "do not wait for the container"),
        (("--keep",), "keep", "bool", False, "do not delete the container after it exits"),
        (("--seccomp-record",), "seccomp_record", "value", None,
         "record the syscalls the container makes and write a Docker-format profile allowing only them to FILE"),
        (("--seccomp-record-merge",), "seccomp_record_merge", "bool", False,
         "with --seccomp-record: add to FILE when it exists instead of replacing it"),
    ], [("id", True, None, "container id, or a bundle directory (then the id is <dir>-<8 hex>)")]),
    "exec": ("run a process in a running container", [
        (("--process", "-p"), "process", "value", None, "process.json: the process to run"),
        (("--detach", "-d"), "detach", "bool", False, "do not wait for the process"),
        (("--tty", "-t"), "tty", "bool", False, "allocate a pseudo-terminal"),
        (("--console-socket",), "console_socket", "value", None, "unix socket that receives the pty master"),
        (("--pid-file",), "pid_file", "value", None, "write the process's pid to this file"),
        (("--env", "-e"), "env", "append", None, "KEY=VALUE to add to the environment (repeatable)"),
        (("--cwd",), "cwd", "value", None, "working directory inside the container"),
        (("--user", "-u"), "user", "value", None, "UID[:GID]"),
        (("--additional-gids", "-g"), "additional_gids", "append", None, "an extra group (repeatable)"),
        (("--cap", "-c"), "cap", "append", None, "add a capability (repeatable)"),
        (("--no-new-privs",), "no_new_privs", "bool", False, "set no_new_privs"),
        (("--preserve-fds",), "preserve_fds", "int", 0, "pass this many fds after stdio to the process"),
        (("--ignore-paused",), "ignore_paused", "bool", False,
         "exec in a paused container too (the process stays frozen until resume)"),
        (("--cgroup",), "cgroup", "append", None,
         "[CONTROLLER:]SUBCGROUP: run the process in an existing sub-cgroup of the container's (repeatable)"),
    ], [_ID, ("args", False, None, "the command and its arguments")]),
    "start": ("start a created container", [], [_ID]),
    "pause": ("freeze every process of a container", [], [_ID]),
    "resume": ("thaw a paused container", [], [_ID]),
    "ps": ("list the processes of a container", [
        (("--format", "-f"), "format", "choice:table,json", "table", "table (ps -ef lines) or json (pids)"),
    ], [_ID, ("args", False, None, "options for ps (default -ef)")]),
    "events": ("container statistics as JSON lines", [
        (("--stats",), "stats", "bool", False, "print the statistics once and exit"),
        (("--interval",), "interval", "value", "5s", "time between statistics (5s, 500ms)"),
    ], [_ID]),
    "update": ("change a container's resource limits", [
        (("--resources", "-r"), "resources", "value", None, "LinuxResources JSON file, or - for stdin"),
        *[((f"--{flag}",), flag.replace("-", "_"), "value", None, f"linux.resources.{group}.{key}")
          for flag, (group, key, _kind) in UPDATE_FLAGS.items()],
    ], [_ID]),
    "features": ("what this pyrt supports (JSON)", [], []),
    "planner": ("serve planning to the CLI with attrs and pyseccomp kept warm (root only)", [
        (("--detach", "-d"), "detach", "bool", False, "run in the background; return once it answers"),
        (("--stop",), "stop", "bool", False, "stop the running planner"),
    ], []),
    "network": ("CNI networks: check ID runs the plugins' CHECK (exit 0 ok, 1 not, 2 bad input)", [], [
        ("action", True, None, "check"), _ID,
    ]),
    "state": ("print a container's state as JSON", [], [_ID]),
    "kill": ("send a signal to a container's init", [
        (("--all", "-a"), "all", "bool", False, "signal every process in the container"),
    ], [_ID, ("signal", False, "SIGTERM", "signal name or number (default SIGTERM)")]),
    "delete": ("delete a container", [
        (("--force", "-f"), "force", "bool", False, "kill a running container first"),
    ], [_ID]),
    "list": ("list containers", [
        (("--format", "-f"), "format", "choice:table,json", "table", "table or json"),
        (("--quiet", "-q"), "quiet", "bool", False, "print ids only"),
    ], []),
    "cache": ("show or empty pyrt's caches (plans)", [], [
        ("action", True, None, "stats or clear"),
    ]),
    "spec": ("write a new config.json", [
        (("--bundle", "-b"), "bundle", "value", ".", "where to write config.json"),
        (("--seccomp",), "seccomp", "choice:default,unconfined", "default",
         "default: Docker's default profile for the config's capabilities; unconfined: none"),
        (("--rootless",), "spec_rootless", "bool", False, "a config for a container a normal user runs (runc's)"),
    ], []),
}


class Args:
    """What either parser produces: attributes named after the flags' dests."""

    command: str | None

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def _convert(kind: str, value: str) -> Any:
    if kind == "int":
        return int(value)  # ValueError: not for the fast path
    if kind.startswith("choice:") and value not in kind[7:].split(","):
        raise ValueError(value)
    return value


def _take_flag(table: list[Flag], argv: list[str], i: int, out: dict[str, Any]) -> int:
    """Consume one flag at argv[i]; returns the next index, or -1 when argparse must decide."""
    arg = argv[i]
    name, eq, inline = arg.partition("=")
    for names, dest, kind, _default, _help in table:
        if name in names:
            if kind == "bool":
                if eq:
                    return -1
                out[dest] = True
                return i + 1
            if kind == "append":
                if not eq and i + 1 >= len(argv):
                    return -1
                value = inline if eq else argv[i + 1]
                out[dest] = [*(out[dest] or []), value]
                return i + (1 if eq else 2)
            if eq:
                value = inline
            elif i + 1 < len(argv):
                value, i = argv[i + 1], i + 1
            else:
                return -1
            try:
                out[dest] = _convert(kind, value)
            except ValueError:
                return -1
            return i + 1
    return -1


def fast_parse(argv: list[str]) -> Args | None:
    """runc's flags by hand (argparse costs ~12 ms here); None sends argv to argparse."""
    out: dict[str, Any] = {f[1]: f[3] for f in GLOBAL_FLAGS}
    out["command"] = None
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i = _take_flag(GLOBAL_FLAGS, argv, i, out)
        if i < 0:
            return None
    if out["version"]:
        return Args(**out)
    if i >= len(argv) or argv[i] not in COMMANDS:
        return None
    cmd = out["command"] = argv[i]
    _help, flags, positionals = COMMANDS[cmd]
    out.update({f[1]: f[3] for f in flags})
    given: list[str] = []
    rest = bool(positionals) and positionals[-1][0] == "args"
    i += 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            given += argv[i + 1:]
            break
        if rest and given:  # exec ID COMMAND...: everything after the id is the command
            given += argv[i:]
            break
        if arg.startswith("-") and arg != "-":
            i = _take_flag(flags, argv, i, out)
            if i < 0:
                return None
            continue
        given.append(arg)
        i += 1
    required = sum(1 for p in positionals if p[1])
    if rest:
        out["args"] = given[len(positionals) - 1:]
        given = given[:len(positionals) - 1]
    if not required <= len(given) <= len(positionals):
        return None
    for index, (name, _req, default, _h) in enumerate(positionals):
        if index < len(given) or name != "args":
            out[name] = given[index] if index < len(given) else default
    return Args(**out)


def _argparser() -> argparse.ArgumentParser:
    import argparse

    class Parser(argparse.ArgumentParser):
        command = ""  # the top parser reports a subcommand's unknown flags: the help to point to is its

        def error(self, message: str) -> NoReturn:
            log.error(f"{message} (see '{self.prog}{' ' + self.command if self.command else ''} --help')")
            sys.exit(2)

    def add(p: argparse.ArgumentParser, table: list[Flag]) -> None:
        for names, dest, kind, default, help_ in table:
            if kind == "bool":
                p.add_argument(*names, dest=dest, action="store_true", help=help_)
            elif kind == "append":
                p.add_argument(*names, dest=dest, action="append", default=None, help=help_)
            elif kind.startswith("choice:"):
                p.add_argument(*names, dest=dest, default=default, choices=kind[7:].split(","), help=help_)
            else:
                p.add_argument(*names, dest=dest, default=default, type=int if kind == "int" else str, help=help_)

    top = Parser(prog="pyrt", description="An OCI container runtime in Python, compatible with runc's CLI.")
    add(top, GLOBAL_FLAGS)
    sub = top.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")
    for cmd, (help_, flags, positionals) in COMMANDS.items():
        p = sub.add_parser(cmd, help=help_)
        add(p, flags)
        for name, req, default, phelp in positionals:
            if name == "args":
                p.add_argument(name, nargs=argparse.REMAINDER, default=None, help=phelp)
            else:
                p.add_argument(name, nargs=None if req else "?", default=default, help=phelp)
    _seccomp_parser(sub)
    return top


def _seccomp_parser(sub: Any) -> None:
    sec = sub.add_parser("seccomp", help="render, convert and inspect seccomp profiles")
    actions = sec.add_subparsers(dest="action", metavar="ACTION", required=True)

    def target(p: argparse.ArgumentParser) -> None:
        p.add_argument("--caps", default=None, help="capabilities (bounding set) to render for, comma-separated, "
                       "with or without CAP_ (default: Docker's 14)")
        p.add_argument("--arch", default=None, help="x86_64, amd64 or SCMP_ARCH_X86_64 (default: the host's)")

    target(actions.add_parser("default", help="print Docker's default profile as an OCI linux.seccomp object"))
    p = actions.add_parser("convert", help="print a Docker-format profile as an OCI linux.seccomp object")
    p.add_argument("file")
    target(p)
    p = actions.add_parser("check", help="would the profile allow this call? (exit 0 yes, 1 no, 2 bad input)")
    p.add_argument("profile", help="config.json, OCI section, Docker-format file, or 'default'")
    p.add_argument("syscall", help="a name or a number")
    p.add_argument("args", nargs="*", default=[], help="optional: the call's arguments, to check rules that test them "
                   "(integers, decimal or 0x hex)")
    target(p)
    p = actions.add_parser("explain", help="summarise a profile in plain words")
    p.add_argument("profile")
    target(p)
    p = actions.add_parser("diff", help="compare two profiles decision by decision (exit 0 alike, 1 not)")
    p.add_argument("a")
    p.add_argument("b")
    target(p)


def parse_args(argv: list[str]) -> Args:
    fast = fast_parse(argv)
    if fast is not None:
        return fast
    parser = _argparser()
    parser.command = next((a for a in argv if a in COMMANDS or a == "seccomp"), "")  # type: ignore[attr-defined]
    ns = parser.parse_args(argv)
    if not ns.command and not ns.version:
        parser.print_usage(sys.stderr)
        sys.exit(2)
    return Args(**vars(ns))


def _duration(text: str) -> float:
    """Go-style durations as runc takes them: 5s, 500ms, 1m."""
    for suffix, scale in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            value = float(text[: -len(suffix)]) * scale
            if value > 0:
                return value
    raise PyrtError(f"--interval: expected a duration such as 5s or 500ms, got {text!r}")


def _run_id(args: Args) -> tuple[str, str]:
    """runc's form (`run ID` in the bundle) or pyrt's own (`run DIR`).  What names a path (a "/" in
    it, or a directory when the current one is no bundle) but is no bundle is said to be so, rather
    than refused as an id."""
    if args.bundle is None and args.id:  # "" is no directory: the id check refuses it
        config = os.path.join(args.id, "config.json")
        if os.path.isfile(config):
            bundle = os.path.abspath(args.id)
            return f"{os.path.basename(bundle.rstrip('/'))}-{os.urandom(4).hex()}", bundle
        if "/" in args.id or (os.path.isdir(args.id) and not os.path.isfile("config.json")):
            why = f"{config}: no such file" if os.path.isdir(args.id) else f"{args.id}: no such directory"
            raise PyrtError(f"run {args.id}: no such bundle ({why})")
    return args.id, args.bundle or "."


def _table(rows: list[dict[str, Any]]) -> str:
    """runc's columns; a NETWORK column only when a container has a --network."""
    header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    cells = [header] + [[r["id"], str(r["pid"]), r["status"], r["bundle"], r["created"], r["owner"]] for r in rows]
    if any(r.get("network") for r in rows):
        header.insert(5, "NETWORK")
        for row, r in zip(cells[1:], rows, strict=True):
            net = r.get("network")
            row.insert(5, f"{net['name']} {','.join(ip['address'] for ip in net['ips'])}" if net else "-")
    widths = [max(12, max(len(row[i]) for row in cells) + 3) for i in range(len(header) - 1)]
    return "".join("".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + row[-1] + "\n" for row in cells)


# The launcher (scripts/setup) turns the cyclic garbage collector off before its first import: loading
# ~25 modules and creating a container make no cycles worth collecting, and the collections during them
# cost `run` 0.26-0.83 ms (paired A/B, n=100, four runs; partly copy-on-write faults in the forked
# children) and `state` 0.15-0.21 ms.  Every other command turns it back on here; the parts of these that
# may run long or allocate heavily (planning in the CLI when no child could, a console proxy, the seccomp
# recorder) do so themselves; a planning child (planning/in_child.py) keeps it off.
_GC_OFF = frozenset({"create", "start", "state", "kill", "delete", "run", "exec", "list", "ps", "pause", "resume"})


_NO_STATE = frozenset({"features", "seccomp", "planner", "cache", "spec"})


def dispatch(args: Args) -> int:
    from pyrt.commands import lifecycle
    from pyrt.commands.state import Store
    from pyrt.common.fastjson import dumps

    cmd = args.command
    if cmd not in _GC_OFF:
        import gc

        gc.enable()
    store = Store(privilege.state_root(args.root) if cmd not in _NO_STATE else "")
    if cmd == "create":
        lifecycle.create(store, args.id, args.bundle or ".", pid_file=args.pid_file, no_pivot=args.no_pivot,
                         no_new_keyring=args.no_new_keyring, preserve_fds=args.preserve_fds,
                         console_socket=args.console_socket, security_opt=args.security_opt,
                         network=args.network, systemd_cgroup=args.systemd_cgroup,
                         rootless=privilege.rootless(args.rootless))
    elif cmd == "run":
        cid, bundle = _run_id(args)
        code = lifecycle.run(store, cid, bundle, detach=args.detach, keep=args.keep, pid_file=args.pid_file,
                             no_pivot=args.no_pivot, no_new_keyring=args.no_new_keyring,
                             preserve_fds=args.preserve_fds, console_socket=args.console_socket,
                             security_opt=args.security_opt, seccomp_record=args.seccomp_record,
                             seccomp_record_merge=args.seccomp_record_merge, network=args.network,
                             systemd_cgroup=args.systemd_cgroup, rootless=privilege.rootless(args.rootless))
        if args.detach and cid != args.id:
            print(cid)
        return code
    elif cmd == "exec":
        from pyrt.commands.execute import ExecOptions, exec_process

        return exec_process(store, args.id, ExecOptions(
            process_file=args.process, args=args.args or [], detach=args.detach, tty=args.tty,
            console_socket=args.console_socket, pid_file=args.pid_file, env=args.env or [], cwd=args.cwd,
            user=args.user, additional_gids=args.additional_gids or [], caps=args.cap or [],
            no_new_privs=args.no_new_privs, preserve_fds=args.preserve_fds, ignore_paused=args.ignore_paused,
            cgroups=args.cgroup or [], rootless=privilege.rootless(args.rootless)))
    elif cmd == "start":
        lifecycle.start(store, args.id)
    elif cmd in ("pause", "resume", "update", "ps", "events"):
        from pyrt.commands import running

        if cmd == "pause":
            running.pause(store, args.id)
        elif cmd == "resume":
            running.resume(store, args.id)
        elif cmd == "update":
            given = {flag: (*where, getattr(args, flag.replace("-", "_"))) for flag, where in UPDATE_FLAGS.items()}
            running.update(store, args.id, args.resources, {f: v for f, v in given.items() if v[3] is not None})
        elif cmd == "ps":
            sys.stdout.write(running.ps(store, args.id, args.format, args.args or []))
        else:
            running.events(store, args.id, args.stats, _duration(args.interval))
    elif cmd == "features":
        from pyrt.config.features import features

        print(dumps(features(), indent=4))
    elif cmd == "state":
        print(dumps(lifecycle.state(store, args.id), indent=2))
    elif cmd == "kill":
        from pyrt.common.signals import parse

        lifecycle.kill(store, args.id, parse(args.signal), args.all)
    elif cmd == "delete":
        lifecycle.delete(store, args.id, force=args.force)
    elif cmd == "list":
        rows = lifecycle.list_all(store)
        if args.quiet:
            sys.stdout.write("".join(r["id"] + "\n" for r in rows))
        elif args.format == "json":
            print(dumps(rows))
        else:
            sys.stdout.write(_table(rows))
    elif cmd == "seccomp":
        from pyrt.seccomp.command import seccomp_command

        return seccomp_command(args)
    elif cmd == "planner":
        from pyrt.planning import planner

        return planner.command(args.detach, args.stop)
    elif cmd == "network":
        from pyrt.commands.network_check import network_command

        return network_command(store, args.action, args.id)
    elif cmd == "cache":
        from pyrt.common import cache

        if args.action == "stats":
            print(dumps(cache.stats(), indent=2))
        elif args.action == "clear":
            print(f"removed {cache.clear()} cache entries from {cache.cache_dir()}")
        else:
            raise PyrtError(f"cache: unknown action {args.action!r} (use stats or clear)")
    elif cmd == "spec":
        from pyrt.config.template import write_spec

        write_spec(args.bundle, seccomp=args.seccomp == "default", rootless=args.spec_rootless)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    failed = 255 if args.command == "exec" else 1  # exec's own failures, as runc: 1-254 are the process's
    if getattr(args, "preserve_fds", 0) > 0:  # checked before pyrt opens anything
        from pyrt.linux.processes import unpassed_fd

        fd = unpassed_fd(args.preserve_fds)
        if fd is not None:
            log.error(f"--preserve-fds {args.preserve_fds}: fd {fd} is not open (pass that many fds after stdio)")
            return failed
    try:
        log.configure(args.log, args.log_format, args.debug)
    except OSError as exc:
        log.error(f"--log {args.log}: {exc.strerror}")
        return failed
    if args.version:
        print(f"pyrt version {VERSION}\ncommit: {commit()}\nspec: {SPEC_VERSION}")
        return 0
    try:
        return dispatch(args)
    except PyrtError as exc:
        log.error(str(exc))
        return failed
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        log.error(f"{args.command}{where}: {exc.strerror or exc}")
        return failed
    except Exception as exc:  # noqa: BLE001 - never a traceback for the user, unless --debug
        if args.debug:
            import traceback

            traceback.print_exc()
        log.error(f"internal error in {args.command}: {type(exc).__name__}: {exc}")
        return failed


def entry() -> None:
    """The installed command: main(), then out without the interpreter's teardown.

    Tearing down ~50 modules costs ~3 ms here (`pyrt state`: 23.2 -> 20.0 ms); pyrt registers no
    atexit work, closes what it opens, and its only threads (the recorder's) are joined, so the
    standard streams are all that needs flushing."""
    try:
        code = main()
    except SystemExit as exc:  # argparse's --help and usage errors
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed pipe (pyrt list | head -1): what could not be written is lost anyway
    os._exit(code)


if __name__ == "__main__":
    entry()
