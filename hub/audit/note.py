"""Ed25519 keys and C2SP signed-note checkpoints.

Formats (C2SP `signed-note.md`, `tlog-checkpoint.md`; the key strings are
those of Go's golang.org/x/mod/sumdb/note, so its tools read them too):

- verifier key: `<name>+<key id, 8 hex>+<base64(0x01 || 32-byte public key)>`
- signing key file: `PRIVATE+KEY+<name>+<key id>+<base64(0x01 || 32-byte seed)>`
- key id: the first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key)
- checkpoint body: origin, decimal tree size, base64 root hash, then our one
  extension line `time <Unix seconds>` so periodic checkpoints of an
  unchanged tree still show the log is alive; each line ends in a newline
- signed note: body, a blank line, then `— <name> <base64(key id || signature)>`
  lines, one per signer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from camhub.audit.errors import AuditError, VerificationFailed
from camhub.durable import write_durably

ALG_ED25519 = b"\x01"
SIG_PREFIX = "\u2014 "  # em dash and a space


def key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ALG_ED25519 + public).digest()[:4]


@dataclass(frozen=True)
class VerifierKey:
    name: str
    public: bytes  # 32-byte Ed25519 public key

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.public)

    def __str__(self) -> str:
        return f"{self.name}+{self.id.hex()}+{base64.b64encode(ALG_ED25519 + self.public).decode()}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        # Errors never repeat `text`: someone may paste a private key here by mistake.
        try:
            name, hex_id, b64 = text.strip().split("+", 2)  # names never hold "+"; base64 may
            raw = base64.b64decode(b64, validate=True)
        except (ValueError, binascii.Error):
            raise AuditError("verifier key: expected <name>+<key id>+<base64 key> (the key is not shown)") from None
        if len(raw) != 33 or raw[:1] != ALG_ED25519:
            raise AuditError(f"verifier key {name!r}: not an Ed25519 verifier key (the key is not shown)")
        key = cls(name, raw[1:])
        if key.id.hex() != hex_id.lower():
            raise AuditError(f"verifier key {name!r}: key id {hex_id} does not match the key (expected {key.id.hex()})")
        return key

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except InvalidSignature:
            return False
        return True


class SigningKey:
    """An Ed25519 private key with the note name it signs under."""

    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        self.name = name
        self._private = private
        public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.verifier = VerifierKey(name, public)

    @classmethod
    def generate(cls, name: str) -> SigningKey:
        return cls(name, Ed25519PrivateKey.generate())

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def to_text(self) -> str:
        seed = self._private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return f"PRIVATE+KEY+{self.name}+{self.verifier.id.hex()}+{base64.b64encode(ALG_ED25519 + seed).decode()}\n"

    @classmethod
    def from_text(cls, text: str, where: str) -> SigningKey:
        text = text.strip()
        parts = text.removeprefix("PRIVATE+KEY+").split("+", 2)  # names never hold "+"; base64 may
        if not text.startswith("PRIVATE+KEY+") or len(parts) != 3:
            raise AuditError(f"{where}: not a signing key (expected PRIVATE+KEY+<name>+<id>+<key>)")
        name, hex_id, b64 = parts
        try:
            raw = base64.b64decode(b64, validate=True)
        except binascii.Error:
            raise AuditError(f"{where}: the key is not valid base64") from None
        if len(raw) != 33 or raw[:1] != ALG_ED25519:
            raise AuditError(f"{where}: not an Ed25519 key")
        key = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if key.verifier.id.hex() != hex_id.lower():
            raise AuditError(f"{where}: key id {hex_id} does not match the key inside")
        return key


def write_private(path: Path, text: str) -> None:
    """Create `path` with mode 0600 atomically."""
    write_durably(path, text.encode(), mode=0o600)


def load_signing_key(path: Path) -> SigningKey:
    """The key in `path`; an AuditError naming the file and the next step if it cannot be used."""
    restore = f"restore it from a backup of {path.parent} (the hub never makes a new key for an old log)"
    try:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise AuditError(f"{path}: signing key is readable by others (mode {mode:o}); run chmod 600 {path}")
        text = path.read_bytes().decode("ascii")
    except FileNotFoundError:
        raise AuditError(f"{path}: the signing key is missing; {restore}") from None
    except OSError as exc:
        raise AuditError(
            f"{path}: the signing key cannot be read ({exc.strerror}); fix its permissions or {restore}"
        ) from None
    except UnicodeDecodeError:
        raise AuditError(f"{path}: not a signing key (not text); {restore}") from None
    try:
        return SigningKey.from_text(text, str(path))
    except AuditError as exc:
        raise AuditError(f"{exc}; {restore}") from None


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    time: int  # Unix seconds the hub signed it
    note: str  # the whole signed note, as served

    def body(self) -> str:
        return checkpoint_body(self.origin, self.size, self.root, self.time)


def checkpoint_body(origin: str, size: int, root: bytes, time: int) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\ntime {time}\n"


def sign_checkpoint(origin: str, size: int, root: bytes, time: int, keys: list[SigningKey]) -> Checkpoint:
    body = checkpoint_body(origin, size, root, time)
    lines = [f"{SIG_PREFIX}{k.name} {base64.b64encode(k.verifier.id + k.sign(body.encode())).decode()}\n" for k in keys]
    return Checkpoint(origin, size, root, time, body + "\n" + "".join(lines))


def parse_checkpoint(note: str, where: str = "checkpoint") -> tuple[Checkpoint, list[tuple[str, bytes, bytes]]]:
    """Split a signed note into its checkpoint and its (name, key id, signature) lines.

    Signatures are not checked here; see `verify_checkpoint`.
    """
    body, sep, sigs = note.partition("\n\n")
    if not sep or not sigs.endswith("\n"):
        raise VerificationFailed(f"{where}: not a signed note (no blank line before signatures)")
    lines = body.split("\n")
    if len(lines) < 3:
        raise VerificationFailed(f"{where}: a checkpoint needs origin, size and root lines")
    origin, size_text, root_text = lines[:3]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise VerificationFailed(f"{where}: tree size {size_text!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error:
        raise VerificationFailed(f"{where}: root hash {root_text!r} is not base64") from None
    if len(root) != 32:
        raise VerificationFailed(f"{where}: root hash is {len(root)} bytes, not 32")
    time = 0
    for extra in lines[3:]:
        if extra.startswith("time ") and extra[5:].isdigit():
            time = int(extra[5:])
    signatures = []
    for line in sigs[:-1].split("\n"):
        if not line.startswith(SIG_PREFIX):
            raise VerificationFailed(f"{where}: signature line {line!r} does not start with an em dash")
        name, _, b64 = line[len(SIG_PREFIX) :].rpartition(" ")
        try:
            raw = base64.b64decode(b64, validate=True)
        except binascii.Error:
            raise VerificationFailed(f"{where}: signature of {name} is not base64") from None
        if len(raw) < 5:
            raise VerificationFailed(f"{where}: signature of {name} is too short")
        signatures.append((name, raw[:4], raw[4:]))
    return Checkpoint(origin, int(size_text), root, time, note), signatures


def verify_checkpoint(note: str, key: VerifierKey, where: str = "checkpoint") -> Checkpoint:
    """Parse a signed checkpoint and check `key` signed it; raise VerificationFailed otherwise."""
    checkpoint, signatures = parse_checkpoint(note, where)
    body = note.partition("\n\n")[0] + "\n"
    if checkpoint.origin != key.name:
        raise VerificationFailed(f"{where}: origin {checkpoint.origin!r} is not the log {key.name!r}")
    for name, kid, sig in signatures:
        if name == key.name and kid == key.id:
            if key.verify(body.encode(), sig):
                return checkpoint
            raise VerificationFailed(f"{where}: the signature of key {key.id.hex()} does not verify")
    found = ", ".join(f"{n} {k.hex()}" for n, k, _ in signatures) or "none"
    raise VerificationFailed(f"{where}: not signed by key {key.name} {key.id.hex()} (signed by: {found})")
