"""pyrt's command line, with runc's command and flag names.

Global flags come before the command.  Any PyrtError becomes one line on
stderr, ``pyrt: <message>`` (and a line in --log FILE), and exit status 1;
usage errors are one line too and exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Any, NoReturn

from pyrt.errors import PyrtError
from pyrt.log import log
from pyrt.version import SPEC_VERSION, VERSION, commit


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        log.error(f"{message} (see '{self.prog} --help')")
        sys.exit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pyrt", description="An OCI container runtime in Python, compatible with runc's CLI.")
    p.add_argument("--root", default="/run/pyrt", help="state directory (default /run/pyrt)")
    p.add_argument("--log", default=None, help="also write messages to this file")
    p.add_argument("--log-format", default="text", choices=("text", "json"))
    p.add_argument("--debug", action="store_true")
    p.add_argument("--systemd-cgroup", action="store_true", help="use systemd for cgroups (needs systemd)")
    p.add_argument("--version", "-v", action="store_true", help="print the version")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    def common_create(c: argparse.ArgumentParser) -> None:
        c.add_argument("--bundle", "-b", default=None, help="bundle directory (default: the current one)")
        c.add_argument("--pid-file", default=None)
        c.add_argument("--console-socket", default=None)
        c.add_argument("--no-pivot", action="store_true")
        c.add_argument("--no-new-keyring", action="store_true")
        c.add_argument("--preserve-fds", type=int, default=0)

    c = sub.add_parser("create", help="create a container")
    common_create(c)
    c.add_argument("id")
    r = sub.add_parser("run", help="create and start a container")
    common_create(r)
    r.add_argument("--detach", "-d", action="store_true")
    r.add_argument("--keep", action="store_true", help="do not delete the container after it exits")
    r.add_argument("id", help="container id, or a bundle directory (then the id is <dir>-<8 hex>)")
    s = sub.add_parser("start", help="start a created container")
    s.add_argument("id")
    s = sub.add_parser("state", help="print a container's state as JSON")
    s.add_argument("id")
    k = sub.add_parser("kill", help="send a signal to a container's init")
    k.add_argument("--all", "-a", action="store_true", help="signal every process in the container")
    k.add_argument("id")
    k.add_argument("signal", nargs="?", default="SIGTERM")
    d = sub.add_parser("delete", help="delete a container")
    d.add_argument("--force", "-f", action="store_true")
    d.add_argument("id")
    ls = sub.add_parser("list", help="list containers")
    ls.add_argument("--format", "-f", default="table", choices=("table", "json"))
    ls.add_argument("--quiet", "-q", action="store_true")
    sp = sub.add_parser("spec", help="write a new config.json")
    sp.add_argument("--bundle", "-b", default=".")
    return p


def parse_signal(text: str) -> int:
    name = text.upper()
    if name.isdigit():
        num = int(name)
        if 0 < num < signal.NSIG:
            return num
    else:
        if not name.startswith("SIG"):
            name = "SIG" + name
        sig = getattr(signal.Signals, name, None) if name in signal.Signals.__members__ else None
        if sig is not None:
            return int(sig)
    raise PyrtError(f"invalid signal {text!r}")


def _run_id(args: argparse.Namespace) -> tuple[str, str]:
    """runc's form (`run ID` in the bundle) or the mission's (`run DIR`)."""
    if args.bundle is None and os.path.isfile(os.path.join(args.id, "config.json")):
        bundle = os.path.abspath(args.id)
        return f"{os.path.basename(bundle.rstrip('/'))}-{os.urandom(4).hex()}", bundle
    return args.id, args.bundle or "."


def _table(rows: list[dict[str, Any]]) -> str:
    header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    cells = [header] + [[r["id"], str(r["pid"]), r["status"], r["bundle"], r["created"], r["owner"]] for r in rows]
    widths = [max(12, max(len(row[i]) for row in cells) + 3) for i in range(len(header) - 1)]
    return "".join("".join(c.ljust(w) for c, w in zip(row, widths)) + row[-1] + "\n" for row in cells)


def dispatch(args: argparse.Namespace) -> int:
    from pyrt import container
    from pyrt.state import Store

    store = Store(args.root)
    cmd = args.command
    if args.systemd_cgroup:
        raise PyrtError("--systemd-cgroup: systemd is not running on this host" if not os.path.isdir(
            "/run/systemd/system") else "--systemd-cgroup is not supported by this version of pyrt")
    if cmd == "create":
        container.create(store, args.id, args.bundle or ".", pid_file=args.pid_file, no_pivot=args.no_pivot,
                         no_new_keyring=args.no_new_keyring, preserve_fds=args.preserve_fds,
                         console_socket=args.console_socket)
    elif cmd == "run":
        cid, bundle = _run_id(args)
        code = container.run(store, cid, bundle, detach=args.detach, keep=args.keep, pid_file=args.pid_file,
                             no_pivot=args.no_pivot, no_new_keyring=args.no_new_keyring,
                             preserve_fds=args.preserve_fds, console_socket=args.console_socket)
        if args.detach and cid != args.id:
            print(cid)
        return code
    elif cmd == "start":
        container.start(store, args.id)
    elif cmd == "state":
        print(json.dumps(container.state(store, args.id), indent=2))
    elif cmd == "kill":
        container.kill(store, args.id, parse_signal(args.signal), args.all)
    elif cmd == "delete":
        container.delete(store, args.id, force=args.force)
    elif cmd == "list":
        rows = container.list_all(store)
        if args.quiet:
            sys.stdout.write("".join(r["id"] + "\n" for r in rows))
        elif args.format == "json":
            print(json.dumps(rows, separators=(",", ":")))
        else:
            sys.stdout.write(_table(rows))
    elif cmd == "spec":
        from pyrt.template import write_spec

        write_spec(args.bundle)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    log.configure(args.log, args.log_format, args.debug)
    if args.version:
        print(f"pyrt version {VERSION}\ncommit: {commit()}\nspec: {SPEC_VERSION}")
        return 0
    if not args.command:
        parser.print_usage(sys.stderr)
        return 2
    try:
        return dispatch(args)
    except PyrtError as exc:
        log.error(str(exc))
        return 1
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        log.error(f"{args.command}:{where}: {exc.strerror or exc}")
        return 1
    except Exception as exc:  # noqa: BLE001 - never a traceback for the user, unless --debug
        if args.debug:
            import traceback

            traceback.print_exc()
        log.error(f"internal error in {args.command}: {type(exc).__name__}: {exc}")
        return 1


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
