"""Completeness: every audit event type has a schema and maps to a valid OCSF 1.x event
carrying its class's required attributes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from control_plane.audit.ocsf import ACTIVITY_NAMES, end_marker, is_end_marker, to_ocsf
from control_plane.audit.tables import AuditRecord
from control_plane.audit.types import EVENT_SCHEMAS, AuditEventType, OcsfClass

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BASE_REQUIRED = {
    "activity_id",
    "category_uid",
    "class_uid",
    "metadata",
    "severity_id",
    "time",
    "type_uid",
}
CLASS_REQUIRED = {
    OcsfClass.AUTHENTICATION: {"user"},
    OcsfClass.ACCOUNT_CHANGE: {"user"},
    OcsfClass.API_ACTIVITY: {"actor", "api", "src_endpoint"},
}


def _record(event_type: AuditEventType, **overrides: Any) -> AuditRecord:
    # Any: keyword overrides of record fields.
    schema = EVENT_SCHEMAS[event_type]
    fields: dict[str, Any] = {
        "seq": 42,
        "id": "a" * 32,
        "ts": T0,
        "event_type": event_type.value,
        "outcome": "success",
        "actor": "sub_abc",
        "target": "ses_1",
        "reason": "because",
        "details": {name: "x" for name in schema.required},
        "tenant": "acme",
        "prev_hash": "0" * 64,
        "hash": "1" * 64,
        **overrides,
    }
    return AuditRecord.model_validate(fields)


def test_every_event_type_has_a_schema_with_a_named_activity() -> None:
    assert set(EVENT_SCHEMAS) == set(AuditEventType)
    for event_type, schema in EVENT_SCHEMAS.items():
        assert schema.activity_id in ACTIVITY_NAMES[schema.ocsf_class], event_type


@pytest.mark.parametrize("event_type", list(AuditEventType))
@pytest.mark.parametrize("actor", ["sub_abc", None])
def test_every_event_type_maps_to_its_ocsf_class(
    event_type: AuditEventType, actor: str | None
) -> None:
    event = to_ocsf(_record(event_type, actor=actor), product_version="9.9.9")
    schema = EVENT_SCHEMAS[event_type]
    assert set(event) >= BASE_REQUIRED
    assert CLASS_REQUIRED[schema.ocsf_class] <= set(event)
    assert event["class_uid"] == int(schema.ocsf_class.value)
    assert event["type_uid"] == event["class_uid"] * 100 + event["activity_id"]
    assert event["category_uid"] == event["class_uid"] // 1000
    assert event["metadata"]["version"].startswith("1.")
    assert event["metadata"]["product"]["vendor_name"]
    assert event["metadata"]["sequence"] == 42
    assert event["time"] == int(T0.timestamp() * 1000)
    if schema.ocsf_class is OcsfClass.AUTHENTICATION:
        assert "service" in event or "dst_endpoint" in event  # OCSF at_least_one
        assert event["user"]["uid"]
    if schema.ocsf_class is OcsfClass.API_ACTIVITY:
        assert event["api"]["operation"] == event_type.value
        assert event["actor"]  # OCSF actor: at least one of user, app_name, ...
        assert event["src_endpoint"]


def test_outcome_and_severity() -> None:
    failed = to_ocsf(_record(AuditEventType.BEARER_REJECTED, outcome="failure"), product_version="")
    assert (failed["status_id"], failed["status"], failed["severity_id"]) == (2, "Failure", 3)
    assert failed["auth_protocol_id"] == 6
    anomaly = to_ocsf(
        _record(AuditEventType.ANOMALY, details={"rule": "r", "severity": "critical"}),
        product_version="",
    )
    assert anomaly["severity_id"] == 5
    login = to_ocsf(
        _record(AuditEventType.LOGIN, details={"amr": ["pwd", "otp"]}), product_version=""
    )
    assert (login["activity_name"], login["is_mfa"], login["auth_protocol"]) == (
        "Logon",
        True,
        "OpenID",
    )
    locked = to_ocsf(
        _record(AuditEventType.SUBJECT_LOCKED, actor="sub_admin", target="sub_victim"),
        product_version="",
    )
    assert (locked["type_uid"], locked["user"]["uid"]) == (300109, "sub_victim")
    assert locked["actor"]["user"]["uid"] == "sub_admin"


def test_addresses_leave_only_as_keyed_hashes() -> None:
    event = to_ocsf(
        _record(AuditEventType.BEARER_REJECTED, details={"address": "addr_9f3c", "path": "/v1"}),
        product_version="",
    )
    assert event["src_endpoint"] == {"uid": "addr_9f3c"}


def test_end_marker_is_recognised() -> None:
    marker = end_marker(
        after_seq=0,
        last_seq=5,
        count=5,
        has_more=False,
        head_seq=5,
        now=T0,
        product_version="",
    )
    assert is_end_marker(marker)
    assert marker["type_uid"] == 99
    assert not is_end_marker(to_ocsf(_record(AuditEventType.LOGIN), product_version=""))
