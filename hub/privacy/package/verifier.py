"""`camhub export verify`: check an export package offline, and say what that proves and what it does not.

A recipient runs this with nothing but the package and, better, the hub's
verifier key got out of band. It reads only the format's definitions
(`format.py`) and the audit log's primitives (canonical JSON, Merkle
inclusion, signed notes), never the writer's code: a bug in how packages
are built cannot make this accept one.

Every finding about the package is a problem in the result, in the order
checked: the zip's members, then the manifest, the files against it, and
the audit part (entry, proof, checkpoint and its signature). `check_audit`
is also run by the writer before it writes, so the hub never hands out a
package this would refuse.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import rfc8785

from camhub.audit.canonical import decode_entry
from camhub.audit.errors import AuditError, VerificationFailed
from camhub.audit.merkle import HASH_SIZE, leaf_hash, verify_inclusion
from camhub.audit.note import SIG_PREFIX, Checkpoint, VerifierKey, parse_checkpoint, verify_checkpoint
from camhub.clock import utc_text
from camhub.privacy.package.format import (
    CHECKPOINT,
    CLIPS,
    DIRECTORIES,
    ENTRY,
    FORMAT,
    KEY,
    MANIFEST,
    PROOF,
    README,
    REQUIRED,
    PackageError,
    is_int,
    name_problem,
    parse_manifest,
)

# A hostile zip may declare any size: read no more than these from the small members.
LIMITS = {MANIFEST: 16 << 20, ENTRY: 16 << 20, PROOF: 64 << 10, CHECKPOINT: 64 << 10, KEY: 4 << 10}
CHUNK = 1 << 20


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of `verify_package`; `camhub export verify` prints it."""

    ok: bool
    problems: list[str] = field(default_factory=list)  # what failed, in the order checked
    proves: list[str] = field(default_factory=list)  # plain words; empty unless ok
    does_not_prove: list[str] = field(default_factory=list)


# The audit part


@dataclass(frozen=True)
class Proven:
    """What a package's audit part was checked to show: the parts its claims are stated from."""

    manifest: dict[str, Any]
    manifest_bytes: bytes
    entry: dict[str, Any]
    tree_size: int
    checkpoint: Checkpoint
    key: VerifierKey


def _parse_proof(data: bytes) -> tuple[int, int, list[bytes]]:
    try:
        value = json.loads(data)
        if rfc8785.dumps(value) != data:
            raise ValueError("not in canonical JSON form (RFC 8785)")
    except Exception as exc:
        raise VerificationFailed(f"{PROOF}: not valid canonical JSON ({exc})") from None
    if not (
        isinstance(value, dict)
        and sorted(value) == ["hashes", "index", "tree_size"]
        and is_int(value["index"])
        and is_int(value["tree_size"])
        and isinstance(value["hashes"], list)
    ):
        raise VerificationFailed(f'{PROOF}: expected {{"hashes": [base64], "index": int, "tree_size": int}}')
    hashes = []
    for i, text in enumerate(value["hashes"]):
        try:
            raw = base64.b64decode(text, validate=True) if isinstance(text, str) else b""
        except binascii.Error:
            raw = b""
        if len(raw) != HASH_SIZE or base64.b64encode(raw).decode() != text:
            raise VerificationFailed(f"{PROOF}: hashes[{i}] is not the base64 of a 32-byte hash")
        hashes.append(raw)
    return value["index"], value["tree_size"], hashes


def _check_entry(
    entry: dict[str, Any], manifest: dict[str, Any], manifest_bytes: bytes, index: int | None
) -> list[str]:
    fields = entry["fields"]
    where = f"{ENTRY} (entry #{entry['index']})"
    if entry["event"] != "export_built" or not isinstance(fields, dict):
        return [f"{where}: is a {entry['event']!r} event, not export_built"]
    problems = []
    if index is not None and entry["index"] != index:
        problems.append(f"{where}: holds index {entry['index']}, but {PROOF} is for entry #{index}")
    if fields.get("export_id") != manifest["export_id"]:
        problems.append(
            f"{where}: export_id {fields.get('export_id')!r} is not the manifest's {manifest['export_id']!r}"
        )
    actual = hashlib.sha256(manifest_bytes).hexdigest()
    if fields.get("manifest_sha256") != actual:
        problems.append(f"{MANIFEST}: SHA-256 is {actual}, but the audit entry records {fields.get('manifest_sha256')}")
    listed = [f["sha256"] for f in manifest["files"]]
    logged = fields.get("clip_sha256")
    if logged != listed:
        if not isinstance(logged, list) or len(logged) != len(listed):
            count = len(logged) if isinstance(logged, list) else logged
            problems.append(f"{where}: clip_sha256 lists {count} hashes, the manifest {len(listed)} files")
        else:
            problems += [
                f"{where}: clip_sha256[{i}] is {got}, but the manifest's {manifest['files'][i]['name']} "
                f"has SHA-256 {want}"
                for i, (got, want) in enumerate(zip(logged, listed, strict=True))
                if got != want
            ]
    return problems


