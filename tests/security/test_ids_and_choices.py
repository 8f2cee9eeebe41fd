"""Two 500s the schemathesis run found, each answered 400 now.

- a token id past SQLite's largest integer in `DELETE /api/auth/tokens/{id}`
  (OverflowError from sqlite3);
- a JSON object or array where a choice is expected, e.g. `{"decision": {}}`
  (TypeError: unhashable, from testing membership in a dict).
"""

from __future__ import annotations

from typing import Any

import pytest

from camhub.privacy.scope import Fields, InvalidField


@pytest.mark.parametrize("raw", ["9223372036854775808", "99999999999999999999", "0", "²", "1_0"])
async def test_a_token_id_out_of_range_or_not_ascii_digits_is_a_400(privacy_hub: Any, raw: str) -> None:
    ph = await privacy_hub(clips=[])
    owner = await ph.owner()
    async with owner.delete(f"/api/auth/tokens/{raw}") as r:
        body = await r.json()
        assert r.status == 400, body
        assert body["error"] == "invalid_request" and "token id" in body["message"]


@pytest.mark.parametrize("value", [{}, ["approve"], 1, True])
def test_a_choice_that_is_not_a_string_is_refused_by_name(value: Any) -> None:
    fields = Fields({"decision": value}, "decision")
    with pytest.raises(InvalidField, match="'decision' must be one of"):
        fields.choice("decision", {"approve": 1, "deny": 2})
