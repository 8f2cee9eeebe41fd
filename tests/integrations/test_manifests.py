"""Every integration has a valid manifest and honours its contract; a broken one fails loudly."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from camhub.config import InputConfig
from camhub.errors import IntegrationError
from camhub.registry import BUILTIN_DIR, Manifest, Registry


def test_every_builtin_manifest_is_valid_and_loaded() -> None:
    registry = Registry().load()
    folders = sorted(p.parent.name for p in BUILTIN_DIR.glob("*/manifest.json"))
    assert folders == sorted(registry.manifests)
    assert {"rtsp", "mjpeg", "snapshot", "file", "stream"} <= set(registry.source_kinds)
    for domain, manifest in registry.manifests.items():
        assert manifest == Manifest.read(BUILTIN_DIR / domain / "manifest.json")
        assert (BUILTIN_DIR / domain / "__init__.py").read_text().startswith('"""'), f"{domain}: module docstring"


@pytest.mark.parametrize("kind", ["rtsp", "mjpeg", "snapshot", "file", "stream"])
def test_source_integrations_follow_the_source_protocol(kind: str) -> None:
    registry = Registry().load()
    source = registry.source_factory(kind)(InputConfig(url="rtsp://viewer:pw-xyz-1@127.0.0.1:9/a.jpg", kind=kind))
    assert callable(source.open)
    assert isinstance(source.description, str) and "pw-xyz-1" not in source.description


@pytest.fixture
def plugins(tmp_path: Path) -> Iterator[Path]:
    """A package of third-party integrations on sys.path, loaded by the same registry."""
    package = tmp_path / "thirdparty"
    package.mkdir()
    (package / "__init__.py").write_text("")
    sys.path.insert(0, str(tmp_path))
    try:
        yield package
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "thirdparty" or m.startswith("thirdparty.")]:
            del sys.modules[name]


def add(package: Path, folder_name: str, code: str, **manifest: object) -> None:
    folder = package / folder_name
    folder.mkdir()
    body = {"domain": folder_name, "name": folder_name.title(), "kind": "source", "version": "1.0", **manifest}
    (folder / "manifest.json").write_text(json.dumps(body))
    (folder / "__init__.py").write_text(code)


GOOD = "def setup(ctx):\n    ctx.register_source(lambda config: None)\n"


def test_third_party_integration_loads_like_a_builtin(plugins: Path) -> None:
    add(plugins, "onvif_like", GOOD, zeroconf=["_onvif._tcp.local."])
    registry = Registry().load(plugins, "thirdparty")
    assert registry.source_kinds == ("onvif_like",)
    assert registry.manifests["onvif_like"].zeroconf == ("_onvif._tcp.local.",)


@pytest.mark.parametrize(
    ("code", "manifest", "expected"),
    [
        ("raise ImportError('no module named foo')\n", {}, "'broken' failed to import: ImportError"),
        ("def setup(ctx):\n    raise RuntimeError('bad')\n", {}, "'broken' failed in setup: RuntimeError: bad"),
        ("x = 1\n", {}, "'broken' has no setup(ctx)"),
        ("def setup(ctx):\n    pass\n", {}, "'broken' registered nothing"),
        (GOOD, {"kind": "lens"}, "kind 'lens' is not one of"),
        (GOOD, {"colour": "red"}, "unknown manifest key 'colour'"),
        (GOOD, {"domain": "other"}, "must match its folder 'broken'"),
        (GOOD, {"zeroconf": "_x._tcp"}, "'zeroconf' must be a list of strings"),
        ("def setup(ctx):\n    ctx.register_output(object)\n", {}, "'broken' is a source, not an output"),
    ],
)
def test_broken_integration_fails_loudly_naming_it(
    plugins: Path, code: str, manifest: dict[str, object], expected: str
) -> None:
    add(plugins, "fine", GOOD)
    add(plugins, "broken", code, **manifest)
    with pytest.raises(IntegrationError, match="broken"):
        Registry().load(plugins, "thirdparty")
    with pytest.raises(IntegrationError) as info:
        Registry().load(plugins, "thirdparty")
    assert expected in str(info.value)


def test_unknown_source_kind_names_the_known_ones() -> None:
    with pytest.raises(
        IntegrationError, match="no source integration 'onvif'; known: file, mjpeg, rtsp, snapshot, stream"
    ):
        Registry().load().source_factory("onvif")
