"""Pure mapping of audit records to OCSF 1.3 events for SIEM export.

Classes (peers-and-standards §3.4): Authentication 3002 and Account Change 3001 (category
3, Identity & Access Management) and API Activity 6003 (category 6, Application
Activity); ``type_uid = class_uid * 100 + activity_id``. Each event carries the class's
required attributes: Authentication ``user`` plus ``service`` (its at-least-one of
service/dst_endpoint); Account Change ``user`` (the account changed); API Activity
``actor``, ``api.operation`` and ``src_endpoint``. Subjects appear only as pseudonyms
(``user.uid``) and client addresses only as keyed hashes (``src_endpoint.uid``): the
audit log holds nothing more. The chain fields (``metadata.sequence``, ``unmapped.hash``,
``unmapped.prev_hash``) travel along so a SIEM can check continuity across bundles.

A bundle ends with one Base Event (class 0, activity 99) whose ``unmapped.cp_export``
says where it stopped, so a consumer knows the bundle is complete and where to resume.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from control_plane.audit.chain import canonical_ts
from control_plane.audit.tables import AuditRecord
from control_plane.audit.types import EVENT_SCHEMAS, AuditEventType, OcsfClass, Outcome

OCSF_VERSION = "1.3.0"
PRODUCT_NAME = "control-plane"

_CLASS_NAMES = {
    OcsfClass.AUTHENTICATION: "Authentication",
    OcsfClass.ACCOUNT_CHANGE: "Account Change",
    OcsfClass.API_ACTIVITY: "API Activity",
}
_CATEGORY = {
    OcsfClass.AUTHENTICATION: (3, "Identity & Access Management"),
    OcsfClass.ACCOUNT_CHANGE: (3, "Identity & Access Management"),
    OcsfClass.API_ACTIVITY: (6, "Application Activity"),
}
ACTIVITY_NAMES: Mapping[OcsfClass, Mapping[int, str]] = {
    OcsfClass.AUTHENTICATION: {1: "Logon", 2: "Logoff", 3: "Authentication Ticket"},
    OcsfClass.ACCOUNT_CHANGE: {
        1: "Create",
        2: "Enable",
        5: "Disable",
        6: "Delete",
        9: "Lock",
    },
    OcsfClass.API_ACTIVITY: {1: "Create", 2: "Read", 3: "Update", 4: "Delete"},
}
_STATUS = {Outcome.SUCCESS.value: (1, "Success")}
_SEVERITY_NAMES = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
_ANOMALY_SEVERITY = {"low": 2, "medium": 3, "high": 4, "critical": 5}
# OCSF auth_protocol_id: 4 OpenID (browser login), 6 OAUTH 2.0 (bearer access tokens).
_AUTH_PROTOCOL = {
    AuditEventType.LOGIN: (4, "OpenID"),
    AuditEventType.LOGIN_FAILED: (4, "OpenID"),
    AuditEventType.LOGOUT: (4, "OpenID"),
    AuditEventType.BROWSER_SESSION_REVOKED: (4, "OpenID"),
    AuditEventType.BEARER_REJECTED: (6, "OAUTH 2.0"),
}
MFA_METHODS = frozenset({"mfa", "otp", "hwk", "sc"})


def _severity(record: AuditRecord) -> int:
    if record.event_type == AuditEventType.ANOMALY.value:
        return _ANOMALY_SEVERITY.get(str(record.details.get("severity")), 3)
    return 1 if record.outcome == Outcome.SUCCESS.value else 3


def _user(uid: str | None) -> dict[str, Any]:
    # Any: OCSF objects are free-form JSON.
    if uid:
        return {"uid": uid, "type_id": 1, "type": "User"}
    return {"uid": "unknown", "type_id": 0, "type": "Unknown"}


def _src_endpoint(record: AuditRecord) -> dict[str, Any]:
    address = record.details.get("address")
    if isinstance(address, str):
        return {"uid": address}  # a keyed hash of the client address, never the address
    return {"svc_name": PRODUCT_NAME}


def _class_fields(record: AuditRecord, event_type: AuditEventType) -> dict[str, Any]:
    schema = EVENT_SCHEMAS[event_type]
    if schema.ocsf_class is OcsfClass.AUTHENTICATION:
        protocol_id, protocol = _AUTH_PROTOCOL.get(event_type, (99, "Other"))
        amr = record.details.get("amr")
        fields: dict[str, Any] = {
            "user": _user(record.actor),
            "service": {"name": PRODUCT_NAME},
            "auth_protocol_id": protocol_id,
            "auth_protocol": protocol,
            "is_remote": True,
            "src_endpoint": _src_endpoint(record),
        }
        if isinstance(amr, list):
            fields["is_mfa"] = bool(MFA_METHODS.intersection(str(m) for m in amr))
        return fields
    if schema.ocsf_class is OcsfClass.ACCOUNT_CHANGE:
        fields = {"user": _user(record.target or record.actor)}
        if record.actor:
            fields["actor"] = {"user": _user(record.actor)}
        return fields
    return {
        "actor": {"user": _user(record.actor)} if record.actor else {"app_name": PRODUCT_NAME},
        "api": {"operation": event_type.value, "service": {"name": PRODUCT_NAME}},
        "src_endpoint": _src_endpoint(record),
        **({"resources": [{"uid": record.target}]} if record.target else {}),
    }


def _metadata(product_version: str, **extra: object) -> dict[str, Any]:
    return {
        "product": {
            "name": PRODUCT_NAME,
            "vendor_name": PRODUCT_NAME,
            "version": product_version,
        },
        "version": OCSF_VERSION,
        "log_name": "audit",
        **{k: v for k, v in extra.items() if v is not None},
    }


def to_ocsf(record: AuditRecord, *, product_version: str) -> dict[str, Any]:
    """One OCSF event for one audit record (every ``AuditEventType`` maps)."""
    # Any: OCSF events are free-form JSON objects.
    event_type = AuditEventType(record.event_type)
    schema = EVENT_SCHEMAS[event_type]
    class_uid = int(schema.ocsf_class.value)
    category_uid, category_name = _CATEGORY[schema.ocsf_class]
    activity = ACTIVITY_NAMES[schema.ocsf_class][schema.activity_id]
    status_id, status = _STATUS.get(record.outcome, (2, "Failure"))
    severity_id = _severity(record)
    return {
        "class_uid": class_uid,
        "class_name": _CLASS_NAMES[schema.ocsf_class],
        "category_uid": category_uid,
        "category_name": category_name,
        "activity_id": schema.activity_id,
        "activity_name": activity,
        "type_uid": class_uid * 100 + schema.activity_id,
        "type_name": f"{_CLASS_NAMES[schema.ocsf_class]}: {activity}",
        "severity_id": severity_id,
        "severity": _SEVERITY_NAMES[severity_id],
        "time": int(record.ts.timestamp() * 1000),
        "time_dt": canonical_ts(record.ts),
        "status_id": status_id,
        "status": status,
        "status_detail": record.reason,
        "message": record.event_type,
        "metadata": _metadata(
            product_version,
            uid=record.id,
            sequence=record.seq,
            correlation_uid=record.request_id,
            tenant_uid=record.tenant,
        ),
        **_class_fields(record, event_type),
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


def end_marker(
    *,
    after_seq: int,
    last_seq: int,
    count: int,
    has_more: bool,
    head_seq: int | None,
    now: datetime,
    product_version: str,
) -> dict[str, Any]:
    """The bundle's last line: a Base Event saying the bundle is complete and where the
    next export resumes (``--after last_seq``)."""
    return {
        "class_uid": 0,
        "class_name": "Base Event",
        "category_uid": 0,
        "category_name": "Uncategorized",
        "activity_id": 99,
        "activity_name": "Other",
        "type_uid": 99,
        "type_name": "Base Event: Other",
        "severity_id": 1,
        "severity": "Informational",
        "time": int(now.timestamp() * 1000),
        "time_dt": canonical_ts(now),
        "status_id": 1,
        "status": "Success",
        "message": "export.end",
        "metadata": _metadata(product_version),
        "unmapped": {
            "cp_export": {
                "end": True,
                "after_seq": after_seq,
                "last_seq": last_seq,
                "count": count,
                "has_more": has_more,
                "head_seq": head_seq,
            }
        },
    }


def is_end_marker(event: Mapping[str, Any]) -> bool:
    """True for the line that closes an export bundle."""
    unmapped = event.get("unmapped")
    return (
        event.get("class_uid") == 0
        and isinstance(unmapped, Mapping)
        and isinstance(unmapped.get("cp_export"), Mapping)
        and unmapped["cp_export"].get("end") is True
    )
