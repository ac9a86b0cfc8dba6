"""The data map: every stored table, its retention class and the clock that starts it.

Pure data, no I/O. The reconciler (``retention.py``) enforces it; the completeness test
(``tests/unit/privacy/test_data_map.py``) fails when a table in the store metadata is
neither mapped here nor exempted with a reason, or when a mapped column does not exist.
Another domain that adds a table adds one ``RetentionTarget`` (or a cascade entry) here.
The reconciler skips a mapped table that is absent from the metadata, and logs
``retention.target_unusable`` for a mapped column that is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from control_plane.config import RetentionSettings


class RetentionClass(StrEnum):
    RAW_TRANSCRIPT = "raw_transcript"
    REDACTED_TRANSCRIPT = "redacted_transcript"
    SESSION_METADATA = "session_metadata"
    WEBHOOK_BODY = "webhook_body"
    AUDIT_RECORD = "audit_record"
    METRICS = "metrics"


PERIOD_SETTING: Mapping[RetentionClass, str] = {
    RetentionClass.RAW_TRANSCRIPT: "raw_transcript_seconds",
    RetentionClass.REDACTED_TRANSCRIPT: "redacted_transcript_seconds",
    RetentionClass.SESSION_METADATA: "session_metadata_seconds",
    RetentionClass.WEBHOOK_BODY: "webhook_body_seconds",
    RetentionClass.AUDIT_RECORD: "audit_record_seconds",
    RetentionClass.METRICS: "metrics_seconds",
}


def period_seconds(settings: RetentionSettings, retention_class: RetentionClass) -> int:
    """The configured retention period of a class."""
    return int(getattr(settings, PERIOD_SETTING[retention_class]))


@dataclass(frozen=True)
class RetentionTarget:
    """Rows of ``table`` whose ``clock`` is older than the class's period are purged.

    ``clear`` purges by setting those columns to NULL (the row stays: e.g. the raw text of
    a segment whose redacted text is kept longer). ``only_if_set`` limits the purge to
    rows where that column is not NULL (finished work). A legal hold on the subject in
    ``subject_column`` or on the session in ``session_column`` suspends the purge.
    """

    retention_class: RetentionClass
    table: str
    clock: str
    clear: tuple[str, ...] = ()
    only_if_set: str | None = None
    subject_column: str | None = None
    session_column: str | None = None


RC = RetentionClass

TARGETS: tuple[RetentionTarget, ...] = (
    RetentionTarget(
        RC.RAW_TRANSCRIPT,
        "transcript_segment",
        "created_at",
        clear=("raw_ct",),
        only_if_set="raw_ct",
        subject_column="subject_id",
        session_column="session_id",
    ),
    RetentionTarget(
        RC.REDACTED_TRANSCRIPT,
        "transcript_segment",
        "finalized_at",
        subject_column="subject_id",
        session_column="session_id",
    ),
    RetentionTarget(
        RC.SESSION_METADATA,
        "voice_session",
        "finalized_at",
        subject_column="owner_subject_id",
        session_column="id",
    ),
    RetentionTarget(
        RC.SESSION_METADATA,
        "mint_ledger",
        "expires_at",
        subject_column="subject_id",
        session_column="session_id",
    ),
    RetentionTarget(
        RC.SESSION_METADATA, "worker_credential", "expires_at", session_column="session_id"
    ),
    # A supervised worker slot: kept while supervised, then like session metadata.
    RetentionTarget(RC.SESSION_METADATA, "agent_worker", "stopped_at"),
    RetentionTarget(
        RC.SESSION_METADATA,
        "browser_session",
        "absolute_expires_at",
        subject_column="subject_id",
    ),
    RetentionTarget(RC.SESSION_METADATA, "pending_login", "expires_at"),
    RetentionTarget(
        RC.SESSION_METADATA,
        "livekit_participation",
        "updated_at",
        subject_column="subject_id",
        session_column="session_id",
    ),
    RetentionTarget(
        RC.SESSION_METADATA,
        "livekit_remediation_task",
        "created_at",
        only_if_set="done_at",
        subject_column="subject_id",
        session_column="session_id",
    ),
    RetentionTarget(RC.SESSION_METADATA, "livekit_removal", "expires_at"),
    RetentionTarget(RC.WEBHOOK_BODY, "livekit_webhook_event", "received_at"),
    RetentionTarget(
        RC.AUDIT_RECORD,
        "anomaly",
        "created_at",
        subject_column="subject_id",
        session_column="session_id",
    ),
    RetentionTarget(RC.AUDIT_RECORD, "erasure_request", "requested_at"),
    RetentionTarget(
        RC.METRICS,
        "session_metric",
        "created_at",
        session_column="session_id",
    ),
    RetentionTarget(
        RC.METRICS,
        "turn_metric",
        "created_at",
        session_column="session_id",
    ),
)

# Purged through the audit domain (prefix-only, checkpoint-covered): never deleted directly.
AUDIT_CHAIN_TABLES: frozenset[str] = frozenset({"audit_record", "audit_checkpoint"})

# Rows that belong to a session and go when the session's metadata goes (children first).
SESSION_CASCADE: tuple[tuple[str, str], ...] = (
    ("transcript_segment", "session_id"),
    ("transcript_session", "session_id"),
    ("session_member", "session_id"),
    ("session_invite", "session_id"),
    ("mint_ledger", "session_id"),
    ("worker_credential", "session_id"),
    ("agent_dispatch", "session_id"),
    ("livekit_participation", "session_id"),
    ("session_metric", "session_id"),
    ("turn_metric", "session_id"),
)

# Tables with no clock of their own, and why (checked by the completeness test).
LIFETIME_BOUND: Mapping[str, str] = {
    "subject": "the account itself: lives until the subject's erasure",
    "subject_data_key": "lives and dies with its subject (crypto-shredding on erasure)",
    "subject_suppression": (
        "a lock that outlives the subject's erasure: deleted when the subject is unlocked"
    ),
}


def covered_tables() -> frozenset[str]:
    """Every table the map accounts for."""
    return frozenset(
        {t.table for t in TARGETS}
        | {table for table, _ in SESSION_CASCADE}
        | AUDIT_CHAIN_TABLES
        | set(LIFETIME_BOUND)
    )
