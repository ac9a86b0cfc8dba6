"""Development keys: generated once, ≥ 32 random bytes, mode 0600, never overwritten."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from control_plane.config import KeySettings
from control_plane.crypto.keyring import KEY_NAMES, init_key_dir, load_key_ring
from control_plane.errors import ConfigError


def test_init_creates_every_key_once(tmp_path: Path) -> None:
    created = init_key_dir(tmp_path / "keys")
    assert sorted(created) == sorted(KEY_NAMES)
    for name in KEY_NAMES:
        path = tmp_path / "keys" / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert len(bytes.fromhex(path.read_text().strip())) >= 32
    before = {n: (tmp_path / "keys" / n).read_text() for n in KEY_NAMES}
    assert init_key_dir(tmp_path / "keys") == []
    assert before == {n: (tmp_path / "keys" / n).read_text() for n in KEY_NAMES}


def test_production_does_not_generate_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"keys\.pseudonym_key"):
        load_key_ring(KeySettings(), tmp_path / "keys", is_development=False)
    assert not (tmp_path / "keys").exists()


def test_short_configured_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"keys\.kek"):
        load_key_ring(
            KeySettings(
                pseudonym_key="a" * 64,
                session_secret="a" * 64,
                kek="abcd",
                audit_signing_key="a" * 64,
                receipt_signing_key="a" * 64,
                worker_credential_key="a" * 64,
            ),
            tmp_path,
            is_development=False,
        )


def test_no_key_material_shows_in_a_repr(tmp_path: Path) -> None:
    # A repr lands in tracebacks, debuggers and careless log lines.
    ring = load_key_ring(KeySettings(), tmp_path / "keys", is_development=True)
    shown = repr(ring)
    for name in ("pseudonym_key", "session_secret", "kek", "worker_credential_key"):
        material = getattr(ring, name)
        assert material.hex() not in shown, name
        assert repr(material) not in shown, name
    assert "PrivateKey" not in shown
    assert shown.startswith("KeyRing(is_development=True")
