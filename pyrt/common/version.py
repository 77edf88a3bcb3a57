"""Version facts, kept import-free so every command can afford them."""

VERSION = "0.1.0"
# The highest runtime-spec version whose fields pyrt all applies or refuses.
SPEC_VERSION = "1.2.0"


def commit() -> str:
    try:
        from pyrt.common import _build  # written by scripts/setup at install time

        return str(_build.COMMIT)
    except ImportError:
        return "unknown"
