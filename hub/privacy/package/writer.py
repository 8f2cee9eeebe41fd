"""Making an export package: the manifest's bytes, and the zip written whole or not at all.

In the egress order (hub/privacy/egress.py), `make_manifest` comes before
the `export_built` audit entry and `write_package` after it. The zip is
written under a temporary name (mode 0600), each file hashed as it is
copied, then fsynced and renamed into place (camhub.durable). Before writing
anything it runs the verifier's audit check on what it is about to put in,
so a package the hub writes always passes `verify_package`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from camhub.audit.canonical import canonical
from camhub.durable import TMP_SUFFIX, durable_rename
from camhub.privacy.package.format import (
    CHECKPOINT,
    ENTRY,
    FORMAT,
    KEY,
    MANIFEST,
    PROOF,
    README,
    PackageError,
    key_document,
    manifest_problems,
    parse_manifest,
    proof_document,
    readme,
)
from camhub.privacy.package.verifier import check_audit

CHUNK = 1 << 20


def make_manifest(
    *,
    export_id: str,
    hub_origin: str,
    created_s: int,
    basis: dict[str, Any],
    scope: dict[str, Any],
    files: list[dict[str, Any]],
) -> bytes:
    """The canonical JSON bytes of a manifest; raises PackageError naming every wrong field."""
    value = {
        "basis": basis,
        "created_s": created_s,
        "export_id": export_id,
        "files": files,
        "format": FORMAT,
        "hub_origin": hub_origin,
        "scope": scope,
    }
    problems = manifest_problems(value)
    if problems:
        raise PackageError(f"export manifest {export_id!r}: " + "; ".join(problems))
    return canonical(value)


def _zip_info(name: str, created_s: int, size: int) -> zipfile.ZipInfo:
    stamp = datetime.fromtimestamp(min(max(created_s, 315_532_800), 4_354_819_199), UTC)  # zip times: 1980-2107
    info = zipfile.ZipInfo(name, stamp.timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    info.file_size = size  # lets zipfile choose ZIP64 up front for files over 2 GiB
    return info


def _copy_checked(zf: zipfile.ZipFile, info: zipfile.ZipInfo, source: Path, expected: dict[str, Any]) -> None:
    digest = hashlib.sha256()
    copied = 0
    with open(source, "rb") as src, zf.open(info, "w") as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            copied += len(chunk)
            dst.write(chunk)
            if copied > expected["bytes"]:
                break
    if digest.hexdigest() != expected["sha256"] or copied != expected["bytes"]:
        raise PackageError(
            f"{source} changed after the manifest was made: {info.filename} should have SHA-256 "
            f"{expected['sha256']} ({expected['bytes']} bytes), it has {digest.hexdigest()} "
            f"({copied}{'+' if copied > expected['bytes'] else ''} bytes); no package was written"
        )


def write_package(
    path: Path,
    *,
    manifest: bytes,
    files: list[tuple[str, Path]],
    entry: bytes,
    index: int,
    tree_size: int,
    proof: list[bytes],
    checkpoint_note: str,
    verifier_key: str,
) -> int:
    """Write the package zip at `path` whole or not at all; returns its size in bytes.

    Blocking (run it in a thread). Refuses, leaving nothing behind, when the
    audit part does not verify against the manifest or a file's bytes are not
    the manifest's: a package the hub writes always passes `verify_package`.
    """
    path = Path(path)
    value, problems = parse_manifest(manifest)
    if value is None:
        raise PackageError(f"{path.name}: " + "; ".join(problems))
    listed = [f["name"] for f in value["files"]]
    if [name for name, _ in files] != listed:
        raise PackageError(f"{path.name}: the files given {[n for n, _ in files]} are not the manifest's {listed}")
    proof_bytes = proof_document(index, tree_size, proof)
    key_bytes = key_document(verifier_key)
    if check_audit(value, manifest, entry, proof_bytes, checkpoint_note.encode(), key_bytes, None, problems) is None:
        raise PackageError(f"{path.name}: the audit records do not prove this manifest: " + "; ".join(problems))
    for (name, source), expected in zip(files, value["files"], strict=True):
        if not source.is_file() or source.stat().st_size != expected["bytes"]:
            size = source.stat().st_size if source.is_file() else "no file"
            raise PackageError(
                f"{source} ({name}): the manifest says {expected['bytes']} bytes, found {size}; no package was written"
            )
    if path.exists():
        raise PackageError(f"{path}: a package of that name exists; packages are never replaced")
    created = value["created_s"]
    small = [
        (ENTRY, entry),
        (PROOF, proof_bytes),
        (CHECKPOINT, checkpoint_note.encode()),
        (KEY, key_bytes),
        (README, readme(value, index, tree_size, path.name).encode()),
    ]
    tmp = path.with_name(path.name + TMP_SUFFIX)
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # left by a crash
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # footage: the owner's eyes only, from byte 0
        with open(fd, "wb") as raw, zipfile.ZipFile(raw, "w") as zf:
            zf.writestr(_zip_info(MANIFEST, created, len(manifest)), manifest)
            for (name, source), expected in zip(files, value["files"], strict=True):
                _copy_checked(zf, _zip_info(name, created, expected["bytes"]), source, expected)
            for name, data in small:
                zf.writestr(_zip_info(name, created, len(data)), data)
        durable_rename(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return path.stat().st_size
