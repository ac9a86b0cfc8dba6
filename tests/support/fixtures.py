"""Pytest fixtures for the real-service harness.

The suite's conftest imports these with ``from tests.support.fixtures import *``.
"""

from __future__ import annotations

import pytest

from tests.support.harness import ALL_SERVICES, HarnessEnv, ensure_services

__all__ = ["harness_env"]


@pytest.fixture(scope="session")
def harness_env() -> HarnessEnv:
    """PostgreSQL, Redis, livekit-server and the OIDC provider, started once per session.

    Services are left running afterwards (``make services-down`` stops them), so repeated
    runs do not pay the start-up again.
    """
    return ensure_services(ALL_SERVICES)
