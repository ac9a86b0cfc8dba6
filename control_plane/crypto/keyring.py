"""The key ring: every long-lived secret the control plane holds, loaded once at start-up.

Embedded mode generates development keys into ``var/keys`` (never overwriting an existing
file, mode 0600). Production passes each key as a secret setting; ``config.unsafe_settings``
refuses to start without them.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import SecretStr

from control_plane.config import KEY_NAMES, KeySettings
from control_plane.crypto.envelope import kek_id
from control_plane.errors import ConfigError

KEY_BYTES = 32
PREVIOUS_KEK_FILE = "kek.previous"
PREVIOUS_AUDIT_KEYS_FILE = "audit_signing_key.previous"
"""Embedded mode: the public keys of retired audit signing keys, one hex line each, oldest
first (written by ``control-plane keys rotate-audit-key``)."""
ED25519_PUBLIC_BYTES = 32


@dataclass(frozen=True)
class KeyRing:
    """Raw key material. Never logged, never serialised."""

    pseudonym_key: bytes = field(repr=False)
    session_secret: bytes = field(repr=False)
    kek: bytes = field(repr=False)
    audit_signing_key: Ed25519PrivateKey = field(repr=False)
    receipt_signing_key: Ed25519PrivateKey = field(repr=False)
    worker_credential_key: bytes = field(repr=False)
    is_development: bool
    previous_kek: bytes | None = field(default=None, repr=False)
    """The KEK being rotated away from: unwraps old data keys until ``keys rotate-kek``
    has re-wrapped them all under ``kek`` (see crypto/service.py)."""
    previous_audit_public_keys: tuple[Ed25519PublicKey, ...] = ()
    """Retired audit signing keys (public halves), oldest first: their checkpoints still
    verify, but only those signed before a newer key's first checkpoint."""

    @property
    def kek_id(self) -> str:
        return kek_id(self.kek)

    def keks(self) -> dict[str, bytes]:
        """Every KEK this process can unwrap with, by id (the current one first)."""
        ring = {kek_id(self.kek): self.kek}
        if self.previous_kek is not None:
            ring.setdefault(kek_id(self.previous_kek), self.previous_kek)
        return ring

    @property
    def audit_public_key(self) -> Ed25519PublicKey:
        return self.audit_signing_key.public_key()

    @property
    def audit_verification_keys(self) -> tuple[Ed25519PublicKey, ...]:
        """Every audit signing key whose checkpoints verify, oldest first (current last)."""
        return (*self.previous_audit_public_keys, self.audit_public_key)

    @property
    def receipt_public_key(self) -> Ed25519PublicKey:
        return self.receipt_signing_key.public_key()


def public_key_id(key: Ed25519PublicKey) -> str:
    """A short stable id for a public key (first 16 hex chars of its raw bytes' hash)."""
    import hashlib

    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _decode(name: str, value: str) -> bytes:
    text = value.strip()
    for decoder in (bytes.fromhex, _b64):
        try:
            raw = decoder(text)
        except ValueError:
            continue
        if len(raw) >= KEY_BYTES:
            return raw
    raise ConfigError(f"invalid setting keys.{name}: needs at least {KEY_BYTES} bytes (hex/base64)")


def parse_key(name: str, text: str) -> bytes:
    """Key material from hex or base64 text (at least 32 bytes); ConfigError names ``name``."""
    return _decode(name, text)[:KEY_BYTES]


def parse_public_key(name: str, text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from hex or base64 of its 32 raw bytes; ConfigError names it."""
    value = text.strip()
    for decoder in (bytes.fromhex, _b64):
        try:
            raw = decoder(value)
        except ValueError:
            continue
        if len(raw) == ED25519_PUBLIC_BYTES:
            return Ed25519PublicKey.from_public_bytes(raw)
    raise ConfigError(
        f"invalid setting keys.{name}: an Ed25519 public key is 32 bytes (hex or base64)"
    )


def public_key_text(key: Ed25519PublicKey) -> str:
    """The hex form ``parse_public_key`` reads (for keys.previous_audit_public_keys)."""
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def _b64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from exc


def install_key_files(key_dir: Path, files: Mapping[str, str]) -> None:
    """Replace each named key file, in order, atomically and 0600 from its first byte
    (key rotations: the retired key is kept before the new one is installed)."""
    for name, text in files.items():
        tmp = key_dir / f".{name}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.replace(tmp, key_dir / name)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def init_key_dir(key_dir: Path) -> list[str]:
    """Generate missing development keys (≥ 32 random bytes each); return the names created."""
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(key_dir, 0o700)
    created: list[str] = []
    for name in KEY_NAMES:
        path = key_dir / name
        if path.exists():
            continue
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(KEY_BYTES) + "\n")
        created.append(name)
    return created


def _material(name: str, configured: SecretStr | None, key_dir: Path) -> bytes:
    if configured is not None:
        return _decode(name, configured.get_secret_value())
    path = key_dir / name
    try:
        return _decode(name, path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"missing setting keys.{name}: run `control-plane keys init` or set it"
        ) from None


def _previous_kek(settings: KeySettings, key_dir: Path) -> bytes | None:
    if settings.previous_kek is not None:
        return _decode("previous_kek", settings.previous_kek.get_secret_value())[:KEY_BYTES]
    path = key_dir / PREVIOUS_KEK_FILE
    if settings.kek is None and path.exists():
        return _decode("previous_kek", path.read_text())[:KEY_BYTES]
    return None


def _previous_audit_keys(settings: KeySettings, key_dir: Path) -> tuple[Ed25519PublicKey, ...]:
    lines = list(settings.previous_audit_public_keys)
    path = key_dir / PREVIOUS_AUDIT_KEYS_FILE
    if not lines and settings.audit_signing_key is None and path.exists():
        lines = [line for line in path.read_text().splitlines() if line.strip()]
    return tuple(parse_public_key("previous_audit_public_keys", line) for line in lines)


def load_worker_credential_key(
    settings: KeySettings, key_dir: Path, *, is_development: bool
) -> bytes:
    """The one key a standalone worker supervisor holds (from settings, else the key
    directory in development): it signs worker credentials and nothing else."""
    if is_development:
        init_key_dir(key_dir)
    return _material("worker_credential_key", settings.worker_credential_key, key_dir)


def load_key_ring(settings: KeySettings, key_dir: Path, *, is_development: bool) -> KeyRing:
    """Load every key from settings, else from the key directory (development only)."""
    if is_development:
        init_key_dir(key_dir)
    raw = {name: _material(name, getattr(settings, name), key_dir) for name in KEY_NAMES}
    return KeyRing(
        pseudonym_key=raw["pseudonym_key"],
        session_secret=raw["session_secret"],
        kek=raw["kek"][:KEY_BYTES],
        audit_signing_key=Ed25519PrivateKey.from_private_bytes(raw["audit_signing_key"][:32]),
        receipt_signing_key=Ed25519PrivateKey.from_private_bytes(raw["receipt_signing_key"][:32]),
        worker_credential_key=raw["worker_credential_key"],
        is_development=is_development,
        previous_kek=_previous_kek(settings, key_dir),
        previous_audit_public_keys=_previous_audit_keys(settings, key_dir),
    )
