"""KEK rotation on both backends: every data key re-wrapped, ciphertexts untouched, audited;
wraps in backups taken before the rotation die with the old KEK."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from sqlmodel import col, select

from control_plane.audit.tables import AuditRecord
from control_plane.config import KeySettings
from control_plane.crypto.envelope import EnvelopeError, decrypt, encrypt, kek_id, unwrap_data_key
from control_plane.crypto.keyring import KeyRing, load_key_ring
from control_plane.crypto.service import ensure_data_key, find_data_key, rotate_kek
from control_plane.crypto.tables import SubjectDataKey
from control_plane.store.engine import create_engine
from control_plane.store.migrate import upgrade_database
from control_plane.store.uow import unit_of_work
from tests.support.app import FrozenClock

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _ring(tmp_path: Path, kek: bytes, previous: bytes | None = None) -> KeyRing:
    ring = load_key_ring(KeySettings(), tmp_path / "keys", is_development=True)
    return KeyRing(
        pseudonym_key=ring.pseudonym_key,
        session_secret=ring.session_secret,
        kek=kek,
        audit_signing_key=ring.audit_signing_key,
        receipt_signing_key=ring.receipt_signing_key,
        worker_credential_key=ring.worker_credential_key,
        is_development=True,
        previous_kek=previous,
    )


async def test_rotation_rewraps_every_key_and_retires_old_backups(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    await upgrade_database(database_url)
    engine = create_engine(database_url)
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    before = _ring(tmp_path, old)
    subjects = [f"sub_{i:032x}" for i in range(5)]
    blobs: dict[str, bytes] = {}
    try:
        async with unit_of_work(engine) as tx:
            for subject in subjects:
                key = await ensure_data_key(tx, keys=before, subject_id=subject, now=clock())
                blobs[subject] = encrypt(key, b"<PERSON_1> said hi", table="t", record_id="r")
        async with unit_of_work(engine) as tx:
            backup = {
                r.subject_id: r.wrapped_key for r in (await tx.exec(select(SubjectDataKey))).all()
            }
        # Replicas hold the new KEK as current and the old one as previous during the roll.
        during = _ring(tmp_path, new, previous=old)
        report = await rotate_kek(
            engine, target=new, sources=during.keks(), actor="operator:test", now=clock()
        )
        assert report.rewrapped == 5
        assert report.is_complete
        after = _ring(tmp_path, new)
        async with unit_of_work(engine) as tx:
            rows = (await tx.exec(select(SubjectDataKey))).all()
            assert {r.kek_id for r in rows} == {kek_id(new)}
            for subject in subjects:
                found = await find_data_key(tx, keys=after, subject_id=subject)
                assert found is not None
                assert decrypt(found, blobs[subject], table="t", record_id="r") == (
                    b"<PERSON_1> said hi"
                )
            rotated = (
                await tx.exec(
                    select(AuditRecord).where(col(AuditRecord.event_type) == "crypto.key_rotated")
                )
            ).all()
            assert [r.details["rewrapped"] for r in rotated] == [5]
        # A backup of the key table from before the rotation needs the old KEK: once it is
        # destroyed, the new KEK cannot open those wraps.
        for subject, wrapped in backup.items():
            with pytest.raises(EnvelopeError):
                unwrap_data_key(new, wrapped, subject_id=subject)
        # Running again is a no-op; a wrap under an unknown KEK is reported, not lost.
        again = await rotate_kek(engine, target=new, sources=after.keks(), actor="t", now=clock())
        assert again.rewrapped == 0
        stranger = secrets.token_bytes(32)
        async with unit_of_work(engine) as tx:
            await ensure_data_key(
                tx, keys=_ring(tmp_path, stranger), subject_id="sub_x", now=clock()
            )
        partial = await rotate_kek(engine, target=new, sources=after.keks(), actor="t", now=clock())
        assert partial.unknown_kek == {kek_id(stranger): 1}
        assert not partial.is_complete
    finally:
        await engine.dispose()
