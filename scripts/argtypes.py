"""argparse types shared by the scripts (bench, bench-docker, stress)."""

from __future__ import annotations

import argparse


def positive(text: str) -> int:
    """A count: 1 or more (argparse turns the error into one usage line, exit 2)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a positive integer: {text!r}")
    return int(text)
