"""A finished clip's pages leave the kernel's page cache: nothing reads it soon, and the next clip reuses them.

Residency is read with mincore(2) on a mapping of the file (mapping faults nothing in). A filesystem that
cannot drop its pages (tmpfs) skips the test, saying so.
"""

from __future__ import annotations

import asyncio
import ctypes
import mmap
import os
from pathlib import Path

import pytest

from camhub.bus import Bus
from camhub.recording.clipwriter import WrittenClip
from camhub.recording.finisher import ClipFinisher, ClipSaved
from camhub.store.files import release_cached
from camhub.store.index import open_index

from .test_clip_zones import T0, partial_clip

_libc = ctypes.CDLL(None, use_errno=True)


def resident_pages(path: Path) -> int:
    size = path.stat().st_size
    pages = -(-size // mmap.PAGESIZE)
    vector = (ctypes.c_ubyte * pages)()
    with open(path, "rb") as f, mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY) as mapped:
        view = (ctypes.c_char * size).from_buffer(mapped)
        try:
            if _libc.mincore(ctypes.c_void_p(ctypes.addressof(view)), ctypes.c_size_t(size), vector) != 0:
                raise OSError(ctypes.get_errno(), "mincore")
        finally:
            del view
    return sum(byte & 1 for byte in vector)


def written_and_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


@pytest.fixture
def drops_pages(tmp_path: Path) -> None:
    probe = tmp_path / "probe"
    written_and_synced(probe, os.urandom(1 << 20))
    release_cached(probe)
    if resident_pages(probe) > 0:
        pytest.skip(f"the filesystem of {tmp_path} keeps a file's pages after POSIX_FADV_DONTNEED (tmpfs?)")


def test_release_drops_a_synced_files_pages(tmp_path: Path, drops_pages: None) -> None:
    path = tmp_path / "clip.mp4"
    written_and_synced(path, os.urandom(3 << 20))
    assert resident_pages(path) > 0  # written through the cache: the release below has something to do
    release_cached(path)
    assert resident_pages(path) == 0
    assert len(path.read_bytes()) == 3 << 20  # the file itself is untouched


def test_release_of_a_missing_file_does_nothing(tmp_path: Path) -> None:
    release_cached(tmp_path / "gone.mp4")  # a clip deleted meanwhile: no error for the finisher to log


async def test_a_finished_clip_leaves_the_page_cache(tmp_path: Path, clip_mp4: Path, drops_pages: None) -> None:
    data = tmp_path / "data"
    db = open_index(data)
    bus = Bus()
    finisher = ClipFinisher(data, db, bus)
    try:
        with bus.subscribe(ClipSaved) as saved:
            partial = partial_clip(data, clip_mp4)
            assert resident_pages(partial) > 0
            finisher.submit("yard", WrittenClip(partial, T0, 2.0, 20, "h264", 320, 240), None)
            event = await asyncio.wait_for(saved.get(), 30)
        final = data / event.clip.path
        assert resident_pages(final) == 0
        assert final.stat().st_size == event.clip.bytes
    finally:
        finisher.close()
        db.close()
