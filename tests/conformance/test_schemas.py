"""The configs pyrt ships and the engines' fixtures are valid runtime-spec config.json documents."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from pyrt.config.template import write_spec
from tests.conftest import BUSYBOX, SHARED, schema_validator

FIXTURES = sorted((SHARED / "engines").glob("*.config.json"))


@pytest.mark.parametrize("path", [BUSYBOX / "config.json", *FIXTURES], ids=lambda p: p.name)
def test_config_validates(path: Path) -> None:
    schema_validator("config-schema.json").validate(json.loads(path.read_text()))


@pytest.mark.parametrize("seccomp", [True, False])
def test_pyrt_spec_output_validates(seccomp: bool) -> None:
    with tempfile.TemporaryDirectory() as d:
        write_spec(d, seccomp=seccomp)
        schema_validator("config-schema.json").validate(json.loads(Path(d, "config.json").read_text()))
