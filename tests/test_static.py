"""ruff (lint and format) and mypy --strict over camhub are part of the suite: scripts/check, as the README says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_and_strict_mypy_are_clean(tmp_path: Path) -> None:
    # Caches and mypy's link tree go to tmp_path: a test never writes into the checkout.
    env = {**os.environ, "CAMHUB_PYTHON": sys.executable, "CAMHUB_CHECK_DIR": str(tmp_path)}
    done = subprocess.run(
        [str(ROOT / "scripts" / "check")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"scripts/check found problems:\n{done.stdout}\n{done.stderr}"
