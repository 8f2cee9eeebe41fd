"""The accounts page, in Chromium against a whole hub: an owner adds a member limited to one camera (the
member then sees only that camera), issues a requester token and revokes it; and over the API, who is
refused the accounts routes, and what removing an account does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from ..privacy.conftest import NEW_PASSWORD, PrivacyHub
from ..privacy.test_consent import audit_events
from .browser import dashboard

pytestmark = pytest.mark.timeout(240)

KID_PASSWORD = "the kid's own long password"


@pytest.fixture
async def camera_hub(privacy_hub: Callable[..., Awaitable[PrivacyHub]]) -> PrivacyHub:
    """A whole hub with two enabled cameras (yard, porch), so they have cards on the home page; their
    stream address answers nothing, which leaves them offline but listed. The clock is manual."""
    return await privacy_hub(clips=[], cameras_enabled=True)


async def confirm_password(board) -> None:  # type: ignore[no-untyped-def]
    """Answer the shared fresh-password dialog that an owner action opens."""
    dialog = board.page.locator("#password-dialog")
    await dialog.wait_for(state="visible", timeout=15000)
    await dialog.locator("input[name=password]").fill(NEW_PASSWORD)
    await dialog.locator("button[value=confirm]").click()


async def test_an_owner_adds_a_member_limited_to_one_camera_who_then_sees_only_it(camera_hub: PrivacyHub) -> None:
    ph = camera_hub
    await ph.owner()
    async with dashboard(ph.url) as board:
        await board.log_in("owner", NEW_PASSWORD)
        await board.go("accounts")
        people = board.page.locator("#accounts-people")
        await people.locator("li[data-user=owner]").wait_for(timeout=15000)

        ph.clock.advance(301)  # the login's password is no longer fresh: adding asks for it again
        add = board.page.locator("form#accounts-add")
        await add.get_by_label("User name").fill("kid")
        await add.get_by_label("Role").select_option("member")
        await add.get_by_label("Every camera, also ones added later").uncheck()
        await add.get_by_label("porch").check()
        await add.get_by_role("button", name="Add").click()
        await confirm_password(board)
        secret = board.page.locator("#accounts-password .secret")
        await secret.wait_for(state="visible", timeout=15000)
        one_time = await secret.inner_text()
        assert len(one_time) >= 20
        kid_item = people.locator("li[data-user=kid]")
        await kid_item.wait_for(timeout=15000)
        assert "member" in await kid_item.inner_text()
        assert await kid_item.get_by_label("porch").is_checked()
        assert not await kid_item.get_by_label("yard").is_checked()
        await board.shoot("accounts-member-added")
        await board.page.get_by_role("button", name="I have passed it on").first.click()
        assert await secret.inner_text() == ""  # the one-time password is gone from the page
        assert board.outside_requests() == []

    async with dashboard(ph.url) as board:
        await board.page.locator("article.camera").first.wait_for(timeout=15000)
        assert await board.page.locator("article.camera").count() == 2  # status is public: both cameras
        await board.log_in("kid", one_time)
        change = board.page.locator("form#change-password")
        await change.get_by_label("Current password").fill(one_time)
        await change.get_by_label("New password").fill(KID_PASSWORD)
        await change.get_by_role("button", name="Change password").click()
        await change.wait_for(state="hidden", timeout=15000)
        await board.page.wait_for_function(
            "() => document.querySelectorAll('article.camera').length === 1", timeout=15000
        )
        assert await board.page.locator("article.camera").get_attribute("data-camera") == "porch"
        await board.go("accounts")
        await board.page.locator("#accounts-refused").wait_for(state="visible", timeout=15000)
        assert await board.page.locator("#accounts-owner").is_hidden()
        await board.shoot("accounts-member-view")
        assert board.outside_requests() == []

    kid = await ph.login("kid", KID_PASSWORD)
    async with kid.get("/api/cameras") as r:
        assert [c["name"] for c in await r.json()] == ["porch"]
    async with kid.get("/api/cameras/yard") as r:
        assert r.status == 404
    async with kid.get("/api/cameras/porch") as r:
        assert r.status == 200
    async with aiohttp.ClientSession() as anonymous, anonymous.get(ph.url + "/api/cameras") as r:
        assert [c["name"] for c in await r.json()] == ["porch", "yard"]


async def test_an_owner_removes_a_custodian_issues_a_requester_token_and_revokes_it(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    owner = await ph.owner()
    gran = await ph.account(owner, "gran", "gran's own long password", role="custodian")
    async with dashboard(ph.url) as board:
        board.page.on("dialog", lambda dialog: dialog.accept())  # "Remove gran?"
        await board.log_in("owner", NEW_PASSWORD)
        await board.go("accounts")
        person = board.page.locator("#accounts-people li[data-user=gran]")
        assert "custodian" in await person.inner_text(timeout=15000)
        await person.get_by_role("button", name="Remove gran").click()
        await person.wait_for(state="detached", timeout=15000)
        async with gran.get("/api/auth/me") as r:
            assert r.status == 401  # removed: the session ends at once

        await board.page.get_by_text("No requester tokens yet.").wait_for(timeout=15000)
        issue = board.page.locator("form#accounts-issue")
        await issue.get_by_label("Requester (who they are)").fill("officer-ruiz")
        await issue.get_by_label("What it is for").fill("parcel theft, case 7")
        await issue.get_by_label("Valid for (days)").fill("7")
        await issue.get_by_role("button", name="Issue token").click()
        secret = board.page.locator("#accounts-token .secret")
        await secret.wait_for(state="visible", timeout=15000)
        token = await secret.inner_text()
        assert token.startswith("chr_")

        officer = ph.client(token)
        async with officer.get("/api/auth/me") as r:
            assert r.status == 200 and (await r.json())["role"] == "requester"

        item = board.page.locator("#accounts-tokens li", has_text="parcel theft, case 7")
        await item.wait_for(timeout=15000)
        assert "officer-ruiz" in await item.inner_text()
        await board.shoot("accounts-token-issued")
        await item.get_by_role("button", name="Revoke").click()
        await item.get_by_text("revoked").wait_for(timeout=15000)
        assert await item.get_by_role("button", name="Revoke").is_hidden()
        await board.shoot("accounts-token-revoked")
        # Opened straight from the address with the session cookie, the page knows who is logged in.
        await board.page.reload()
        await board.page.locator("#accounts-tokens li", has_text="revoked").wait_for(timeout=15000)
        assert board.outside_requests() == []

    async with officer.get("/api/auth/me") as r:
        assert r.status == 401


async def test_members_and_requesters_are_refused_the_accounts_routes(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    owner = await ph.owner()
    kid = await ph.account(owner, "kid", KID_PASSWORD)
    officer = await ph.requester(owner, "officer-ruiz")
    attempts = [
        ("GET", "/api/accounts", None),
        ("POST", "/api/accounts", {"username": "mole", "role": "owner"}),
        ("DELETE", "/api/accounts/kid", None),
        ("POST", "/api/accounts/kid/cameras", {"cameras": ["yard"]}),
        ("POST", "/api/requesters/tokens", {"requester": "mole", "name": "x"}),
    ]
    for who, client in (("member", kid), ("requester", officer)):
        for method, path, body in attempts:
            async with client.request(method, path, json=body) as r:
                assert r.status == 403, (who, method, path, r.status, await r.text())
    async with ph.client().get("/api/accounts") as r:
        assert r.status == 401
    async with owner.get("/api/accounts") as r:
        listed = await r.json()
    assert [(a["username"], a["role"], a["cameras"]) for a in listed] == [
        ("kid", "member", None),
        ("owner", "owner", None),
    ]
    assert "mole" not in str(listed) and "officer" not in str(listed)  # requesters are listed with tokens


async def test_removing_a_member_ends_their_sessions_and_tokens_and_is_audited(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    owner = await ph.owner()
    kid = await ph.account(owner, "kid", KID_PASSWORD)
    async with kid.post("/api/auth/tokens", json={"name": "tablet"}) as r:
        tablet = ph.client((await r.json())["token"])

    ph.clock.advance(301)
    async with owner.delete("/api/accounts/kid") as r:
        assert r.status == 401 and (await r.json())["error"] == "reauth_required"
    async with owner.post("/api/auth/reauth", json={"password": NEW_PASSWORD}) as r:
        assert r.status == 200
    for name in ("owner", "nobody", "officer"):  # owners are kept; only members and custodians go
        async with owner.delete(f"/api/accounts/{name}") as r:
            assert r.status == 404, (name, await r.text())
    async with owner.delete("/api/accounts/KID") as r:  # user names compare without case
        assert r.status == 204, await r.text()
    for client in (kid, tablet):
        async with client.get("/api/auth/me") as r:
            assert r.status == 401
    async with owner.get("/api/accounts") as r:
        assert [a["username"] for a in await r.json()] == ["owner"]
    async with owner.post("/api/accounts", json={"username": "kid", "role": "member"}) as r:
        assert r.status == 409  # the name stays the removed person's
    async with owner.delete("/api/accounts/kid") as r:
        assert r.status == 404
    removed = [e for _, e in audit_events(ph.data) if e["fields"].get("key") == "accounts.kid"]
    assert [(e["event"], e["actor"], e["fields"]["old"], e["fields"]["new"]) for e in removed] == [
        ("setting_changed", "owner", "member", "removed")
    ]