def _canonical_signatures(note: str, signatures: list[tuple[str, bytes, bytes]]) -> bool:
    # parse_checkpoint reads base64 leniently; only the body is signed, so insist on one spelling of the rest.
    lines = "".join(f"{SIG_PREFIX}{n} {base64.b64encode(k + s).decode()}\n" for n, k, s in signatures)
    return note.partition("\n\n")[2] == lines


def check_audit(
    manifest: dict[str, Any],
    manifest_bytes: bytes,
    entry_bytes: bytes,
    proof_bytes: bytes,
    note_bytes: bytes,
    key_bytes: bytes,
    pinned: VerifierKey | None,
    problems: list[str],
) -> Proven | None:
    """Check entry, proof, checkpoint and signature against the manifest; append what fails to `problems`."""
    start = len(problems)
    try:
        index, tree_size, hashes = _parse_proof(proof_bytes)
    except VerificationFailed as exc:
        index, tree_size, hashes, proof_error = -1, 0, [], str(exc)
    else:
        proof_error = ""
    entry = None
    try:
        entry = decode_entry(entry_bytes, index)
        problems += _check_entry(entry, manifest, manifest_bytes, None if proof_error else index)
    except AuditError as exc:
        problems.append(f"{ENTRY}: {exc}")
    if proof_error:
        problems.append(proof_error)
    checkpoint = note = None
    try:
        note = note_bytes.decode()
        checkpoint, signatures = parse_checkpoint(note, CHECKPOINT)
        if not _canonical_signatures(note, signatures):
            problems.append(f"{CHECKPOINT}: signature lines are not in their canonical form")
    except (UnicodeDecodeError, VerificationFailed) as exc:
        problems.append(f"{CHECKPOINT}: {exc}" if isinstance(exc, UnicodeDecodeError) else str(exc))
    if checkpoint is not None and not proof_error:
        if tree_size != checkpoint.size:
            problems.append(
                f"{PROOF}: is for a tree of size {tree_size}, the checkpoint's tree has size {checkpoint.size}"
            )
        else:
            try:
                verify_inclusion(index, tree_size, leaf_hash(entry_bytes), hashes, checkpoint.root)
            except VerificationFailed as exc:
                problems.append(f"{PROOF}: {exc}: the entry is not in the signed tree as given")
    if checkpoint is not None and checkpoint.origin != manifest["hub_origin"]:
        problems.append(
            f"{CHECKPOINT}: origin {checkpoint.origin!r} is not the manifest's log {manifest['hub_origin']!r}"
        )
    key = None
    try:
        key = VerifierKey.parse(key_bytes.decode())
        if key_bytes.decode() != f"{key}\n":
            problems.append(f"{KEY}: not a verifier key in its canonical form (one line: name+id+key)")
    except (UnicodeDecodeError, AuditError) as exc:
        problems.append(f"{KEY}: {exc}")
    if key is not None and pinned is not None and key != pinned:
        problems.append(
            f"{KEY}: holds key {key.name}+{key.id.hex()}, not the pinned key {pinned.name}+{pinned.id.hex()}"
        )
    signer = pinned or key
    if note is not None and checkpoint is not None and signer is not None:
        try:
            verify_checkpoint(note, signer, CHECKPOINT)
        except VerificationFailed as exc:
            problems.append(str(exc))
    if len(problems) > start or entry is None or checkpoint is None or signer is None:
        return None
    return Proven(manifest, manifest_bytes, entry, tree_size, checkpoint, signer)


# The zip


def _member_problem(name: str) -> str | None:
    if (
        "\\" in name
        or name.startswith("/")
        or re.match(r"[A-Za-z]:", name)
        or ".." in name.split("/")
        or any(ord(c) < 32 for c in name)
    ):
        return f"{name!r}: unsafe member name (absolute, '..', a backslash or a control character)"
    if name in REQUIRED or name in (README, *DIRECTORIES):
        return None
    if name.startswith(CLIPS) and name_problem(name.removesuffix("/")) is None:
        return None
    return f"{name!r}: not part of the {FORMAT} layout"


def _read_small(zf: zipfile.ZipFile, name: str) -> bytes:
    info = zf.getinfo(name)
    limit = LIMITS[name]
    if info.file_size > limit:
        raise VerificationFailed(f"{name}: {info.file_size} bytes, more than the {limit} it may hold")
    with zf.open(info) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise VerificationFailed(f"{name}: more than the {limit} bytes it may hold")
    return data


