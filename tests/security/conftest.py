"""Fixtures for the security regression tests, shared with the tests they mirror.

The attacks here hit the same real hubs the area tests use: `privacy_hub`
(a whole hub with clips, accounts, privacy and audit log, over HTTP) and
`auth_hub` (accounts alone on a real aiohttp server). They are imported from
those conftests rather than copied, so a fix to a fixture reaches both.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def _load(relative: str, name: str) -> ModuleType:
    path = Path(__file__).parent.parent / relative
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


_privacy = _load("privacy/conftest.py", "camhub_tests_privacy_conftest")
_auth = _load("auth/conftest.py", "camhub_tests_auth_conftest")

keyframe_clip = _privacy.keyframe_clip
privacy_hub = _privacy.privacy_hub
auth_hub = _auth.hub
PrivacyHub = _privacy.PrivacyHub
AuthHub = _auth.AuthHub
PASSWORD = _auth.PASSWORD
