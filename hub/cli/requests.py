"""`camhub requests`: list, show and decide outside requests from the command line.

It talks to the running hub's API (the hub alone writes the audit log), as
an owner who logs in with a password: from `--password-file`, the
CAMHUB_PASSWORD environment variable, or a prompt. A login counts as a
fresh password, so deciding works without a separate re-authentication.
Exit codes: 0 done, 1 the hub refused (its message is printed), 2 the hub
cannot be reached or the command is wrong.

Everything a requester wrote is printed through `camhub.terminal`: escaped,
in quotes, a multi-line purpose or message as indented continuation lines.
"""

from __future__ import annotations

import argparse
import getpass
import http.cookiejar
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from camhub.clock import utc_text
from camhub.errors import HubError
from camhub.terminal import escape, quote

DEFAULT_URL = "http://127.0.0.1:8971"


class Api:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"} if data else {}
        )
        try:
            with self._opener.open(request, timeout=60) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("message", exc.reason)
            except ValueError:
                message = exc.reason
            raise RequestFailed(f"{method} {path}: {exc.code} {message}") from None
        except urllib.error.URLError as exc:
            raise HubError(f"cannot reach the hub at {self.url} ({exc.reason}); is it running? (--url)") from None


class RequestFailed(HubError):
    """The hub refused; the message is the hub's."""


def _password(args: argparse.Namespace) -> str:
    if args.password_file:
        try:
            return open(args.password_file, encoding="utf-8").read().rstrip("\n")
        except OSError as exc:
            raise HubError(f"--password-file {args.password_file}: {exc.strerror}") from None
    if os.environ.get("CAMHUB_PASSWORD"):
        return os.environ["CAMHUB_PASSWORD"]
    if not sys.stdin.isatty():
        raise HubError("no password: give --password-file or set CAMHUB_PASSWORD (there is no terminal to ask on)")
    return getpass.getpass(f"password for {args.user}: ")


CONTINUED = " " * 12 + "| "  # a line of a multi-line field, indented deeper than every label


def _summary(r: dict[str, Any]) -> str:
    return (
        f"{escape(r['id'])}  {escape(r['state']):<8}  {quote(r['requester'])} ({quote(r['organisation'])})  "
        f"{escape(', '.join(r['cameras']))}  {utc_text(r['start_s'])} to {utc_text(r['end_s'])}  "
        f"expires {utc_text(r['expires_s'])}"
    )


def _origin(card: dict[str, Any]) -> str:
    """Which account and token sent a request, and how each came to exist (owners only see this)."""
    account, token = card["account"], card["token"]
    made = (
        "registered itself"
        if account["origin"] == "self_registered"
        else f"made by owner {quote(account['created_by'] or '?')}"
    )
    issued = f"issued by {quote(token['issued_by'])}" if token["issued_by"] else "its registration token"
    return (
        f"account {quote(account['account'])} ({quote(account['display_name'])}, {made}), "
        f"token {token['id']} {quote(token['name'])} ({issued}; sees {escape(token['sees'])})"
    )


def _details(r: dict[str, Any]) -> str:
    case = quote(r["case_reference"]) if r["case_reference"] else "-"
    lines = [
        _summary(r),
        f"  who:      {quote(r['identity'])}, {quote(r['organisation'])}, {quote(r['contact'])}",
        f"  purpose:  {quote(r['purpose'], CONTINUED)}",
        f"  case:     {case}",
        *([f"  basis:    {quote(r['legal_basis'], CONTINUED)}"] if r.get("legal_basis") else []),
        f"  wanted by {utc_text(r['wanted_by_s'])}",
    ]
    if r.get("submitted_by"):
        lines.append(f"  from:     {_origin(r['submitted_by'])}")
    if r.get("granted"):
        g = r["granted"]
        clips = f", clips {escape(g['clip_ids'])}" if g["clip_ids"] else ""
        lines.append(
            f"  granted:  {escape(', '.join(g['cameras']))} {utc_text(g['start_s'])} to {utc_text(g['end_s'])}{clips}"
        )
    for vote in r.get("votes", []):
        lines.append(f"  vote:     {quote(vote['owner'])} {escape(vote['decision'])} at {utc_text(vote['at_s'])}")
    if r.get("message"):
        lines.append(f"  message:  {quote(r['message'], CONTINUED)}")
    if r.get("share_link"):
        link = r["share_link"]
        lines.append(
            f"  link:     {escape(link['url'])} ({link['downloads']} of {link['max_downloads']} downloads, "
            f"until {utc_text(link['expires_s'])}{', revoked' if link['revoked_s'] else ''})"
        )
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    try:
        return _act(args)
    except RequestFailed as exc:
        print(f"camhub requests: {escape(exc)}", file=sys.stderr)
        return 1


