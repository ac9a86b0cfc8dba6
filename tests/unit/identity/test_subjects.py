"""The subject's status transitions: the one table every writer goes through."""

from __future__ import annotations

import pytest

from control_plane.identity.subjects import can_change_status, is_active
from control_plane.identity.types import SubjectStatus

ALLOWED = {
    (SubjectStatus.ACTIVE, SubjectStatus.LOCKED),  # an administrator's or a detector's lock
    (SubjectStatus.LOCKED, SubjectStatus.ACTIVE),  # an unlock
    (SubjectStatus.ACTIVE, SubjectStatus.ERASING),  # an erasure
    (SubjectStatus.LOCKED, SubjectStatus.ERASING),
}


@pytest.mark.parametrize("current", list(SubjectStatus))
@pytest.mark.parametrize("to", list(SubjectStatus))
def test_only_the_listed_transitions_are_allowed(current: SubjectStatus, to: SubjectStatus) -> None:
    assert can_change_status(current, to) is ((current, to) in ALLOWED)


def test_a_subject_being_erased_is_never_unlocked_or_relocked() -> None:
    assert not any(can_change_status(SubjectStatus.ERASING, to) for to in SubjectStatus)


@pytest.mark.parametrize("status", ["", "ACTIVE", "erased", "locked "])
def test_an_unknown_status_changes_to_nothing_and_is_not_active(status: str) -> None:
    assert not any(can_change_status(status, to) for to in SubjectStatus)
    assert not is_active(status)


def test_only_active_may_act() -> None:
    assert is_active("active")
    assert not is_active(None)
    assert [s for s in SubjectStatus if is_active(s)] == [SubjectStatus.ACTIVE]
