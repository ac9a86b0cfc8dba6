"""Loading, STRICT validation, versioning and reload of the real policy set."""

from __future__ import annotations

from pathlib import Path

import pytest

from control_plane.authz.engine import (
    SCHEMA_FILE,
    PolicySnapshot,
    PolicyStore,
    build_snapshot,
    compute_version,
    load_snapshot,
    read_policy_files,
)
from control_plane.authz.errors import PolicySetInvalid, PolicySetUnavailable

from .factories import POLICY_DIR


def _append(directory: Path, name: str, text: str) -> None:
    path = directory / name
    path.write_text(path.read_text(encoding="utf-8") + text if path.exists() else text)


def test_real_policy_set_loads_with_every_policy_named(snapshot: PolicySnapshot) -> None:
    ids = [p.policy_id for p in snapshot.policies]
    assert len(ids) == len(set(ids)) >= 30
    assert len(snapshot.policy_set) == len(ids)
    assert snapshot.version.startswith("sha256:")
    assert len(snapshot.version) == len("sha256:") + 64


def test_version_is_a_pure_function_of_the_content(snapshot: PolicySnapshot) -> None:
    assert load_snapshot(POLICY_DIR).version == snapshot.version
    files, schema = read_policy_files(POLICY_DIR)
    assert compute_version(files, schema) == snapshot.version


def test_version_changes_when_a_policy_file_changes(policy_copy: Path) -> None:
    before = load_snapshot(policy_copy).version
    _append(policy_copy, "member.cedar", "\n// reviewed\n")
    assert load_snapshot(policy_copy).version != before


def test_version_changes_when_the_schema_changes(policy_copy: Path) -> None:
    before = load_snapshot(policy_copy).version
    _append(policy_copy, SCHEMA_FILE, "\n// reviewed\n")
    assert load_snapshot(policy_copy).version != before


def test_version_changes_when_a_file_is_renamed(policy_copy: Path) -> None:
    before = load_snapshot(policy_copy).version
    (policy_copy / "agent.cedar").rename(policy_copy / "agents.cedar")
    assert load_snapshot(policy_copy).version != before


def test_version_framing_separates_name_and_content() -> None:
    assert compute_version({"a.cedar": "bc"}, "") != compute_version({"ab.cedar": "c"}, "")


def test_syntax_error_refuses_to_load(policy_copy: Path) -> None:
    _append(policy_copy, "broken.cedar", '@id("broken")\npermit (principal, action, resource\n')
    with pytest.raises(PolicySetInvalid) as info:
        load_snapshot(policy_copy)
    assert any(p.startswith("broken.cedar:") for p in info.value.problems)


def test_unknown_attribute_fails_strict_validation(policy_copy: Path) -> None:
    _append(
        policy_copy,
        "extra.cedar",
        '@id("uses-unknown-attr")\n'
        'permit (principal is User, action == Action::"join", resource is Session)\n'
        'when { principal.department == "sales" };\n',
    )
    with pytest.raises(PolicySetInvalid) as info:
        load_snapshot(policy_copy)
    assert any(
        p.startswith("uses-unknown-attr:") and "department" in p for p in info.value.problems
    )


def test_unknown_action_fails_strict_validation(policy_copy: Path) -> None:
    _append(
        policy_copy,
        "extra.cedar",
        '@id("x")\npermit (principal, action == Action::"fly", resource);\n',
    )
    with pytest.raises(PolicySetInvalid, match="fly"):
        load_snapshot(policy_copy)


def test_policy_without_id_is_refused(policy_copy: Path) -> None:
    _append(policy_copy, "extra.cedar", "permit (principal, action, resource);\n")
    with pytest.raises(PolicySetInvalid, match="no @id"):
        load_snapshot(policy_copy)


def test_duplicate_id_is_refused(policy_copy: Path) -> None:
    _append(
        policy_copy,
        "extra.cedar",
        '@id("admin-end-session")\nforbid (principal, action, resource);\n',
    )
    with pytest.raises(PolicySetInvalid, match="duplicate @id"):
        load_snapshot(policy_copy)


def test_templates_are_refused(policy_copy: Path) -> None:
    _append(
        policy_copy,
        "extra.cedar",
        '@id("t")\npermit (principal == ?principal, action, resource);\n',
    )
    with pytest.raises(PolicySetInvalid, match="templates"):
        load_snapshot(policy_copy)


def test_missing_schema_is_refused(policy_copy: Path) -> None:
    (policy_copy / SCHEMA_FILE).unlink()
    with pytest.raises(PolicySetInvalid, match="cannot read"):
        load_snapshot(policy_copy)


def test_invalid_schema_is_refused() -> None:
    with pytest.raises(PolicySetInvalid, match=SCHEMA_FILE):
        build_snapshot(
            {"a.cedar": '@id("a") permit (principal, action, resource);'}, "entity X { a: Nope };"
        )


def test_empty_policy_set_is_refused() -> None:
    _, schema = read_policy_files(POLICY_DIR)
    with pytest.raises(PolicySetInvalid, match="no policies"):
        build_snapshot({}, schema)


def test_empty_store_fails_closed() -> None:
    store = PolicyStore()
    with pytest.raises(PolicySetUnavailable):
        _ = store.current
    with pytest.raises(PolicySetUnavailable):
        store.reload()


def test_open_refuses_an_invalid_directory(policy_copy: Path) -> None:
    _append(policy_copy, "member.cedar", "this is not cedar")
    with pytest.raises(PolicySetInvalid):
        PolicyStore.open(policy_copy)


def test_reload_swaps_in_a_valid_change(policy_copy: Path) -> None:
    store = PolicyStore.open(policy_copy)
    old = store.current
    _append(policy_copy, "admin.cedar", "\n// reviewed\n")
    new = store.reload()
    assert store.current is new
    assert new.version != old.version


def test_reload_with_an_invalid_set_keeps_the_old_snapshot(policy_copy: Path) -> None:
    store = PolicyStore.open(policy_copy)
    old = store.current
    _append(
        policy_copy,
        "admin.cedar",
        '\n@id("bad")\npermit (principal, action, resource) when { resource.nope };\n',
    )
    with pytest.raises(PolicySetInvalid):
        store.reload()
    assert store.current is old
    assert store.directory == policy_copy
