"""The BPF cache: a hit needs neither libseccomp nor pyseccomp; any change is a new entry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytest.importorskip("pyseccomp")
SECTION: dict[str, object] = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
           "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}
CODE = """
import json, sys
from pyrt.seccomp.compiler import compile_section
section = json.loads(sys.argv[1])
result = compile_section(section, "linux.seccomp")
print(json.dumps({"pyseccomp": "pyseccomp" in sys.modules, "bpf": result["bpf"].hex()}))
"""


def compile_in_child(section: dict[str, object], cache_dir: Path) -> dict[str, object]:
    env = dict(os.environ, PYRT_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, "-c", CODE, json.dumps(section)], env=env, capture_output=True,
                         text=True, cwd=ROOT, check=True).stdout
    result: dict[str, object] = json.loads(out)
    return result


def test_a_hit_imports_no_libseccomp(tmp_path: Path) -> None:
    first = compile_in_child(SECTION, tmp_path)
    second = compile_in_child(SECTION, tmp_path)
    assert first["pyseccomp"] is True and second["pyseccomp"] is False
    assert first["bpf"] == second["bpf"]


def test_a_changed_section_is_a_new_entry(tmp_path: Path) -> None:
    first = compile_in_child(SECTION, tmp_path)
    changed = json.loads(json.dumps(SECTION))
    changed["syscalls"][0]["names"].append("getpid")
    second = compile_in_child(changed, tmp_path)
    assert second["pyseccomp"] is True and second["bpf"] != first["bpf"]
    assert len(list((tmp_path / "bpf").iterdir())) == 2


def test_a_corrupt_entry_is_rebuilt(tmp_path: Path) -> None:
    first = compile_in_child(SECTION, tmp_path)
    (entry,) = (tmp_path / "bpf").iterdir()
    entry.write_bytes(entry.read_bytes()[:20])  # truncated
    again = compile_in_child(SECTION, tmp_path)
    assert again["pyseccomp"] is True and again["bpf"] == first["bpf"]
