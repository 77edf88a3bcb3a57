"""pyrt.common.fastimport: the same modules as importlib's, or importlib itself whenever it cannot tell.

Each case runs in a fresh interpreter (the importer replaces builtins.__import__) on a throwaway
package, and records which modules the fast path loaded itself.
"""

from __future__ import annotations

import compileall
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PKG = "fastpkg_t"
FILES = {
    "__init__.py": "X = 1\n",
    "helper.py": "Z = 41\n",
    "sub/__init__.py": "",
    "sub/mod.py": f"from {PKG} import helper\nfrom {PKG}.helper import Z\nY = Z + 1\n",
    "broken.py": "raise RuntimeError('broken at import')\n",
}


@pytest.fixture
def pkg(tmp_path: Path) -> Path:
    for name, text in FILES.items():
        path = tmp_path / PKG / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert compileall.compile_dir(tmp_path / PKG, quiet=1)
    return tmp_path


def run(root: Path, body: str, fast: bool = True) -> dict[str, object]:
    """body sets `out` (a JSON-able dict); `loaded` lists what the fast path loaded itself."""
    code = (f"import sys, json\nsys.path[:0] = [{str(ROOT)!r}, {str(root)!r}]\n"
            "from pyrt.common import fastimport\nloaded = []\n"
            "_load = fastimport.FastImporter._load\n"
            "def spy(self, name):\n    module = _load(self, name)\n    loaded.append(name)\n    return module\n"
            "fastimport.FastImporter._load = spy\n"
            f"{'fastimport.install(' + repr(PKG) + ', ' + repr(str(root)) + ')' if fast else ''}\n"
            "out = {}\n" + body + "\nout['loaded'] = loaded\nprint(json.dumps(out))\n")
    res = subprocess.run([sys.executable, "-IS", "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert res.returncode == 0, res.stderr
    result: dict[str, object] = json.loads(res.stdout)
    return result


ATTRS = f"""
import {PKG}.sub.mod as m
from {PKG} import sub
out['Y'] = m.Y
for name in ['{PKG}', '{PKG}.sub', '{PKG}.sub.mod', '{PKG}.helper']:
    mod = sys.modules[name]
    spec = mod.__spec__
    out[name] = [mod.__name__, mod.__file__, mod.__cached__, mod.__package__, getattr(mod, '__path__', None),
                 type(mod.__loader__).__name__, mod.__loader__.path, spec.name, spec.origin, spec.cached,
                 spec.parent, spec.has_location, spec.submodule_search_locations, mod.__loader__ is spec.loader]
out['attrs'] = [hasattr(sys.modules['{PKG}'], 'sub'), hasattr(sys.modules['{PKG}.sub'], 'mod'),
                sub is sys.modules['{PKG}.sub']]
out['co_filename'] = m.__dict__.get('helper').__spec__.origin
"""


def test_the_modules_are_importlibs(pkg: Path) -> None:
    fast, slow = run(pkg, ATTRS), run(pkg, ATTRS, fast=False)
    assert fast.pop("loaded") == [PKG, f"{PKG}.sub", f"{PKG}.helper", f"{PKG}.sub.mod"]  # in order of completion
    assert slow.pop("loaded") == []
    assert fast == slow
    assert fast["Y"] == 42


def test_a_stale_or_missing_pyc_goes_to_importlib(pkg: Path) -> None:
    (pkg / PKG / "helper.py").write_text("Z = 99  # edited after compiling: another size\n")
    (pkg / PKG / "sub" / "__pycache__").joinpath(f"mod.{sys.implementation.cache_tag}.pyc").unlink()
    out = run(pkg, f"from {PKG}.sub import mod\nout['Y'] = mod.Y")
    assert out == {"Y": 100, "loaded": [PKG, f"{PKG}.sub"]}  # mod: no pyc; helper: stale


def test_errors_are_importlibs(pkg: Path) -> None:
    body = f"""
for stmt in ['from {PKG} import nope', 'import {PKG}.nope', 'import {PKG}.broken', 'import {PKG}.broken']:
    try:
        exec(stmt)
    except Exception as exc:
        out[stmt + str(len(out))] = [type(exc).__name__, str(exc), getattr(exc, 'name', None)]
out['left'] = '{PKG}.broken' in sys.modules
"""
    fast, slow = run(pkg, body), run(pkg, body, fast=False)
    assert fast.pop("loaded") == [PKG]  # a module that raises is served, but never reported loaded
    slow.pop("loaded")
    assert fast == slow
    assert fast["left"] is False


def test_a_process_with_threads_imports_through_importlib(pkg: Path) -> None:
    out = run(pkg, f"import threading\nimport {PKG}.sub.mod")
    assert out["loaded"] == []


def test_blocked_imports_uninstall_it(tmp_path: Path) -> None:
    """The container's init must not read .pyc files through the fast path once imports are blocked."""
    site = [p for p in sys.path if "site-packages" in p]  # _prctl, for pyrt.executor.child
    code = (f"import sys, builtins\nsys.path[:0] = {[str(ROOT), *site]!r}\n"
            "from pyrt.common import fastimport\nbefore = builtins.__import__\nfastimport.install()\n"
            "assert builtins.__import__ is not before\n"
            "from pyrt.executor import child\nchild.block_imports()\n"
            "assert builtins.__import__ is before\n"
            "try:\n    import pyrt.planning.planner\nexcept ImportError as exc:\n    print('refused', exc)\n")
    res = subprocess.run([sys.executable, "-IS", "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("refused import of 'pyrt.planning' refused"), res.stdout  # its package, first


FUTURE = """
import __future__ as f
spec = f.__spec__
out['future'] = [f.__name__, f.__file__, f.__cached__, f.__package__, type(f.__loader__).__name__, spec.origin,
                 spec.cached, spec.has_location, repr(f.annotations), sorted(f.all_feature_names)]
"""


def test_the_standard_librarys_future_is_importlibs_and_served(pkg: Path) -> None:
    """Every pyrt module's `from __future__ import annotations` loads the stdlib's __future__ through the
    fast path (no importlib path finders for it) as the module importlib would make."""
    fast, slow = run(pkg, FUTURE), run(pkg, FUTURE, fast=False)
    assert fast.pop("loaded") == ["__future__"]
    assert slow.pop("loaded") == []
    assert fast == slow