def _hash_member(f: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := f.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _check_files(zf: zipfile.ZipFile, manifest: dict[str, Any], problems: list[str]) -> None:
    present = {i.filename: i for i in zf.infolist() if i.filename.startswith(CLIPS) and not i.is_dir()}
    for f in manifest["files"]:
        info = present.pop(f["name"], None)
        if info is None:
            problems.append(f"{f['name']}: listed in the manifest but missing from the package")
            continue
        try:
            with zf.open(info) as member:
                actual, size = _hash_member(member)
        except Exception as exc:
            problems.append(
                f"{f['name']}: cannot be read from the zip ({exc}): changed or damaged; "
                f"the manifest expects SHA-256 {f['sha256']}"
            )
            continue
        if actual != f["sha256"] or size != f["bytes"]:
            problems.append(
                f"{f['name']}: expected SHA-256 {f['sha256']} ({f['bytes']} bytes), found {actual} ({size} bytes)"
            )
    problems += [f"{name}: in the package but not in the manifest" for name in present]


def _verify_zip(zf: zipfile.ZipFile, pinned: VerifierKey | None, problems: list[str]) -> Proven | None:
    names = [i.filename for i in zf.infolist()]
    problems += [p for n in names if (p := _member_problem(n))]
    problems += [f"{i.filename!r}: a folder that holds bytes" for i in zf.infolist() if i.is_dir() and i.file_size]
    problems += [f"{n!r}: appears more than once" for n in sorted({n for n in names if names.count(n) > 1})]
    problems += [f"{n}: missing" for n in REQUIRED if n not in names]
    if problems:
        return None
    try:
        small = {name: _read_small(zf, name) for name in REQUIRED}
    except VerificationFailed as exc:
        problems.append(str(exc))
        return None
    manifest, found = parse_manifest(small[MANIFEST])
    if manifest is None:
        problems += found
        return None
    _check_files(zf, manifest, problems)
    proven = check_audit(
        manifest, small[MANIFEST], small[ENTRY], small[PROOF], small[CHECKPOINT], small[KEY], pinned, problems
    )
    return None if problems else proven


def _claims(proven: Proven, pinned: bool) -> tuple[list[str], list[str]]:
    manifest = proven.manifest
    files = manifest["files"]
    key = f"{proven.key.name}+{proven.key.id.hex()}"
    entry = proven.entry
    fields = entry["fields"]
    proves = [
        (
            f"these {len(files)} files ({sum(f['bytes'] for f in files)} bytes) are exactly the files listed in the "
            "manifest: each one's SHA-256 and size match, and there are no others"
        ),
        (
            f"the manifest (SHA-256 {hashlib.sha256(proven.manifest_bytes).hexdigest()}) is the one recorded in entry "
            f"#{entry['index']} of audit log {proven.checkpoint.origin} (export {manifest['export_id']}, basis "
            f"{fields.get('basis')}, to {fields.get('recipient')}, "
            f"logged {utc_text(entry['time_ms'] / 1000)}), which is "
            f"included in the log's tree of size {proven.tree_size} signed by key {key} "
            f"at {utc_text(proven.checkpoint.time)}"
        ),
    ]
    if pinned:
        proves.append(f"key {key} is the key you gave with --key")
    not_proven = (
        []
        if pinned
        else [
            (
                f"that key {key} belongs to the owner's hub: compare it with the key the owner or a witness publishes, "
                "and verify again with --key"
            )
        ]
    )
    not_proven += [
        (
            "that the footage shows what it appears to show, or that the hub's and the cameras' clocks were right "
            "(every time above is the hub's own)"
        ),
        (
            "that the basis was genuine: the log records the request or legal document the hub was given, not whether "
            "it was real"
        ),
        (
            "that nothing else was released: that needs the whole log (camhub audit verify), a witness's checkpoints "
            "or the transparency report"
        ),
        f"anything in {README}: no hash covers it",
    ]
    return proves, not_proven


def verify_package(path: Path, pinned_key: str | None = None) -> VerifyResult:
    """Check a package offline; `pinned_key` is the hub's verifier key got out of band.

    Raises PackageError when `path` is not a file and AuditError when
    `pinned_key` is not a verifier key; every finding about the package
    itself is a problem in the result.
    """
    if pinned_key is not None and pinned_key.lstrip().startswith("PRIVATE+"):
        # Checked before parsing, whose error would repeat the key on screen.
        raise PackageError(
            "the key given is the hub's private signing key: give its verifier key "
            "(name+id+key, printed by `camhub audit verify`) and keep the private one secret"
        )
    pinned = VerifierKey.parse(pinned_key) if pinned_key is not None else None
    path = Path(path)
    if not path.is_file():
        raise PackageError(f"{path}: no such file")
    problems: list[str] = []
    try:
        with zipfile.ZipFile(path) as zf:
            verified = _verify_zip(zf, pinned, problems)
    except Exception as exc:
        problems.append(f"{path.name}: not a readable zip file ({type(exc).__name__}: {exc})")
        verified = None
    if verified is None:
        return VerifyResult(False, problems or [f"{path.name}: does not verify"])
    proves, not_proven = _claims(verified, pinned=pinned is not None)
    return VerifyResult(True, [], proves, not_proven)
