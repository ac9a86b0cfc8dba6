"""The whole-session pass: findings across segment boundaries, placeholders protected."""

from __future__ import annotations

from control_plane.privacy.passes import (
    Replacement,
    apply,
    clip,
    final_pass,
    merge,
    plan_windows,
    widen_over_tokens,
)
from control_plane.privacy.placeholders import SessionPlaceholders
from control_plane.privacy.redaction import Entity, EntityType


def _find(window_text: str, value: str, kind: EntityType) -> Entity:
    start = window_text.index(value)
    return Entity(kind, start, start + len(value), 0.9)


def test_windows_join_each_role_in_order_and_overlap() -> None:
    roles = ["user", "agent", "user", "user"]
    texts = ["my number is 555 12", "go on", "34 567", "thanks"]
    windows = plan_windows(roles, texts, max_bytes=1000)
    assert [w.text for w in windows] == ["go on", "my number is 555 12 34 567 thanks"]
    small = plan_windows(["user"] * 4, ["aaaa", "bbbb", "cccc", "dddd"], max_bytes=9, overlap=1)
    assert [w.text for w in small] == ["aaaa bbbb", "bbbb cccc", "cccc dddd"]


def test_a_number_split_over_two_segments_gets_one_placeholder_in_both() -> None:
    texts = ["my number is 555 12", "34 567 ok"]
    windows = plan_windows(["user", "user"], texts, max_bytes=1000)
    entity = _find(windows[0].text, "555 12 34 567", EntityType.PHONE_NUMBER)
    assert clip(windows[0], entity) == [(0, 13, 19), (1, 0, 6)]
    mapping = SessionPlaceholders()
    result = final_pass(texts, windows, [[entity]], placeholders=mapping, segment_entities=None)
    assert result.texts == ("my number is <PHONE_NUMBER_1>", "<PHONE_NUMBER_1> ok")
    assert result.new_counts == {"PHONE_NUMBER": 1}


def test_existing_placeholders_are_not_new_and_never_split() -> None:
    text = "hi <PERSON_1> smith"
    assert widen_over_tokens(text, [Replacement(4, 10, "<X>")]) == []
    widened = widen_over_tokens(text, [Replacement(8, 19, "<PERSON_2>")])
    assert widened == [Replacement(3, 19, "<PERSON_2>")]
    windows = plan_windows(["user"], [text], max_bytes=1000)
    inside = Entity(EntityType.PERSON, 3, 13, 0.9)
    result = final_pass(
        [text], windows, [[inside]], placeholders=SessionPlaceholders(), segment_entities=None
    )
    assert result.texts == (text,)
    assert result.new_counts == {}


def test_raw_source_reapplies_segment_findings_with_session_numbering() -> None:
    mapping = SessionPlaceholders()
    assert mapping.placeholder_for(EntityType.PERSON, "John") == "<PERSON_1>"
    texts = ["I am John", "call me J O", "H N"]
    windows = plan_windows(["user"] * 3, texts, max_bytes=1000)
    spelled = _find(windows[0].text, "J O H N", EntityType.PERSON)
    per_segment = [[Entity(EntityType.PERSON, 5, 9, 0.9)], [], []]
    result = final_pass(
        texts, windows, [[spelled]], placeholders=mapping, segment_entities=per_segment
    )
    assert result.texts == ("I am <PERSON_1>", "call me <PERSON_1>", "<PERSON_1>")
    assert result.new_counts == {"PERSON": 1}


def test_merge_takes_the_union_and_apply_renders() -> None:
    merged = merge([Replacement(0, 4, "<A>"), Replacement(2, 9, "<LONGER>")])
    assert merged == [Replacement(0, 9, "<LONGER>")]
    assert apply("0123456789", merged) == "<LONGER>9"


def test_placeholder_map_round_trips_without_raw_values() -> None:
    mapping = SessionPlaceholders()
    assert mapping.placeholder_for(EntityType.EMAIL_ADDRESS, "jo@example.com") == (
        "<EMAIL_ADDRESS_1>"
    )
    saved = mapping.dumps()
    assert b"example" not in saved
    assert b"jo@" not in saved
    again = SessionPlaceholders.loads(saved)
    assert again.placeholder_for(EntityType.EMAIL_ADDRESS, "JO@example.com") == (
        "<EMAIL_ADDRESS_1>"
    )
    assert again.placeholder_for(EntityType.EMAIL_ADDRESS, "x@example.com") == ("<EMAIL_ADDRESS_2>")
    assert again.changed
    assert not SessionPlaceholders.loads(saved).changed
