"""The rootless tests' fixtures (tests/rootless_user.py): the test user and pyrt run as it."""

from tests.rootless_user import podman_user, rootless_user, urt  # noqa: F401 - fixtures
