"""The hand parser agrees with argparse on every form it accepts, and defers the rest."""

from __future__ import annotations

import pytest

from pyrt import cli
from pyrt.common.errors import PyrtError
from pyrt.common.signals import parse as parse_signal
from pyrt.common.version import SPEC_VERSION

FORMS = [
    ["state", "c1"],
    ["--root", "/tmp/r", "state", "c1"],
    ["--root=/tmp/r", "--log", "/tmp/l", "--log-format=json", "--debug", "start", "c1"],
    ["kill", "c1"],
    ["kill", "--all", "c1", "KILL"],
    ["kill", "c1", "9", "-a"],
    ["delete", "-f", "c1"],
    ["list", "--format", "json"],
    ["list", "-q"],
    ["create", "--bundle", "/b", "--pid-file=/p", "--preserve-fds", "2", "--no-pivot", "c1"],
    ["create", "-b", "/b", "--console-socket", "/s", "--no-new-keyring", "c1"],
    ["run", "-d", "--keep", "-b", "/b", "c1"],
    ["run", "bundles/busybox"],
    ["spec", "-b", "/tmp"],
    ["exec", "c1", "sh", "-c", "echo -x --y"],
    ["exec", "-e", "A=1", "--env=B=2", "-u", "1:2", "--cwd", "/t", "-d", "--pid-file", "/p", "c1", "ls", "-l"],
    ["exec", "--process", "/p.json", "--detach", "c1"],
    ["exec", "-c", "CAP_KILL", "-c", "CAP_CHOWN", "--no-new-privs", "c1", "true"],
]


@pytest.mark.parametrize("argv", FORMS, ids=" ".join)
def test_fast_parse_matches_argparse(argv: list[str]) -> None:
    fast = cli.fast_parse(argv)
    assert fast is not None, "the hot path should take this form"
    slow = vars(cli._argparser().parse_args(argv))
    assert {k: v for k, v in vars(fast).items()} == slow


@pytest.mark.parametrize("argv", [["--help"], ["state"], ["state", "a", "b"], ["frob"], ["list", "--format", "xml"],
                                  ["create", "--preserve-fds", "x", "c"], ["kill", "-h"], []])
def test_unusual_forms_go_to_argparse(argv: list[str]) -> None:
    assert cli.fast_parse(argv) is None


def test_version_flag() -> None:
    args = cli.fast_parse(["--version"])
    assert args is not None and args.version


@pytest.mark.parametrize("text, num", [("KILL", 9), ("SIGKILL", 9), ("kill", 9), ("9", 9), ("TERM", 15),
                                       ("SIGUSR1", 10), ("RTMIN+2", 36), ("SIGRTMAX", 64)])
def test_signals(text: str, num: int) -> None:
    assert parse_signal(text) == num


@pytest.mark.parametrize("text", ["", "FOO", "65", "RTMIN+40", "-1"])
def test_bad_signals(text: str) -> None:
    with pytest.raises(PyrtError, match="invalid signal"):
        parse_signal(text)


def test_version_has_three_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("pyrt version ") and lines[1].startswith("commit: ") and lines[2] == "spec: 1.2.0"


def test_spec_writes_what_runc_spec_writes(tmp_path: object) -> None:
    import json
    import shutil
    import subprocess
    from pathlib import Path

    d = Path(str(tmp_path))
    (d / "pyrt").mkdir()
    (d / "plain").mkdir()
    assert cli.main(["spec", "--bundle", str(d / "pyrt")]) == 0
    assert cli.main(["spec", "--bundle", str(d / "pyrt")]) == 1  # never overwrites
    assert cli.main(["spec", "--seccomp", "unconfined", "--bundle", str(d / "plain")]) == 0
    with_profile = json.loads((d / "pyrt" / "config.json").read_text())
    section = with_profile["linux"].pop("seccomp")
    assert section["defaultAction"] == "SCMP_ACT_ERRNO" and "unshare" not in json.dumps(section)
    runc = shutil.which("runc") or ("/usr/sbin/runc" if Path("/usr/sbin/runc").exists() else None)
    if runc is None:
        pytest.skip("runc is not installed")
    (d / "runc").mkdir()
    subprocess.run([runc, "spec"], cwd=d / "runc", check=True)
    runc_spec = json.loads((d / "runc" / "config.json").read_text())
    runc_spec["ociVersion"] = SPEC_VERSION  # pyrt writes the version it implements, runc its own 1.0.2-dev
    assert json.loads((d / "plain" / "config.json").read_text()) == runc_spec
    assert with_profile == runc_spec  # the same, plus Docker's default profile


@pytest.mark.parametrize(("argv", "enabled"), [(["list"], False), (["state", "nope"], False),
                                                (["features"], True), (["cache", "stats"], True)])
def test_only_short_commands_keep_the_launchers_gc_off(argv: list[str], enabled: bool, tmp_path: object) -> None:
    """The launcher starts with the cyclic GC off; long-running or allocation-heavy commands turn it on."""
    import gc

    gc.disable()
    try:
        cli.main(["--root", str(tmp_path), *argv])
        assert gc.isenabled() is enabled
    finally:
        gc.enable()


def test_planning_in_the_cli_turns_the_gc_on_a_planning_child_keeps_it_off(
        tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    import gc
    import json
    from pathlib import Path

    from pyrt.planning import in_child
    from pyrt.planning.bundle import build_plan
    from tests.conftest import busybox_config

    cfg = Path(str(tmp_path)) / "config.json"
    cfg.write_text(json.dumps(busybox_config()))
    args = (cfg.read_bytes(), str(cfg), str(tmp_path), None, {"no_pivot": False, "no_new_keyring": False,
                                                             "preserve_fds": 0})
    gc.enable()
    try:
        assert in_child.call(lambda: gc.isenabled()) == (False, "")
        gc.disable()
        plan, why = in_child.planned(build_plan, *args)
        assert why == "" and plan[0]["seccomp"] and not gc.isenabled()
        monkeypatch.setenv("PYRT_FAULT", "planning-child")  # the child dies: the CLI plans, and lives on
        plan, why = in_child.planned(build_plan, *args)
        assert "killed by signal 9" in why and plan[0]["seccomp"] and gc.isenabled()
    finally:
        gc.enable()


def test_the_seccomp_recorder_turns_the_gc_on() -> None:
    import gc

    from pyrt.seccomp.recorder import Recorder

    gc.disable()
    try:
        Recorder().close()
        assert gc.isenabled()
    finally:
        gc.enable()
