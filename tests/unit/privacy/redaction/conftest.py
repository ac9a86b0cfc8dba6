"""One Redactor for the whole session: loading the spaCy model takes a second or two."""

from __future__ import annotations

import pytest

from control_plane.privacy.redaction import Redactor


@pytest.fixture(scope="session")
def redactor() -> Redactor:
    return Redactor()
