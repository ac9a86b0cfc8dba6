"""Completeness: every stored table has a retention period, every subject column an
erasure rule (STYLE.md "completeness tests keep invariants honest")."""

from __future__ import annotations

import sqlalchemy as sa

from control_plane.config import RetentionSettings
from control_plane.privacy.erasure_map import FREE_TEXT_GUARDS, SUBJECT_COLUMNS, handled_columns
from control_plane.privacy.retention_map import (
    LIFETIME_BOUND,
    SESSION_CASCADE,
    TARGETS,
    RetentionClass,
    covered_tables,
    period_seconds,
)
from control_plane.store.metadata import load_metadata


def test_every_stored_table_has_a_retention_period() -> None:
    tables = set(load_metadata().tables)
    missing = sorted(tables - covered_tables())
    assert missing == [], (
        f"tables without a retention class: {missing}; add a RetentionTarget (or a "
        "SESSION_CASCADE entry) in control_plane/privacy/retention_map.py"
    )


def test_every_retention_class_has_a_configured_period() -> None:
    settings = RetentionSettings()
    for retention_class in RetentionClass:
        assert period_seconds(settings, retention_class) > 0
    assert {t.retention_class for t in TARGETS} == set(RetentionClass)


def test_mapped_columns_exist_where_the_table_exists() -> None:
    tables = load_metadata().tables
    for target in TARGETS:
        table = tables.get(target.table)
        if table is None:
            continue
        columns = [target.clock, *target.clear, target.only_if_set, target.subject_column]
        columns.append(target.session_column)
        assert all(c in table.c for c in columns if c is not None), target
        assert len(table.primary_key.columns) == 1, target.table
    for name, column in SESSION_CASCADE:
        if name in tables:
            assert column in tables[name].c, name
    assert set(LIFETIME_BOUND) <= set(tables)


def test_every_retention_clock_leads_an_index() -> None:
    """A pass runs every few minutes on tables that only grow; without an index each one
    scans the whole table (measured: a 216 ms stall of the event loop on SQLite, in the
    webhook benchmark)."""
    tables = load_metadata().tables
    unindexed = sorted(
        f"{target.table}.{target.clock}"
        for target in TARGETS
        if target.table in tables
        and not any(
            next(iter(index.columns)).name == target.clock for index in tables[target.table].indexes
        )
        and not tables[target.table].c[target.clock].primary_key
    )
    assert unindexed == [], f"add an index on {unindexed} (and regenerate the migration)"


def test_every_subject_column_is_erased_or_kept_for_a_reason() -> None:
    found = {
        (table.name, column.name)
        for table in load_metadata().tables.values()
        for column in table.columns
        if column.name in SUBJECT_COLUMNS
    }
    missing = sorted(found - handled_columns())
    assert missing == [], (
        f"subject columns without an erasure rule: {missing}; add them to SUBJECT_ROWS or "
        "RETAINED in control_plane/privacy/erasure_map.py"
    )


LONG_STRING = 64  # ids and pseudonyms fit; anything longer could carry free text


def _may_hold_free_text(column: sa.Column[object]) -> bool:
    kind = column.type
    if isinstance(kind, sa.JSON | sa.Text | sa.LargeBinary):
        return True
    length = getattr(kind, "length", None)
    return isinstance(length, int) and length > LONG_STRING


def test_every_column_that_can_hold_free_text_is_guarded_or_erased() -> None:
    """T-PRIV-4/5: every column where text from outside could land is either erased with
    the subject or names what keeps personal free text out of it."""
    found = {
        (table.name, column.name)
        for table in load_metadata().tables.values()
        for column in table.columns
        if _may_hold_free_text(column)
    }
    missing = sorted(found - handled_columns() - set(FREE_TEXT_GUARDS))
    assert missing == [], (
        f"free-text columns without a guard: {missing}; add them to FREE_TEXT_GUARDS in "
        "control_plane/privacy/erasure_map.py (or SUBJECT_ROWS/RETAINED)"
    )
    stale = sorted(set(FREE_TEXT_GUARDS) - found)
    assert stale == [], f"FREE_TEXT_GUARDS names columns that are not free text: {stale}"
