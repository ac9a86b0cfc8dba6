"""Pure mapping of audit records to OCSF 1.x events (Authentication 3002, Account Change
3001, API Activity 6003) for SIEM export."""

from __future__ import annotations

from typing import Any

from control_plane.audit.chain import canonical_ts
from control_plane.audit.tables import AuditRecord
from control_plane.audit.types import EVENT_SCHEMAS, AuditEventType, OcsfClass, Outcome

_CATEGORY = {OcsfClass.AUTHENTICATION: 3, OcsfClass.ACCOUNT_CHANGE: 3, OcsfClass.API_ACTIVITY: 6}
_STATUS = {Outcome.SUCCESS.value: (1, "Success"), Outcome.FAILURE.value: (2, "Failure")}


def to_ocsf(record: AuditRecord, *, product_version: str) -> dict[str, Any]:
    """One OCSF event; the chain hash and sequence travel along for end-to-end checks."""
    # Any: OCSF events are free-form JSON objects.
    schema = EVENT_SCHEMAS[AuditEventType(record.event_type)]
    class_uid = int(schema.ocsf_class.value)
    status_id, status = _STATUS.get(record.outcome, (2, "Failure"))
    ts = record.ts
    return {
        "class_uid": class_uid,
        "category_uid": _CATEGORY[schema.ocsf_class],
        "activity_id": schema.activity_id,
        "type_uid": class_uid * 100 + schema.activity_id,
        "severity_id": 1 if record.outcome == Outcome.SUCCESS.value else 3,
        "time": int(ts.timestamp() * 1000),
        "time_dt": canonical_ts(ts),
        "status_id": status_id,
        "status": status,
        "status_detail": record.reason,
        "message": record.event_type,
        "actor": {"user": {"uid": record.actor}} if record.actor else {},
        "metadata": {
            "uid": record.id,
            "sequence": record.seq,
            "product": {"name": "control-plane", "vendor_name": "control-plane"},
            "version": "1.3.0",
            "product_version": product_version,
            "correlation_uid": record.request_id,
        },
        "unmapped": {
            "event_type": record.event_type,
            "outcome": record.outcome,
            "target": record.target,
            "decision_id": record.decision_id,
            "policy_version": record.policy_version,
            "details": record.details,
            "prev_hash": record.prev_hash,
            "hash": record.hash,
        },
    }
