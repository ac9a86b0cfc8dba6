"""Development keys: generated once, ≥ 32 random bytes, mode 0600, never overwritten."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from control_plane.config import KEY_NAMES, KeySettings
from control_plane.crypto.keyring import (
    PREVIOUS_AUDIT_KEYS_FILE,
    init_key_dir,
    load_key_ring,
    parse_public_key,
    public_key_text,
)
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


def _public_hex(seed: int) -> str:
    private = Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


@pytest.mark.parametrize(
    "text", ["", "zz", "ab" * 31, "ab" * 33, "not base64 at all!", "ab" * 16 + "\x00"]
)
def test_a_malformed_previous_audit_key_is_refused_naming_the_setting(
    tmp_path: Path, text: str
) -> None:
    with pytest.raises(ConfigError, match=r"keys\.previous_audit_public_keys"):
        parse_public_key("previous_audit_public_keys", text)
    with pytest.raises(ConfigError, match=r"keys\.previous_audit_public_keys"):
        load_key_ring(
            KeySettings(previous_audit_public_keys=[text]),
            tmp_path / "keys",
            is_development=True,
        )


def test_retired_audit_keys_come_from_settings_before_the_key_folder(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"
    init_key_dir(key_dir)
    (key_dir / PREVIOUS_AUDIT_KEYS_FILE).write_text(_public_hex(1) + "\n\n" + _public_hex(2) + "\n")
    from_file = load_key_ring(KeySettings(), key_dir, is_development=True)
    assert [public_key_text(k) for k in from_file.previous_audit_public_keys] == [
        _public_hex(1),
        _public_hex(2),
    ]
    assert from_file.audit_verification_keys[-1] == from_file.audit_public_key
    configured = load_key_ring(
        KeySettings(previous_audit_public_keys=[_public_hex(3)]), key_dir, is_development=True
    )
    assert [public_key_text(k) for k in configured.previous_audit_public_keys] == [_public_hex(3)]
