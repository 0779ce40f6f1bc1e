"""The key-encryption key as a runtime setting and the sealing helper every service uses."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.auth.settings import load_auth_settings
from services.runtime.config import ConfigError, load_key_encryption_key
from services.runtime.sealing import Sealer, UnsealError


def test_seal_and_open_in_the_same_context() -> None:
    sealer = Sealer(os.urandom(32))
    sealed = sealer.seal(b"secret", "job:1")
    assert b"secret" not in sealed
    assert sealer.open(sealed, "job:1") == b"secret"
    assert sealer.seal(b"secret", "job:1") != sealed  # a fresh nonce each time
    with pytest.raises(UnsealError):
        sealer.open(sealed, "job:2")
    with pytest.raises(UnsealError):
        Sealer(os.urandom(32)).open(sealed, "job:1")
    with pytest.raises(UnsealError):
        sealer.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), "job:1")


def test_the_format_is_the_one_signing_keys_were_stored_in() -> None:
    # nonce (12) || AES-256-GCM(ciphertext || tag), the key id as associated data.
    key = os.urandom(32)
    nonce = os.urandom(12)
    stored = nonce + AESGCM(key).encrypt(nonce, b"-----BEGIN PRIVATE KEY-----", b"kid-1")
    assert Sealer(key).open(stored, "kid-1") == b"-----BEGIN PRIVATE KEY-----"


def test_the_embedded_default_generates_one_owner_only_key(tmp_path: Path) -> None:
    key = load_key_encryption_key({}, tmp_path)
    path = tmp_path / "secrets" / "key-encryption-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_key_encryption_key({}, tmp_path) == key
    # Auth reads the same key, so its signing keys and the runtime's sealed payloads share it.
    assert load_auth_settings(tmp_path, {}).key_encryption_key == key
    assert [p.name for p in path.parent.iterdir()] == ["key-encryption-key"]


def test_a_configured_key_wins_and_nothing_is_generated(tmp_path: Path) -> None:
    key = os.urandom(32)
    env = {"TENANTMESH_KEY_ENCRYPTION_KEY": base64.b64encode(key).decode()}
    assert load_key_encryption_key(env, tmp_path) == key
    assert not (tmp_path / "secrets").exists()


@pytest.mark.parametrize(
    "value", ["CHANGE-ME", base64.b64encode(os.urandom(16)).decode()], ids=["placeholder", "a 16-byte key"]
)
def test_a_bad_key_stops_the_process_naming_the_variable(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="TENANTMESH_KEY_ENCRYPTION_KEY"):
        load_key_encryption_key({"TENANTMESH_KEY_ENCRYPTION_KEY": value}, tmp_path)
