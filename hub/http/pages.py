"""The dashboard's page and its static files (web/, installed as camhub.web), served as they are."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from camhub.errors import NotFound
from camhub.http.apidoc import error_answer
from camhub.http.routes import Routes

# static_file serves only these: no folders, no dot files.
STATIC_FILE = r"^[^./][^/]*\.(js|css|svg)$"
INDEX_OP = {"summary": "Status page", "responses": {"200": {"description": "HTML"}}}
STATIC_OP = {
    "summary": "Script and style of the status page",
    "parameters": [
        {"name": "file", "in": "path", "required": True, "schema": {"type": "string", "pattern": STATIC_FILE}}
    ],
    "responses": {"200": {"description": "the file"}, "404": error_answer("no such file")},
}
REQUESTER_OP = {
    "summary": "The requester's page: paste a requester token, ask for footage, follow the requests",
    "responses": {"200": {"description": "HTML"}},
}
SHARE_PAGE_OP = {
    "summary": "The share-link page: what a released package holds, and its download (the link's token "
    "follows in the address's #fragment, which never reaches the hub)",
    "responses": {"200": {"description": "HTML"}},
}
ROUTES = Routes("pages")


def _html(name: str) -> web.Response:
    page = resources.files("camhub.web").joinpath(name).read_bytes()
    return web.Response(body=page, content_type="text/html", charset="utf-8")


@ROUTES.get("/", INDEX_OP)
async def index(request: web.Request) -> web.StreamResponse:
    return _html("index.html")


@ROUTES.get("/requester", REQUESTER_OP)
async def requester_page(request: web.Request) -> web.StreamResponse:
    return _html("requester.html")


@ROUTES.get("/share", SHARE_PAGE_OP)
async def share_page(request: web.Request) -> web.StreamResponse:
    return _html("share.html")


@ROUTES.get("/static/{file}", STATIC_OP)
async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["file"]
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    suffix = name[name.rfind(".") :] if "." in name else ""
    if "/" in name or name.startswith(".") or suffix not in types:
        raise NotFound(f"no static file {name!r}")
    resource = resources.files("camhub.web").joinpath(name)
    if not resource.is_file():
        raise NotFound(f"no static file {name!r}")
    return web.Response(body=resource.read_bytes(), content_type=types[suffix], charset="utf-8")
