"""pyrt against runc (and crun where installed), case by case: see harness.py for what is compared."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from tests.conftest import IS_ROOT, SYSTEMD, UNIFIED, hierarchy_roots, host_mounts
from tests.differential import cases_cgroups, cases_cli, cases_mounts, cases_process
from tests.differential.edits import HOST_DIR, PRIVATE_DIR
from tests.differential.harness import Case, Harness, Outcome

CASES: list[Case] = [*cases_process.CASES, *cases_mounts.CASES, *cases_cgroups.CASES, *cases_cli.CASES]
RESULTS: list[tuple[str, str, str, str]] = []  # (area, case, verdict, reason): the report in conftest.py


def _ids(cases: list[Case]) -> list[str]:
    return [f"{c.area}: {c.name}" for c in cases]


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    if not IS_ROOT:
        pytest.skip("needs root: runs real containers with three runtimes")
    if not shutil.which("runc"):
        pytest.skip("runc is not installed (scripts/test installs it)")
    src = Path(HOST_DIR)
    src.mkdir(exist_ok=True)
    (src / "file").write_text("from the host\n")
    (src / "owned").write_text("uid 1000's\n")
    os.chown(src / "owned", 1000, 1000)
    private = Path(PRIVATE_DIR)
    private.mkdir(parents=True, exist_ok=True)
    private.parent.chmod(0o700)
    (private / "file").write_text("from a private directory\n")
    # Not under pytest's 0700 tmp dir: a user namespace's root must reach the bundles.
    tmp = Path(tempfile.mkdtemp(prefix="pyrt-differential-"))
    tmp.chmod(0o755)
    try:
        yield Harness(tmp)
    finally:
        shutil.rmtree(src, ignore_errors=True)
        shutil.rmtree(private.parent, ignore_errors=True)
        for base in hierarchy_roots():  # the parents of the cases' own cgroupsPath values
            for parent in (base / cases_cgroups.PARENT, base / cases_cgroups.LIMITS):
                if parent.is_dir():
                    for child in parent.iterdir():
                        if child.is_dir():
                            child.rmdir()
                    parent.rmdir()
        shutil.rmtree(tmp, ignore_errors=True)


def _leftovers(h: Harness, before: set[str], pyrt: Outcome) -> list[str]:
    """What pyrt left: state, mounts on the host, cgroups."""
    root = h.runners["pyrt"].root
    left = [f"state {p}" for p in root.iterdir()] if root.exists() else []
    left += [f"mount {m}" for m in host_mounts() - before]
    return left + [f"cgroup {d}" for d in pyrt.cgroups_left]


@pytest.mark.skipif(UNIFIED, reason="the whole set reads v1 cgroup files: a cgroup v2 host runs "
                    "test_same_on_a_standard_host")
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_same_as_the_references(harness: Harness, case: Case) -> None:
    _compare(harness, case)


# On a standard host (the VM lab: cgroup v2, systemd, crun native), the areas whose observations do not
# read v1 cgroup files; about 3 s a case there under software emulation.
LAB_AREAS = ("process", "lifecycle", "exec", "hooks", "cli")
LAB_CASES = [c for c in CASES if c.area in LAB_AREAS]


@pytest.mark.standard_host
@pytest.mark.skipif(not (UNIFIED and SYSTEMD), reason="needs a standard host: scripts/vm test runs it there")
@pytest.mark.parametrize("case", LAB_CASES, ids=_ids(LAB_CASES))
def test_same_on_a_standard_host(harness: Harness, case: Case) -> None:
    _compare(harness, case)


def _compare(harness: Harness, case: Case) -> None:
    case = case.for_this_host()
    if case.follow not in harness.runners:
        pytest.skip(f"pyrt follows {case.follow} here, which is not installed (scripts/test installs it)")
    before = host_mounts()
    outcomes = {name: harness.run(case, name) for name in ("pyrt", *case.refs) if name in harness.runners}
    pyrt = outcomes.pop("pyrt")
    left = _leftovers(harness, before, pyrt)
    assert not left, f"pyrt left behind: {left}"
    refs = outcomes
    verdict, reason = "same", ""
    if len({o.observed for o in refs.values()}) > 1:
        assert case.refs_differ, "the references disagree:\n" + _show([*refs.values(), pyrt])
        verdict, reason = f"references differ (pyrt as {case.follow})", case.refs_differ
    elif case.refs_differ and len(refs) > 1:
        pytest.fail(
            f"the references were said to differ ({case.refs_differ}) but agree:\n" + _show([*refs.values(), pyrt])
        )
    target = refs[case.follow] if case.follow in refs else next(iter(refs.values()))
    if case.differs:
        assert pyrt.observed == case.expect, f"by design ({case.differs}), pyrt observes exactly:\n" + _show(
            [pyrt, Outcome("expected", case.expect, "")]
        )
        assert pyrt.observed != target.observed, f"no longer differs ({case.differs}):\n" + _show([pyrt, target])
        verdict, reason = "different by design", case.differs
    else:
        assert pyrt.observed == target.observed, _show([pyrt, *refs.values()])
    RESULTS.append((case.area, case.name, verdict, reason))


def _show(outcomes: Iterable[Outcome]) -> str:
    parts = []
    for o in outcomes:
        parts.append(f"--- {o.runtime}\n{o.observed}" + (f"[stderr] {o.stderr.strip()}\n" if o.stderr.strip() else ""))
    return "\n".join(parts)
