"""The pure hash-chain functions: hashing, breaks, checkpoint claims, start anchors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from control_plane.audit.chain import (
    GENESIS_HASH,
    CheckpointClaim,
    find_break,
    is_checkpoint_valid,
    record_hash,
    sign_checkpoint,
)
from control_plane.audit.jobs import is_checkpoint_due
from control_plane.audit.verify import start_anchor
from control_plane.config import AuditSettings

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _chain(count: int, *, tenant: str | None = None) -> list[dict[str, object]]:
    records: list[dict[str, object]] = []
    prev = GENESIS_HASH
    for seq in range(1, count + 1):
        fields: dict[str, object] = {
            "seq": seq,
            "id": f"id{seq}",
            "ts": T0 + timedelta(seconds=seq),
            "event_type": "session.created",
            "outcome": "success",
            "actor": "sub_a",
            "target": None,
            "reason": f"r{seq}",
            "decision_id": None,
            "policy_version": None,
            "request_id": None,
            "details": {"k": seq},
            "tenant": tenant,
            "prev_hash": prev,
        }
        fields["hash"] = record_hash(fields)
        prev = str(fields["hash"])
        records.append(fields)
    return records


def test_intact_chain_has_no_break() -> None:
    assert find_break(_chain(5), start_hash=GENESIS_HASH, start_seq=0) is None


def test_tenant_is_hashed_only_when_set() -> None:
    base = _chain(1)[0]
    with_tenant = {**base, "tenant": "acme"}
    assert record_hash(with_tenant) != record_hash(base)
    assert record_hash({k: v for k, v in base.items() if k != "tenant"}) == record_hash(base)
    # Naive timestamps (SQLite read-back) hash like their UTC-aware originals.
    naive = {**base, "ts": T0.replace(tzinfo=None) + timedelta(seconds=1)}
    assert record_hash(naive) == record_hash(base)


@pytest.mark.parametrize(
    ("mutate", "seq", "words"),
    [
        (lambda c: c[2].update(reason="edited"), 3, "altered"),
        (lambda c: c[2].update(tenant="globex"), 3, "altered"),
        (lambda c: c[3].update(prev_hash="f" * 64), 4, "prev_hash"),
        (lambda c: c.pop(2), 3, "record 3 missing"),
        (lambda c: (c.pop(1), c.pop(1)), 2, "record 2..3 missing"),
        (lambda c: c.pop(0), 1, "missing"),
    ],
)
def test_first_bad_record_is_named(mutate: object, seq: int, words: str) -> None:
    chain = _chain(6)
    mutate(chain)  # type: ignore[operator]
    found = find_break(chain, start_hash=GENESIS_HASH, start_seq=0)
    assert found is not None
    assert found.seq == seq
    assert words in found.reason


def test_checkpoint_signature_covers_every_claimed_field() -> None:
    key = Ed25519PrivateKey.generate()
    claim = CheckpointClaim(3, "a" * 64, 9, "b" * 64, T0)
    signature = sign_checkpoint(key, claim)
    assert is_checkpoint_valid(key.public_key(), claim, signature)
    for changed in (
        CheckpointClaim(4, "a" * 64, 9, "b" * 64, T0),
        CheckpointClaim(3, "c" * 64, 9, "b" * 64, T0),
        CheckpointClaim(3, "a" * 64, 10, "b" * 64, T0),
        CheckpointClaim(3, "a" * 64, 9, "c" * 64, T0),
        CheckpointClaim(3, "a" * 64, 9, "b" * 64, T0 + timedelta(microseconds=1)),
    ):
        assert not is_checkpoint_valid(key.public_key(), changed, signature)
    other = Ed25519PrivateKey.generate()
    assert not is_checkpoint_valid(other.public_key(), claim, signature)
    assert not is_checkpoint_valid(key.public_key(), claim, "not hex")


@pytest.mark.parametrize(
    ("first_seq", "prev", "purges", "claims", "expected"),
    [
        (1, GENESIS_HASH, {}, [], "genesis"),
        (1, "x" * 64, {}, [], None),
        (7, "h6", {6: "h6"}, [], "retention"),
        (7, "h6", {6: "other"}, [], None),
        (7, "h6", {5: "h6"}, [], None),
        (7, "h6", {}, [CheckpointClaim(7, "h6", 20, "h20", T0)], "checkpoint"),
        (7, "h6", {}, [CheckpointClaim(1, GENESIS_HASH, 6, "h6", T0)], None),
        (7, "h6", {}, [], None),
    ],
)
def test_start_anchor(
    first_seq: int,
    prev: str,
    purges: dict[int, str],
    claims: list[CheckpointClaim],
    expected: str | None,
) -> None:
    assert start_anchor(first_seq, prev, purges=purges, claims=claims) == expected


@pytest.mark.parametrize(
    ("head", "last_head", "age_s", "due"),
    [
        (5, None, 0, True),
        (5, 5, 10_000, False),
        (6, 5, 10, False),
        (6, 5, 300, True),
        (105, 5, 1, True),
        (104, 5, 1, False),
    ],
)
def test_checkpoint_is_due(head: int, last_head: int | None, age_s: int, due: bool) -> None:
    settings = AuditSettings(checkpoint_interval_seconds=300, checkpoint_every_records=100)
    assert (
        is_checkpoint_due(
            head_seq=head,
            last_head_seq=last_head,
            last_ts=None if last_head is None else T0,
            now=T0 + timedelta(seconds=age_s),
            settings=settings,
        )
        is due
    )
