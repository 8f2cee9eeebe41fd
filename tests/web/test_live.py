"""The full-quality live stream in Chromium: it plays, by stream copy, and viewers open no codec.

A whole hub watches real simulated RTSP cameras (live_hub.py). The owner opens
"Full quality" on the H.264 camera while three HTTP clients stream the same
camera; the video element's time advances, the bytes a client received are
H.264 at the source's 1280x720 to ffprobe, and the codec contexts open in the
hub's process are the very same before and during the viewing. The H.265
camera, which Debian's Chromium cannot play through Media Source Extensions,
falls back to the low-rate view with a sentence saying why.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import aiohttp
import pytest

from ..conftest import HOUSEHOLD_PASSWORD
from .browser import dashboard
from .live_hub import DEADLINE_S, LiveHub, codec_census, live_hub

__all__ = ["live_hub"]
pytestmark = pytest.mark.timeout(300)


async def read_stream(http: aiohttp.ClientSession, into: bytearray, enough: asyncio.Event) -> None:
    async with http.get("/api/cameras/yard/live.mp4") as r:
        assert r.status == 200, await r.text()
        assert r.headers["Content-Type"].startswith('video/mp4; codecs="avc1.'), r.headers["Content-Type"]
        async for chunk in r.content.iter_any():
            into += chunk
            if len(into) > 300_000:
                enough.set()


async def test_the_owner_plays_full_quality_while_viewers_open_no_decoder_or_encoder(
    live_hub: LiveHub, tmp_path: Path
) -> None:
    before = codec_census()
    streams = [bytearray() for _ in range(3)]
    enough = [asyncio.Event() for _ in streams]
    readers = [asyncio.create_task(read_stream(live_hub.owner, s, e)) for s, e in zip(streams, enough, strict=True)]
    try:
        async with dashboard(live_hub.url) as board:
            supported = await board.page.evaluate("MediaSource.isTypeSupported('video/mp4; codecs=\"avc1.42E01E\"')")
            assert supported, "Debian's Chromium cannot play H.264 through Media Source Extensions"
            await board.log_in("owner", HOUSEHOLD_PASSWORD)
            await board.page.get_by_role("button", name="Full quality live view of yard").click()
            video = board.page.locator("dialog#full-quality video")
            await board.page.wait_for_function(
                "() => document.querySelector('dialog#full-quality video').currentTime > 0.5", timeout=30000
            )
            start = await video.evaluate("v => v.currentTime")
            await board.page.wait_for_function(
                "t => document.querySelector('dialog#full-quality video').currentTime > t + 1", arg=start, timeout=30000
            )
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in enough)), DEADLINE_S)
            assert len(live_hub.hub.fleet.live_streams["yard"].viewers) == 4
            during = codec_census()
            await board.shoot("live")

            # H.265: not playable by this Chromium, so the low-rate view, saying why.
            await board.page.get_by_role("button", name="Close").click()
            await board.page.get_by_role("button", name="Full quality live view of attic").click()
            message = board.page.locator("dialog#full-quality .message")
            await message.get_by_text("cannot play this camera's codec (H.265)").wait_for(timeout=30000)
            fallback = board.page.locator("dialog#full-quality img.fallback")
            assert await fallback.get_attribute("src") == "/api/cameras/attic/live.mjpeg"
            await board.page.wait_for_function(
                "() => document.querySelector('dialog#full-quality img.fallback').naturalWidth > 0", timeout=30000
            )
            await board.shoot("live-fallback")
            assert board.outside_requests() == []
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)

    # The same codec contexts are open with four viewers as with none: nothing decodes or encodes for them.
    assert during[1] == before[1], (before, during)

    path = tmp_path / "received.mp4"
    path.write_bytes(bytes(streams[0]))
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets", "-show_entries", "stream=codec_name,width,height,nb_read_packets",
         "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    stream = json.loads(probe.stdout)["streams"][0]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 1280, 720), stream
    assert int(stream["nb_read_packets"]) > 15, stream
