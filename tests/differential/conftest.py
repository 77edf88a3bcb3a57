"""The differential harness's report: per area, the cases compared and the differences left, with why."""

from __future__ import annotations

from collections import Counter
from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.differential.test_differential import RESULTS

    if not RESULTS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("pyrt against runc and crun")
    by_area: dict[str, Counter[str]] = {}
    for area, _name, verdict, _reason in RESULTS:
        by_area.setdefault(area, Counter())[verdict.split(" (")[0]] += 1
    write(f"{'area':<10} {'cases':>5} {'same':>5} {'refs differ':>11} {'by design':>9}")
    for area, counts in by_area.items():
        write(
            f"{area:<10} {sum(counts.values()):>5} {counts['same']:>5} {counts['references differ']:>11} "
            f"{counts['different by design']:>9}"
        )
    total = Counter(v.split(" (")[0] for _a, _n, v, _r in RESULTS)
    write(
        f"{'all':<10} {len(RESULTS):>5} {total['same']:>5} {total['references differ']:>11} "
        f"{total['different by design']:>9}"
    )
    for area, name, verdict, reason in RESULTS:
        if verdict != "same":
            write(f"  {area}: {name}: {verdict}: {reason}")
