"""bundle.build_plan(overlap=True), as a cold CLI plans: the config's seccomp section is compiled in a
forked child while the spec model is imported.  The plan, its debug notes and its errors are the ones
planning in one process gives, and the planning process never loads pyseccomp."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from pyrt.common.errors import SpecError
from pyrt.planning.bundle import build_plan
from tests.conftest import ROOT, busybox_config

BUSYBOX = str(ROOT / "bundles" / "busybox")


def plan(cfg: dict[str, Any], overlap: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("PYRT_CACHE_DIR", str(tmp_path / f"cache-{uuid.uuid4().hex[:6]}"))  # BPF cache cold
    return build_plan(json.dumps(cfg).encode(), "config.json", BUSYBOX, None, {}, overlap)


def test_the_same_plan_with_the_section_compiled_apart(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = busybox_config()
    cfg["linux"]["seccomp"]["syscalls"].append({"names": ["no_such_syscall"], "action": "SCMP_ACT_ALLOW"})
    apart = plan(cfg, True, monkeypatch, tmp_path)
    here = plan(cfg, False, monkeypatch, tmp_path)
    assert apart == here
    assert apart[0]["seccomp"]["bpf"] and any("no_such_syscall" in d for d in apart[2])  # its debug notes came too


def test_the_configs_first_error_wins_as_before(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = busybox_config()
    cfg["linux"]["seccomp"]["syscalls"][0]["action"] = "SCMP_ACT_NOPE"
    both = copy.deepcopy(cfg)
    both["process"]["args"] = []
    for c, where in ((cfg, "linux.seccomp.syscalls[0].action"), (both, "process.args")):
        errors = []
        for overlap in (True, False):
            with pytest.raises(SpecError) as info:
                plan(c, overlap, monkeypatch, tmp_path)
            errors.append((info.value.json_path, str(info.value)))
        assert errors[0] == errors[1] and errors[0][0] == where


def test_the_planning_process_never_loads_pyseccomp(tmp_path: Path) -> None:
    code = (f"import sys; sys.path[:0] = {[str(ROOT)]!r}\n"
            "from pyrt.planning.bundle import build_plan, read_config\n"
            f"raw, path = read_config({BUSYBOX!r})\n"
            f"p = build_plan(raw, path, {BUSYBOX!r}, None, {{}}, sys.argv[1] == 'overlap')[0]\n"
            "print(len(p['seccomp']['bpf']), 'pyseccomp' in sys.modules, 'attr' in sys.modules)\n")
    out = {}
    for mode in ("overlap", "one process"):
        res = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, timeout=120,
                             env={"PYRT_CACHE_DIR": str(tmp_path / mode), "PATH": "/usr/bin:/bin"})
        assert res.returncode == 0, res.stderr
        out[mode] = res.stdout.split()
    assert out["overlap"][1:] == ["False", "True"] and out["one process"][1:] == ["True", "True"]
    assert out["overlap"][0] == out["one process"][0] != "0"
