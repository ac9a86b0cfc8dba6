"""e2e fixtures: the real-service harness (also re-exported by the suite's conftest)."""

from tests.support.fixtures import *  # noqa: F403
