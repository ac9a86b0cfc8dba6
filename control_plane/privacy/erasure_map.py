"""Which rows belong to a data subject (deleted on erasure) and which are kept, and why.

Pure data. The completeness test walks every table of the store metadata: any column that
can hold a subject pseudonym (``SUBJECT_COLUMNS``) must be listed in ``SUBJECT_ROWS`` or in
``RETAINED`` with its legal ground. Sessions the subject owns go whole (with every row that
belongs to them: ``retention_map.SESSION_CASCADE``).
"""

from __future__ import annotations

from collections.abc import Mapping

SUBJECT_COLUMNS: frozenset[str] = frozenset(
    {"subject_id", "owner_subject_id", "created_by", "used_by", "requested_by", "identity", "actor"}
)

# Deleted: rows where ``column`` equals the subject's pseudonym (after its owned sessions).
SUBJECT_ROWS: tuple[tuple[str, str], ...] = (
    ("transcript_segment", "subject_id"),
    ("transcript_session", "subject_id"),
    ("session_member", "subject_id"),
    ("session_invite", "created_by"),
    ("session_invite", "used_by"),
    ("mint_ledger", "subject_id"),
    ("mint_ledger", "identity"),
    ("browser_session", "subject_id"),
    ("livekit_participation", "subject_id"),
    ("livekit_participation", "identity"),
)

# Crypto-shredded: the subject's wrapped data key is destroyed first.
DATA_KEY_COLUMN = ("subject_data_key", "subject_id")

# Owned sessions: deleted with their whole cascade.
OWNER_COLUMN = ("voice_session", "owner_subject_id")

# Kept on erasure (pseudonymous only), with the reason.
RETAINED: Mapping[tuple[str, str], str] = {
    ("audit_record", "actor"): (
        "the tamper-evident audit chain holds pseudonyms only and must stay verifiable"
    ),
    ("anomaly", "subject_id"): (
        "security evidence (Art. 17(3)(e)); pseudonymous; purged by retention (audit_record)"
    ),
    ("erasure_request", "subject_id"): "the record of the erasure itself (Art. 5(2))",
    ("erasure_request", "requested_by"): "the record of the erasure itself (Art. 5(2))",
    ("livekit_remediation_task", "subject_id"): (
        "pending removals from LiveKit must still run; purged by retention when done"
    ),
    ("livekit_remediation_task", "identity"): (
        "pending removals from LiveKit must still run; purged by retention when done"
    ),
    ("livekit_removal", "identity"): (
        "the re-kick list keeps a removed identity out until its last token expires"
    ),
    ("subject_suppression", "subject_id"): (
        "a locked subject stays locked after its erasure (Art. 17(3)(e), security): "
        "pseudonym, tenant and a reason code only; deleted at unlock"
    ),
}


def handled_columns() -> frozenset[tuple[str, str]]:
    """Every (table, column) the erasure accounts for."""
    return frozenset({*SUBJECT_ROWS, OWNER_COLUMN, *RETAINED, ("subject", "id"), DATA_KEY_COLUMN})