def _act(args: argparse.Namespace) -> int:
    api = Api(args.url)
    api.call("POST", "/api/auth/login", {"username": args.user, "password": _password(args)})
    if args.action == "list":
        query = f"?state={args.state}" if args.state else ""
        found = api.call("GET", f"/api/requests{query}")
        for r in found:
            print(json.dumps(r, sort_keys=True) if args.json else _summary(r))
        if not found and not args.json:
            print("no requests" + (f" {args.state}" if args.state else ""))
        return 0
    if args.action == "show":
        r = api.call("GET", f"/api/requests/{urllib.parse.quote(args.id, safe='')}")
        print(json.dumps(r, sort_keys=True, indent=2) if args.json else _details(r))
        return 0
    body: dict[str, Any] = {"decision": args.decision}
    if args.cameras:
        body["cameras"] = [c.strip() for c in args.cameras.split(",") if c.strip()]
    for name in ("start", "end", "message"):
        value = getattr(args, name)
        if value is not None:
            body[name] = int(value) if name != "message" and value.isdigit() else value
    if args.clips:
        try:
            body["clip_ids"] = [int(c) for c in args.clips.split(",")]
        except ValueError:
            raise HubError(f"--clips {args.clips!r}: give clip ids separated by commas, e.g. 12,15") from None
    narrowing = any(k in body for k in ("cameras", "start", "end", "clip_ids"))
    if narrowing and args.decision != "narrow":
        raise HubError("--cameras, --start, --end and --clips go with --narrow")
    r = api.call("POST", f"/api/requests/{urllib.parse.quote(args.id, safe='')}/decision", body)
    print(json.dumps(r, sort_keys=True, indent=2) if args.json else _details(r))
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("requests", help="list, show and decide outside requests for footage (as an owner)")
    p.add_argument("--url", default=DEFAULT_URL, help=f"the hub (default {DEFAULT_URL})")
    p.add_argument("--user", default="owner", help="owner user name (default owner)")
    p.add_argument("--password-file", help="read the password from this file (else CAMHUB_PASSWORD, else a prompt)")
    actions = p.add_subparsers(dest="action", required=True)
    ls = actions.add_parser("list", help="requests, newest first")
    ls.add_argument("--state", choices=("pending", "approved", "narrowed", "denied", "expired"))
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    show = actions.add_parser("show", help="one request in full")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    decide = actions.add_parser("decide", help="approve, narrow or deny a request")
    decide.add_argument("id")
    verb = decide.add_mutually_exclusive_group(required=True)
    verb.add_argument("--approve", dest="decision", action="store_const", const="approve")
    verb.add_argument("--narrow", dest="decision", action="store_const", const="narrow")
    verb.add_argument("--deny", dest="decision", action="store_const", const="deny")
    decide.add_argument("--cameras", help="narrow: comma-separated camera names")
    decide.add_argument("--start", help="narrow: Unix seconds or ISO 8601 with a zone")
    decide.add_argument("--end", help="narrow: Unix seconds or ISO 8601 with a zone")
    decide.add_argument("--clips", help="narrow: only these clip ids, comma-separated")
    decide.add_argument("--message", help="a message to the requester")
    decide.add_argument("--json", action="store_true")
    p.set_defaults(func=_run)
