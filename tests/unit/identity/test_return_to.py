"""The post-login redirect accepts same-origin absolute paths and nothing else."""

from __future__ import annotations

import pytest

from control_plane.identity.return_to import MAX_RETURN_TO_CHARS, is_safe_return_to


@pytest.mark.parametrize(
    "value",
    ["/", "/auth/session", "/v1/me/sessions?view=all#top", "/a/b.c/..d/", "/%41"],
)
def test_same_origin_paths_are_accepted(value: str) -> None:
    assert is_safe_return_to(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "https://evil.example/",
        "HTTP://evil.example",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\/evil.example",
        "/ok\\..\\x",
        "/..//evil.example",
        "/a/./b",
        "/%2e%2e/x",
        "/%2E./x",
        "javascript:alert(1)",
        "data:text/html,x",
        "evil.example",
        " /leading-space",
        "/tab\there",
        "/new\nline",
        "/ok\r\nSet-Cookie: x=y",
        "/nul\x00",
        "/caf\u00e9",
        "/\uff0f\uff0fevil.example",
        "/" + "a" * MAX_RETURN_TO_CHARS,
    ],
)
def test_anything_else_is_refused(value: str) -> None:
    assert not is_safe_return_to(value)
