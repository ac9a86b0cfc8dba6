"""RedactionPool gives the same results as an in-process Redactor."""

from __future__ import annotations

import pytest

from control_plane.privacy.redaction import PlaceholderMap, Redactor
from control_plane.privacy.redaction.errors import RedactionInputInvalid
from control_plane.privacy.redaction.pool import RedactionPool

TEXTS = [
    "This is Tanya, call me at 312 555 0198.",
    "card 4111 1111 1111 1111",
    "",
    "Thanks Tanya, I'll call 312 555 0198 back.",
]


def test_pool_matches_the_in_process_redactor(redactor: Redactor) -> None:
    with RedactionPool(workers=1, chunk_size=2) as pool:
        pool.warm_up()
        assert pool.redact_many(TEXTS) == redactor.redact_many(TEXTS)
        session = PlaceholderMap()
        last = pool.redact_many(TEXTS, placeholders=session)[-1]
        assert last.redacted == "Thanks <PERSON_1>, I'll call <PHONE_NUMBER_1> back."
        with pytest.raises(RedactionInputInvalid):
            pool.redact_many(["fine", 3])  # type: ignore[list-item]
