"""No module, encoding or source file is ever loaded from the container's filesystem."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, ROOTFS, Runtime, busybox_config

pytestmark = pytest.mark.root
PLANTED = ["traceback", "linecache", "tokenize", "_strptime", "locale", "shlex", "sitecustomize",
           "usercustomize", "string", "json", "pyrt_planted", "textwrap", "gettext", "weakref", "copyreg"]


def _interpreter_paths() -> list[str]:
    code = "import sys, os; print('\\n'.join(p for p in sys.path if p)); print(os.path.dirname(os.__file__))"
    out = subprocess.run([str(ROOT / ".venv/bin/python"), "-IS", "-c", code], capture_output=True, text=True)
    return sorted(set(out.stdout.split()) | {str(ROOT), str(ROOT / "pyrt")})


@pytest.fixture
def planted_rootfs(tmp_path: Path) -> Path:
    rootfs = tmp_path / "rootfs"
    shutil.copytree(ROOTFS, rootfs, symlinks=True)
    for d in _interpreter_paths():
        target = rootfs / d.lstrip("/")
        (target / "encodings").mkdir(parents=True, exist_ok=True)
        for name in PLANTED + ["encodings/idna", "encodings/__init__", "pyrt/__init__", "pyrt/common/__init__",
                               "pyrt/common/errors", "pyrt/executor/__init__"]:
            path = target / f"{name}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"open('/out/{name.replace('/', '.')}', 'w').write('ran')\n")
        (target / "planted.pth").write_text("import pyrt_planted\n")
    return rootfs


@pytest.mark.parametrize("failing", [False, True], ids=["success", "error-path"])
def test_planted_modules_never_run(rt: Runtime, planted_rootfs: Path, tmp_path: Path, failing: bool) -> None:
    out = tmp_path / "out"
    out.mkdir()
    cfg = busybox_config()
    cfg["root"] = {"path": str(planted_rootfs), "readonly": False}
    cfg["mounts"].append({"destination": "/out", "type": "bind", "source": str(out), "options": ["rbind"]})
    cfg["process"]["args"] = ["sh", "-c", "echo ok"]
    if failing:
        cfg["process"]["cwd"] = "/etc/passwd"  # fails inside init, after pivot_root: the error path runs there
    res = rt("run", "-b", str(rt.bundle(cfg)), rt.new_id())
    assert res.returncode == (1 if failing else 0), res.stderr
    assert sorted(os.listdir(out)) == [], "a module planted in the rootfs was executed"
    assert not list(planted_rootfs.glob("**/__pycache__")), "pyrt compiled a file of the rootfs"


def test_the_import_blocker_refuses_modules_on_the_path(tmp_path: Path) -> None:
    """The planted files would run if imports were allowed: the blocker is what stops them."""
    (tmp_path / "pyrt_planted.py").write_text("print('ran')\n")
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from pyrt.executor.child import block_imports\n"
            "block_imports()\n"
            "sys.path.insert(0, %r)\n"
            "try:\n    import pyrt_planted\nexcept ImportError as e:\n    print('refused:', e)\n")
    res = subprocess.run([sys.executable, "-c", code % (str(ROOT), str(tmp_path))], capture_output=True, text=True,
                         cwd=ROOT)
    assert res.stdout.startswith("refused: import of 'pyrt_planted' refused"), res.stdout + res.stderr
    res = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r}); "
                                                "import pyrt_planted"], capture_output=True, text=True)
    assert res.stdout == "ran\n"


def test_planted_modules_never_run_in_exec(rt: Runtime, planted_rootfs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    cfg = busybox_config()
    cfg["root"] = {"path": str(planted_rootfs), "readonly": False}
    cfg["mounts"].append({"destination": "/out", "type": "bind", "source": str(out), "options": ["rbind"]})
    cfg["process"]["args"] = ["sleep", "30"]
    cid = rt.new_id()
    rt("run", "-d", "-b", str(rt.bundle(cfg)), cid, check=True)
    try:
        assert rt("exec", cid, "true").returncode == 0
        assert rt("exec", "--cwd", "/no/such/dir", cid, "true").returncode == 255  # the error path, in the container
        assert rt("exec", "-t", "--detach", cid, "true").returncode == 255  # refused before anything runs
        assert sorted(os.listdir(out)) == [], "a module planted in the rootfs was executed by exec"
    finally:
        rt("delete", "--force", cid, check=True)
