"""Conformance of the built-in integrations, as Home Assistant's hassfest checks its own.

Every folder of integrations/ has a valid manifest and is loaded; every
manifest key and every built-in is documented in docs/integrations.md;
each source's options schema forbids unknown keys and describes its
fields; and each source, opened against a real server or file, gives
objects that satisfy the Source and OpenStream protocols and streams that
keep to the capabilities its manifest declares.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import pytest
from av.video.stream import VideoStream

from camhub.capture.media import OpenStream, Source
from camhub.config import InputConfig
from camhub.registry import BUILTIN_DIR, DeclaredStream, Manifest, Registry, builtin_integrations
from camhub.registry.manifest import CAPABILITIES, KEYS

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"
BUILTIN_SOURCES = ("file", "mjpeg", "rtsp", "snapshot", "stream")
BUILTIN_DISCOVERY = ("homekit", "onvif")
BUILTIN_OUTPUTS = ("mqtt",)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry().load(builtin_integrations())


def doc_rows() -> dict[str, str]:
    """Rows of the tables in docs/integrations.md, by the code word in their first cell."""
    return {m[1]: m[0] for m in re.finditer(r"^\| `([^`]+)` \|.*$", DOC.read_text(), re.MULTILINE)}


def test_every_builtin_folder_is_a_valid_loaded_integration(registry: Registry) -> None:
    folders = sorted(p.parent.name for p in BUILTIN_DIR.glob("*/manifest.json"))
    assert folders == sorted(registry.manifests) == sorted(BUILTIN_SOURCES + BUILTIN_DISCOVERY + BUILTIN_OUTPUTS)
    assert registry.source_kinds == BUILTIN_SOURCES
    assert tuple(registry.outputs) == BUILTIN_OUTPUTS
    for domain, manifest in registry.manifests.items():
        assert manifest == Manifest.read(BUILTIN_DIR / domain / "manifest.json")
        assert manifest.version and manifest.name
        assert (BUILTIN_DIR / domain / "__init__.py").read_text().startswith('"""'), f"{domain}: module docstring"
        assert registry.origins[domain] == f"built-in camhub.integrations.{domain}"
        packages = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
        assert f'"camhub.integrations.{domain}",' in packages, f"{domain}: add it to pyproject's packages"


def test_manifest_keys_capabilities_and_builtins_are_documented(registry: Registry) -> None:
    rows = doc_rows()
    missing = [key for key in (*KEYS, *CAPABILITIES) if key not in rows]
    assert not missing, f"document these in docs/integrations.md: {missing}"
    for domain, manifest in registry.manifests.items():
        row = rows.get(domain, "")
        assert row, f"docs/integrations.md: add a row for the built-in {domain!r}"
        claims = [*manifest.url_schemes, *manifest.url_paths, *manifest.capabilities]
        if domain in registry.sources:
            claims += list(registry.sources[domain].options.model_fields)
        for value in claims:
            assert f"`{value}`" in row, f"docs/integrations.md: the {domain} row lacks {value!r}"


@pytest.mark.parametrize("domain", BUILTIN_SOURCES)
def test_options_schemas_forbid_unknown_keys_and_describe_each(registry: Registry, domain: str) -> None:
    schema = registry.sources[domain].options
    assert schema.model_config.get("extra") == "forbid"
    assert schema.model_config.get("frozen") is True
    for name, field in schema.model_fields.items():
        assert field.description, f"{domain}: options.{name} needs a description"
        assert not field.is_required(), f"{domain}: options.{name} needs a default, so inputs may leave it out"


@pytest.fixture
def live_url(
    request: pytest.FixtureRequest, make_video: Callable[..., Path]
) -> Iterator[Callable[[str], tuple[str, str]]]:
    """live_url(domain) -> (a URL that domain's source can open here, the codec it serves)."""

    def url(domain: str) -> tuple[str, str]:
        if domain == "file":
            return str(make_video(size="160x120", rate=10, seconds=1, gop=5)), "h264"
        if domain == "rtsp":
            return request.getfixturevalue("rtsp_server").url("cam", "sub"), "h264"
        http_sim = request.getfixturevalue("http_sim")
        path, codec = {"mjpeg": ("mjpeg", "mjpeg"), "snapshot": ("snapshot.jpg", "mjpeg")}.get(
            domain, ("sub.h264", "h264")
        )
        return http_sim.url("cam", path), codec

    yield url


@pytest.mark.timeout(120)
@pytest.mark.parametrize("domain", BUILTIN_SOURCES)
def test_sources_satisfy_their_protocols_and_keep_their_declared_capabilities(
    registry: Registry, live_url: Callable[[str], tuple[str, str]], domain: str
) -> None:
    url, codec = live_url(domain)
    config = InputConfig(url=url)
    integration = registry.source_integration(config)
    assert integration.domain == domain  # its manifest claims the URL it serves here
    own = integration.factory(config, integration.options())
    assert isinstance(own, Source) and isinstance(own.description, str)
    source = registry.source_for(config)
    assert isinstance(source, Source) and source.description == own.description
    stream = source.open()
    try:
        assert isinstance(stream, DeclaredStream) and isinstance(stream, OpenStream)
        assert stream.info.codec == codec and stream.info.width > 0 and stream.info.height > 0
        frames: list[av.VideoFrame] = []
        for _, packet in zip(range(50), stream.packets(), strict=False):
            frames += stream.decode(packet)
            if frames:
                break
        assert frames and frames[0].width == stream.info.width
        if integration.manifest.can("stream_copy"):
            assert isinstance(stream.copy_template, VideoStream)
        else:
            assert stream.copy_template is None  # the hub re-encodes its clips
    finally:
        stream.close()


def test_a_source_never_shows_the_password_of_its_url(registry: Registry) -> None:
    for domain in BUILTIN_SOURCES:
        config = InputConfig(url="rtsp://viewer:pw-xyz-1@127.0.0.1:9/a.jpg", kind=domain)
        assert "pw-xyz-1" not in registry.source_for(config).description
