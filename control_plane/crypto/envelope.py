"""Pure envelope encryption: AES-256-GCM data keys wrapped by a key-encryption key (KEK).

Value in, value out; no I/O. Two versioned byte formats:

- a wrapped data key: ``b"\\x01" || nonce(12) || AES-256-GCM(KEK, DEK, ad)`` where the
  associated data binds the wrap to its subject and to the KEK id (a wrap cannot be moved
  to another subject's row, and a KEK id mismatch fails instead of decrypting garbage);
- a ciphertext: ``b"\\x01" || nonce(12) || AES-256-GCM(DEK, plaintext, ad)`` where the
  associated data is ``subject | table | record id`` (:func:`record_ad`), so a ciphertext
  copied into another row, table or subject fails authentication.

Nonces are 96 random bits per encryption. One data key per subject encrypts far fewer than
the 2**32 messages NIST SP 800-38D allows for random nonces.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_V1 = 0x01
KEY_BYTES = 32
NONCE_BYTES = 12
_TAG_BYTES = 16
_WRAP_LABEL = b"cp-dek-wrap:v1"
_AD_LABEL = b"cp-record:v1"


class EnvelopeError(Exception):
    """A ciphertext or a wrapped key failed to authenticate (wrong key, AD or tampering)."""


@dataclass(frozen=True)
class DataKey:
    """A subject's unwrapped data key. Never logged, never serialised."""

    subject_id: str
    material: bytes = field(repr=False)


def kek_id(kek: bytes) -> str:
    """A stable, non-secret id of a KEK (16 hex chars of a domain-separated SHA-256)."""
    return hashlib.sha256(b"cp-kek-id:v1\x00" + kek).hexdigest()[:16]


def generate_data_key() -> bytes:
    """A fresh 256-bit data key from the OS CSPRNG."""
    return AESGCM.generate_key(bit_length=256)


def _part(value: str) -> bytes:
    raw = value.encode()
    return len(raw).to_bytes(4, "big") + raw


def wrap_ad(subject_id: str, key_id: str) -> bytes:
    """The associated data of a wrapped data key (length-prefixed, unambiguous)."""
    return _WRAP_LABEL + _part(subject_id) + _part(key_id)


def record_ad(subject_id: str, table: str, record_id: str) -> bytes:
    """The associated data binding a ciphertext to ``subject | table | record id``."""
    return _AD_LABEL + _part(subject_id) + _part(table) + _part(record_id)


def _seal(key: bytes, plaintext: bytes, ad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return bytes([FORMAT_V1]) + nonce + AESGCM(key).encrypt(nonce, plaintext, ad)


def _open(key: bytes, blob: bytes, ad: bytes) -> bytes:
    if len(blob) < 1 + NONCE_BYTES + _TAG_BYTES or blob[0] != FORMAT_V1:
        raise EnvelopeError("unknown ciphertext format")
    nonce = blob[1 : 1 + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, blob[1 + NONCE_BYTES :], ad)
    except InvalidTag as exc:
        raise EnvelopeError("ciphertext failed authentication") from exc


def wrap_data_key(kek: bytes, dek: bytes, *, subject_id: str) -> bytes:
    """Wrap ``dek`` under ``kek`` for ``subject_id``."""
    if len(kek) != KEY_BYTES or len(dek) != KEY_BYTES:
        raise ValueError("keys must be 32 bytes")
    return _seal(kek, dek, wrap_ad(subject_id, kek_id(kek)))


def unwrap_data_key(kek: bytes, wrapped: bytes, *, subject_id: str) -> DataKey:
    """Unwrap a subject's data key; raises EnvelopeError on any mismatch."""
    material = _open(kek, wrapped, wrap_ad(subject_id, kek_id(kek)))
    if len(material) != KEY_BYTES:
        raise EnvelopeError("wrapped key has the wrong length")
    return DataKey(subject_id=subject_id, material=material)


def encrypt(key: DataKey, plaintext: bytes, *, table: str, record_id: str) -> bytes:
    """Encrypt a record field under the subject's data key, bound to its table and row."""
    return _seal(key.material, plaintext, record_ad(key.subject_id, table, record_id))


def decrypt(key: DataKey, blob: bytes, *, table: str, record_id: str) -> bytes:
    """Decrypt a record field; raises EnvelopeError if it was moved, altered or re-keyed."""
    return _open(key.material, blob, record_ad(key.subject_id, table, record_id))
