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

# Deleted: rows whose JSON text names the subject as a LiveKit participant identity (the
# pseudonym, or a derived "<pseudonym>#n"). Stored webhook bodies are re-serialised
# compactly on intake (livekit.webhook), so the identity appears as ``"identity":"<id>``.
SUBJECT_TEXT: tuple[tuple[str, str], ...] = (("livekit_webhook_event", "body"),)

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
    return frozenset(
        {*SUBJECT_ROWS, *SUBJECT_TEXT, OWNER_COLUMN, *RETAINED, ("subject", "id"), DATA_KEY_COLUMN}
    )


# Columns that could hold text from outside (JSON, long strings, bodies, ciphertext), and
# what keeps a subject's personal data out of them or within erasure's reach. Erasure
# can only delete rows it can find by pseudonym: free text typed by a client (a name, a
# card number in a lock reason, an IdP error, a request id, a track name) would outlive
# it in the immutable audit chain or a stored body (T-PRIV-4, T-PRIV-5). The data map
# test requires every such column here (or in SUBJECT_ROWS/RETAINED).
FREE_TEXT_GUARDS: Mapping[tuple[str, str], str] = {
    ("audit_record", "reason"): "built by the control plane from closed codes, rule names and "
    "pseudonyms; IdP errors are RFC 6749 codes or 'other', lock reasons closed codes",
    ("audit_record", "details"): "ids, counts, codes and pseudonyms; LiveKit identities and "
    "room names are chosen by holders of the LiveKit secret (ours are pseudonyms)",
    ("audit_record", "target"): "session ids, pseudonyms or room names (see details)",
    ("audit_record", "tenant"): "the tenant id from the IdP's tenant claim",
    ("audit_record", "policy_version"): "a digest of the policy set",
    ("audit_checkpoint", "signature"): "an Ed25519 signature",
    ("anomaly", "evidence"): "ids, counts and pseudonyms (risk.anomaly.raise_anomaly)",
    ("anomaly", "tenant"): "the tenant id",
    ("subject", "status_reason"): "a closed code (sessions.types.StatusReason) or an anomaly "
    "rule and id; the row itself is deleted on erasure",
    ("subject", "tenant"): "the tenant id",
    ("browser_session", "groups"): "the IdP's group names; deleted with the subject's rows",
    ("browser_session", "amr"): "RFC 8176 method names; deleted with the subject's rows",
    ("browser_session", "acr"): "the IdP's assurance class; deleted with the subject's rows",
    ("browser_session", "tenant"): "the tenant id; deleted with the subject's rows",
    ("pending_login", "nonce"): "random; expires with the login (minutes)",
    ("pending_login", "code_verifier"): "random; expires with the login (minutes)",
    ("pending_login", "return_to"): "a same-origin path checked by identity.return_to (printable "
    "ASCII, bounded); expires with the login (minutes)",
    ("subject_suppression", "tenant"): "the tenant id (kept so a suppressed lock stays scoped)",
    ("livekit_webhook_event", "body"): "stored with client-chosen names, metadata, attributes, "
    "track and stream names stripped (livekit.webhook.strip_client_fields); a body naming "
    "the subject as a participant is deleted on erasure (SUBJECT_TEXT), the rest purged by "
    "retention (webhook_body)",
    ("livekit_webhook_event", "room_name"): "a room name (see audit_record.details)",
    ("livekit_participation", "reasons"): "closed JoinReason codes",
    ("livekit_participation", "granted_sources"): "LiveKit track source names",
    ("livekit_participation", "room_name"): "a room name (see audit_record.details)",
    ("livekit_remediation_task", "reason"): "rule names and closed codes",
    ("livekit_remediation_task", "room_name"): "a room name (see audit_record.details)",
    ("livekit_removal", "reason"): "rule names and closed codes",
    ("livekit_removal", "room_name"): "a room name or '*'",
    ("transcript_segment", "redacted_ct"): "ciphertext under the subject's data key "
    "(crypto-shredded on erasure); the row is deleted too",
    ("transcript_segment", "raw_ct"): "ciphertext under the subject's data key",
    ("transcript_segment", "entity_counts"): "counts per entity type",
    ("transcript_session", "entity_counts"): "counts per entity type",
    ("transcript_session", "final_pass_counts"): "counts per entity type",
    ("transcript_session", "placeholder_ct"): "ciphertext under the subject's data key",
    ("subject_data_key", "wrapped_key"): "the wrapped data key itself (destroyed on erasure)",
    ("erasure_request", "counts"): "counts per table",
    ("erasure_request", "receipt"): "the signed receipt: ids, counts, pseudonyms",
    ("erasure_request", "reason"): "set by the control plane (status text)",
    ("erasure_request", "tenant"): "the tenant id",
    ("voice_session", "end_reason"): "set by the control plane (room finished, by request, …)",
    ("voice_session", "tenant"): "the tenant id",
    ("mint_ledger", "grants"): "the grants the control plane computed",
    ("mint_ledger", "policy_version"): "a digest of the policy set",
    ("turn_metric", "tool_calls"): "tool names restricted to [A-Za-z0-9_.:-] and durations",
    ("turn_metric", "turn_id"): "an id restricted to [A-Za-z0-9_.:-]",
    ("turn_metric", "agent"): "the configured agent name",
    ("worker_credential", "worker_id"): "an id the control plane issues",
    ("agent_worker", "supervisor_id"): "an id the control plane issues",
}
