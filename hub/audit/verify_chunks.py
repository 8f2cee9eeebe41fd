"""Checking a log's entries a chunk at a time, in this process or in a second one.

`check_chunk` runs what `verify` checks of each entry (its leaf hash, its own
index) over a whole chunk with list operations, and gives back the chunk's
leaf hashes and the few entries that matter to the keys; None at the first
doubt, when the caller re-checks the chunk entry by entry, which names the
first bad entry exactly. `ChunkWorker` runs `check_chunk` over the later
chunks of a log in a spawned process while the caller checks the earlier
ones: a million entries verify in about half the time on two cores. The
worker only ever answers "these are the leaf hashes" or "look closer": the
tree, the checkpoints and every error stay with the caller, which reads any
chunk in doubt (or all of them, if the worker fails) from its own snapshot.

This module imports the standard library only: the worker loads it by its
file, without the camhub package (whose imports cost more than a 100,000
entry verification), in an isolated interpreter.
"""

from __future__ import annotations

import hashlib
import marshal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

HASH_SIZE = 32  # merkle.HASH_SIZE: SHA-256

# Indexes are unique integers: a chunk [start, end) holding end - start rows has no gap,
# so the fast way need not read them (a third of the reading time).
CHUNK_SQL = "SELECT entry, leaf_hash FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx"
ROTATION = b'"key_rotated"'


class Checked(NamedTuple):
    """A chunk whose entries all hash to their stored leaf hashes and hold their own indexes."""

    leaves: list[bytes]
    keyed: list[tuple[int, bytes]]  # (index, entry) of entry 0 and of entries that may rotate the key


def check_chunk(start: int, chunk: list[tuple[bytes, bytes]]) -> Checked | None:
    """The entries' own checks for rows `start`, `start + 1`, ... of a chunk; None if any needs a closer look."""
    if not chunk:
        return None
    entries, stored = zip(*chunk, strict=True)
    sha256 = hashlib.sha256
    leaves = [sha256(b"\x00" + entry).digest() for entry in entries]
    if leaves != list(stored):
        return None
    # The top-level "index" is the last ',"index":' (canonical order; see canonical.index_of).
    claimed = [entry[(at := entry.rfind(b',"index":') + 9) : entry.find(b",", at)] for entry in entries]
    if claimed != [b"%d" % i for i in range(start, start + len(entries))]:
        return None
    # Entries that may rotate the key are rare: one search of the joined chunk rules them out.
    keyed = (
        [(start + k, entry) for k, entry in enumerate(entries) if ROTATION in entry]
        if ROTATION in b"".join(entries)
        else []
    )
    if start == 0 and (not keyed or keyed[0][0] != 0):
        keyed.insert(0, (0, entries[0]))
    return Checked(leaves, keyed)


# What the worker sends back per chunk: its leaf hashes joined, and its keyed entries; None for a doubt.
_Answer = tuple[bytes, list[tuple[int, bytes]]] | None


def _check_range(db: Path, first: int, end: int, size: int) -> list[_Answer]:
    """The worker's work: check the chunks of `size` rows from `first` to `end`."""
    answers: list[_Answer] = []
    try:
        conn = sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True)
        try:
            conn.execute("BEGIN")
            for start in range(first, end, size):
                stop = min(start + size, end)
                chunk = conn.execute(CHUNK_SQL, (start, stop)).fetchall()
                checked = check_chunk(start, chunk) if len(chunk) == stop - start else None
                answers.append(None if checked is None else (b"".join(checked.leaves), checked.keyed))
        finally:
            conn.close()
    except Exception:
        pass  # what it could not read, the caller reads
    return answers


class ChunkWorker:
    """`check_chunk` over the chunks of `size` rows from `first` to `end` of `db`, in a second process.

    A fresh interpreter running this file, not multiprocessing: no fork of a hub with
    threads, and no re-import of whatever script the caller runs as __main__.
    """

    def __init__(self, db: Path, first: int, end: int, size: int) -> None:
        self.first, self.size = first, size
        self._answers: list[_Answer] | None = None
        args = [sys.executable, "-I", "-c", _RUN_THIS_FILE, __file__, str(db), str(first), str(end), str(size)]
        self._process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )

    def checked(self, start: int) -> Checked | None:
        """The worker's answer for the chunk at `start`; None (look closer) for a doubt or a failed worker."""
        if self._answers is None:
            self._answers = self._receive()
        n = (start - self.first) // self.size
        answer = self._answers[n] if 0 <= n < len(self._answers) else None
        if answer is None:
            return None
        blob, keyed = answer
        return Checked([blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)], keyed)

    def _receive(self) -> list[_Answer]:
        assert self._process.stdout is not None
        try:
            answers = marshal.loads(self._process.stdout.read())
        except (EOFError, ValueError, TypeError, OSError):
            return []
        return answers if isinstance(answers, list) else []

    def close(self) -> None:
        """Stop the worker (it may still be checking when the caller found a bad entry first)."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


# The worker's bootstrap: this file as a module of its own, its `main` run (argv[0] is "-c").
_RUN_THIS_FILE = (
    "import importlib.util, sys; spec = importlib.util.spec_from_file_location('camhub_verify_chunks', sys.argv[1]); "
    "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module); module.main(sys.argv[2:])"
)


def main(argv: list[str]) -> None:
    db, first, end, size = argv
    sys.stdout.buffer.write(marshal.dumps(_check_range(Path(db), int(first), int(end), int(size))))


if __name__ == "__main__":
    main(sys.argv[1:])
