"""docs/accounts.md names every auth route, error key, limit and lifetime; auth stands below privacy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from camhub.auth import ROUTES, errors, schema, sessions, throttle

DOC = Path(__file__).resolve().parents[2] / "docs" / "accounts.md"


def test_docs_name_every_route_error_and_limit() -> None:
    text = DOC.read_text()
    missing = [route.path for route in ROUTES if route.path not in text]
    keys = {cls.key for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.AuthError)}
    missing += [f"`{key}`" for key in keys - {"auth_error"} if f"`{key}`" not in text]
    limits = ["ACCOUNT_LIMIT", "ADDRESS_LIMIT", "WINDOW_S", "LOCKOUT_S"]
    missing += [name for name in limits if f"`{name}` | {getattr(throttle, name):g}" not in text.replace(" s |", " |")]
    lifetimes = {
        "SESSION_IDLE_S": sessions,
        "SESSION_ABSOLUTE_S": sessions,
        "FRESH_AUTH_S": sessions,
        "TOUCH_INTERVAL_S": schema,
    }
    missing += [name for name, module in lifetimes.items() if f"`{name}`" not in text or not hasattr(module, name)]
    assert not missing, f"add to docs/accounts.md: {missing}"


def test_every_post_but_logout_is_declared_audited() -> None:
    # Each of them may write an audit entry (a login, a failed password) before it acts, so may answer 503.
    audited = {(route.method, route.path) for route in ROUTES if route.audited}
    posts = {(route.method, route.path) for route in ROUTES if route.method == "POST"}
    assert audited == posts - {("POST", "/api/auth/logout")}


def test_auth_does_not_import_privacy() -> None:
    # Privacy builds on accounts (identities, requester tokens); accounts must not need privacy back.
    code = "import sys, camhub.auth; print(sorted(m for m in sys.modules if m.startswith('camhub.privacy')))"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert found == "[]", f"importing camhub.auth loaded {found}"
