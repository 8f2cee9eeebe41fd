"""`camhub audit verify | proof | witness`: the audit log from the command line.

`add_parser(subparsers)` adds the `audit` command; each subcommand's `func`
returns the exit code: 0 verified, 1 verification failed (the message names
the first bad entry or checkpoint; for `verify`, also a log.db SQLite cannot
read), 2 usage or config errors and, for `proof` and `witness`, a damaged or
unreadable log (the caller prints `camhub: <message>` for a HubError that
escapes, naming the file and the next step).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

from camhub.audit.errors import AuditError, VerificationFailed
from camhub.audit.log import AUDIT_FOLDER
from camhub.audit.merkle import inclusion_proof
from camhub.audit.note import VerifierKey, parse_checkpoint
from camhub.audit.store import DB_NAME, KEY_NAME, LogReader
from camhub.audit.verify import verify_log
from camhub.audit.witness import (
    DataDirSource,
    HttpSource,
    LogSource,
    load_state,
    save_state,
    witness,
)
from camhub.terminal import escape


def _pinned(args: argparse.Namespace) -> VerifierKey | None:
    return VerifierKey.parse(args.key) if args.key else None


def _fail(message: str) -> int:
    print(f"camhub: audit: {escape(message)}", file=sys.stderr)
    return 1


def _verify(args: argparse.Namespace) -> int:
    try:
        # Two processes on a machine with two cores: a large log in about half the time.
        report = verify_log(Path(args.data), _pinned(args), deep=args.deep, processes=min(2, os.cpu_count() or 1))
    except VerificationFailed as exc:
        return _fail(f"verification FAILED: {exc}")
    print(
        f"ok: {escape(report.origin)}: {report.size} entries, {report.checkpoints} checkpoints verified"
        f"{' (deep: every entry parsed)' if report.deep else ''}; key {escape(report.key)}"
    )
    key_path = Path(args.data) / AUDIT_FOLDER / KEY_NAME
    if not key_path.exists():  # verifying needs no private key, but the hub does to go on
        print(
            f"camhub: audit: note: {key_path} is missing, so the hub cannot extend this log; restore it "
            "from a backup of the audit folder",
            file=sys.stderr,
        )
    return 0


def proof_document(data_dir: Path, index: int, size: int | None = None) -> dict[str, Any]:
    """Entry, leaf hash, inclusion proof and the checkpoint it proves against, as JSON values."""
    reader = LogReader(Path(data_dir) / AUDIT_FOLDER / DB_NAME)
    try:
        note = reader.latest_note()
        checkpoint, _ = parse_checkpoint(note, f"{reader.path}: latest checkpoint")
        tree_size = checkpoint.size if size is None else size
        if not 0 <= index < tree_size <= checkpoint.size:
            raise AuditError(
                f"entry {index} is not in a tree of size {tree_size} (the log's size is {checkpoint.size})"
            )
        entry = reader.entry(index)
        proof = inclusion_proof(index, tree_size, reader.range_hash)
        leaf = reader.leaf_hashes(index, index + 1)[0]
    finally:
        reader.close()
    return {
        "index": index,
        "entry": entry.decode(),
        "leaf_hash": base64.b64encode(leaf).decode(),
        "tree_size": tree_size,
        "proof": [base64.b64encode(h).decode() for h in proof],
        # The signed checkpoint when the proof is against it; otherwise prove
        # against an older checkpoint you hold at that size.
        "checkpoint": note if tree_size == checkpoint.size else None,
    }


def _proof(args: argparse.Namespace) -> int:
    print(json.dumps(proof_document(Path(args.data), args.entry, args.size), indent=1))
    return 0


def _witness(args: argparse.Namespace) -> int:
    if bool(args.data) == bool(args.url):
        raise AuditError("give one of --data DIR or --url URL")
    source: LogSource = DataDirSource(Path(args.data)) if args.data else HttpSource(args.url)
    state_path = Path(args.state)
    state = load_state(state_path)
    try:
        new_state, message = witness(state, source, _pinned(args))
    except VerificationFailed as exc:
        return _fail(f"witness REFUSES the checkpoint: {exc}")
    save_state(state_path, new_state)
    print(f"ok: {escape(message)}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `audit` with its subcommands to the `camhub` subparsers."""
    audit = subparsers.add_parser("audit", help="verify the audit log, print proofs, witness checkpoints")
    sub = audit.add_subparsers(dest="audit_command", required=True, metavar="SUBCOMMAND")

    verify = sub.add_parser("verify", help="recompute the log's tree and signatures; exit 1 naming the first bad entry")
    verify.add_argument("--data", required=True, help="the hub's data folder")
    verify.add_argument("--key", help="the log's verifier key, got out of band (name+id+key)")
    verify.add_argument("--deep", action="store_true", help="also parse every entry and check its canonical JSON")
    verify.set_defaults(func=_verify)

    proof = sub.add_parser("proof", help="print an entry with its inclusion proof and checkpoint, as JSON")
    proof.add_argument("--data", required=True, help="the hub's data folder")
    proof.add_argument("--size", type=int, help="prove against this tree size (default: the latest checkpoint)")
    proof.add_argument("entry", type=int, help="entry index, from 0")
    proof.set_defaults(func=_proof)

    wit = sub.add_parser("witness", help="check the log's latest checkpoint extends the ones seen before")
    wit.add_argument("--state", required=True, help="witness state file (created on first run)")
    wit.add_argument("--data", help="read the log from this data folder")
    wit.add_argument("--url", help="read the log from a hub, e.g. http://hub.local:8971")
    wit.add_argument("--key", help="trust this verifier key (default: the one in the state file, or on first use)")
    wit.set_defaults(func=_witness)
