"""`camhub demo`'s first minute: the dashboard answers before the simulated scenes have rendered, its
cameras saying "starting", and they come online once the simulator serves them."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from camhub.sim.render import RENDER_VERSION
from camhub.sim.scene import BUILTIN_SCENES

from ..conftest import free_port
from ..test_demo import CONFIGURED, get, owner_passwords, start_demo
from ..web.browser import dashboard

pytestmark = pytest.mark.timeout(480)


async def first_look(base: str) -> None:
    """What a newcomer sees: what to do first, and the cameras (starting, or online if rendering ended)."""
    async with dashboard(base, viewport=(375, 812)) as board:
        await board.page.get_by_text("First time here?").wait_for(timeout=15000)
        await board.page.locator("article.camera").first.wait_for(timeout=15000)
        await board.shoot("demo-first-minute")
        assert board.outside_requests() == []


def test_the_dashboard_answers_while_the_scenes_still_render(tmp_path: Path) -> None:
    port = free_port()
    proc, lines, reader = start_demo(port, tmp_path, 20)
    # The last configured scene renders last; its folder appears (by a rename) only once it is complete.
    last = BUILTIN_SCENES[CONFIGURED[-1]]
    rendered = tmp_path / "sim-cache" / f"{last.name}-{last.digest()}-v{RENDER_VERSION}"
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # how long a broken demo may take to show it, not a timing
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "".join(lines)
            try:
                cameras = json.loads(get(f"{base}/api/cameras"))
                page = get(base).decode()
                break
            except OSError:
                time.sleep(0.1)
        # The answers came before the last scene was rendered (its folder never goes away once made).
        assert not rendered.exists(), "the scenes had rendered before the dashboard answered"
        assert {c["name"]: c["state"] for c in cameras} == dict.fromkeys(CONFIGURED, "starting")
        assert "<title>camhub</title>" in page
        asyncio.run(first_look(base))
        while not owner_passwords(lines):
            assert proc.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.1)

        deadline = time.monotonic() + 240  # the scenes render now: up to a minute or two on a busy machine
        while not (cameras and all(c["online"] for c in cameras)):
            assert proc.poll() is None and time.monotonic() < deadline, (cameras, "".join(lines))
            time.sleep(0.3)
            cameras = json.loads(get(f"{base}/api/cameras"))
        assert rendered.exists()
        assert proc.wait(timeout=120) == 0, "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=10)
    printed = "".join(lines)
    assert printed.index("dashboard on") < printed.index("cameras served over"), printed
