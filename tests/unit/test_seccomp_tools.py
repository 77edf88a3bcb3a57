"""check / explain / diff through the CLI: verdicts, reasons, exit codes (0, 1, 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pyrt import cli
from pyrt.seccomp import bpf
from pyrt.seccomp.compiler import _compile

pytest.importorskip("pyseccomp")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("call, code, verdict", [
    (["unshare"], 1, "unshare: ERRNO(EPERM)"),
    (["read"], 0, "read: ALLOW"),
    (["clone", "0x10000011"], 1, "clone(0x10000011): ERRNO(EPERM)"),
    (["clone", "17"], 0, "clone(0x11): ALLOW"),
    (["clone3"], 1, "clone3: ERRNO(ENOSYS)"),
    (["socket", "38"], 1, "socket(0x26): ERRNO(EPERM)"),
    (["socket", "2"], 0, "socket(0x2): ALLOW"),
    (["personality", "0xffffffff"], 0, "personality(0xffffffff): ALLOW"),
    (["mseal"], 1, "mseal: ERRNO(ENOSYS)"),
    (["1000"], 1, "1000 (a number libseccomp names no call): ERRNO(ENOSYS)"),
    (["272"], 1, "272 (unshare): ERRNO(EPERM)"),  # a number: the call it stands for, matched by name
    (["0"], 0, "0 (read): ALLOW"),
])
def test_check_default(capsys: pytest.CaptureFixture[str], call: list[str], code: int, verdict: str) -> None:
    got, out, _ = run_cli(capsys, "seccomp", "check", "default", *call)
    assert (got, out.splitlines()[0]) == (code, verdict)
    assert out.splitlines()[1].startswith("  because: ")
    if call == ["272"]:
        assert out.splitlines()[1] == "  because: no rule names unshare: the default action applies: ERRNO(EPERM)"


def test_check_with_sys_admin(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "seccomp", "check", "default", "unshare", "--caps", "sys_admin")
    assert code == 0 and out.startswith("unshare: ALLOW")


@pytest.mark.parametrize("argv", [["default", "nosuchcall"], ["default", "read", "banana"],
                                  ["/nonexistent.json", "read"], ["default", "read", "--arch", "z80"]])
def test_check_bad_input_exits_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run_cli(capsys, "seccomp", "check", *argv)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and err.startswith("pyrt: ")


def test_check_reads_config_json_and_oci_sections(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    section = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                                                "errnoRet": 38}]}
    (tmp_path / "oci.json").write_text(json.dumps(section))
    (tmp_path / "config.json").write_text(json.dumps({"ociVersion": "1.0.2", "linux": {"seccomp": section}}))
    for f in ("oci.json", "config.json"):
        code, out, _ = run_cli(capsys, "seccomp", "check", str(tmp_path / f), "mkdir")
        assert (code, out.splitlines()[0]) == (1, "mkdir: ERRNO(ENOSYS)")
        code, out, _ = run_cli(capsys, "seccomp", "check", str(tmp_path / f), "rmdir")
        assert (code, out.splitlines()[0]) == (0, "rmdir: ALLOW")


def test_bad_profile_files_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = {"not json": "{", "unknown action": json.dumps({"defaultAction": "SCMP_ACT_MAYBE"}),
           "arg index 6": json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
               {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1,
                                                                          "op": "SCMP_CMP_EQ"}]}]})}
    for i, text in enumerate(bad.values()):
        (tmp_path / f"{i}.json").write_text(text)
        code, out, err = run_cli(capsys, "seccomp", "check", str(tmp_path / f"{i}.json"), "read")
        assert code == 2 and len(err.splitlines()) == 1, err


def test_explain_names_the_traps(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run_cli(capsys, "seccomp", "explain", "default")
    assert code == 0
    assert "clone3: ERRNO(ENOSYS) - libc falls back to clone" in out
    assert "no new namespaces" in out and "family < 38 (AF_ALG)" in out
    trap = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["execve"], "action": "SCMP_ACT_ERRNO"},
                                                            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO"}]}
    (tmp_path / "trap.json").write_text(json.dumps(trap))
    code, out, _ = run_cli(capsys, "seccomp", "explain", str(tmp_path / "trap.json"))
    assert "no container process can start" in out
    assert "libc only falls back to clone on ENOSYS" in out
    assert "a deny-list" in out


def test_diff_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run_cli(capsys, "seccomp", "diff", "default", "default")
    assert code == 0 and out.splitlines()[-1].startswith("0 of ")
    code, out, _ = run_cli(capsys, "seccomp", "diff", "default", "default", "--caps", "CHOWN,SYS_ADMIN")
    assert code == 0
    rendered = tmp_path / "sysadmin.json"
    assert cli.main(["seccomp", "default", "--caps", "SYS_ADMIN"]) == 0
    rendered.write_text(capsys.readouterr().out)
    code, out, _ = run_cli(capsys, "seccomp", "diff", "default", str(rendered))
    assert code == 1
    assert "unshare: ERRNO(EPERM) -> ALLOW" in out.splitlines()
    assert "clone(0x10000000): ERRNO(EPERM) -> ALLOW" in out.splitlines()


def test_default_and_convert_print_oci(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["seccomp", "default", "--arch", "amd64"]) == 0
    section = json.loads(capsys.readouterr().out)
    assert "archMap" not in section and section["architectures"][0] == "SCMP_ARCH_X86_64"
    from pyrt.seccomp.docker_data import PROFILE

    (tmp_path / "docker.json").write_text(json.dumps(PROFILE))
    assert cli.main(["seccomp", "convert", str(tmp_path / "docker.json"), "--arch", "x86_64"]) == 0
    assert json.loads(capsys.readouterr().out) == section


def test_enosys_stub_and_interpreter() -> None:
    section = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
               "syscalls": [{"names": ["read", "write", "getpid"], "action": "SCMP_ACT_ALLOW"}]}
    prog = bpf.decode(_compile(section, "s", [])["bpf"])
    x64, x86 = bpf.AUDIT_ARCH["x86_64"], bpf.AUDIT_ARCH["x86"]
    assert bpf.run(prog, bpf.seccomp_data(0, x64))[0] == bpf.RET_ALLOW  # read
    assert bpf.run(prog, bpf.seccomp_data(2, x64))[0] == bpf.RET_ERRNO | 1  # open: below getpid (39)
    assert bpf.run(prog, bpf.seccomp_data(40, x64))[0] == bpf.RET_ERRNO | 38  # above: ENOSYS
    assert bpf.run(prog, bpf.seccomp_data(3, x86))[0] == bpf.RET_ALLOW  # i386 read is 3
    assert bpf.run(prog, bpf.seccomp_data(300, x86))[0] == bpf.RET_ERRNO | 38
    assert bpf.run(prog, bpf.seccomp_data(0, bpf.AUDIT_ARCH["aarch64"]))[0] == bpf.RET_KILL_THREAD
