"""Third-party integrations load like the built-in ones, and a broken one fails loudly, naming itself.

Each test writes installed distributions into a temporary site folder: a
package with manifest.json and a `*.dist-info` with METADATA and
entry_points.txt, which is what pip leaves and what importlib.metadata
reads. The folder is put on sys.path for the test only.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from camhub.config import InputConfig, parse_config
from camhub.errors import ConfigError, IntegrationError
from camhub.registry import ENTRY_POINT_GROUP, Registry, builtin_integrations, installed_integrations

GOOD = """
from camhub.registry import Options

class Settings(Options):
    level: int = 1

class Source:
    def __init__(self, config, options):
        self.description = f"level {options.level}"
        self.url = config.url

    def open(self):
        raise NotImplementedError

def setup(ctx):
    ctx.register_source(Source, options=Settings)
"""

Install = Callable[..., Path]


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """install(dist, domain, code, entry_point=package, manifest={...}) into a site folder on sys.path."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    packages: list[str] = []

    def install(
        dist: str,
        domain: str,
        code: str = GOOD,
        entry_point: str | None = None,
        manifest: dict[str, Any] | None = None,
    ) -> Path:
        package = f"{dist.replace('-', '_')}_{domain}"
        packages.append(package)
        folder = site / package
        folder.mkdir()
        (folder / "__init__.py").write_text(code)
        body = {"domain": domain, "name": domain.title(), "kind": "source", "version": "1.0", "url_schemes": [domain]}
        (folder / "manifest.json").write_text(json.dumps({**body, **(manifest or {})}))
        info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        with (info / "entry_points.txt").open("a") as f:
            f.write(f"[{ENTRY_POINT_GROUP}]\n{domain} = {entry_point or package}\n")
        importlib.invalidate_caches()
        return folder

    yield install
    for name in [m for m in sys.modules if m.split(".")[0] in packages]:
        del sys.modules[name]


def test_an_installed_distribution_is_found_by_its_entry_point_and_loaded_like_a_builtin(install: Install) -> None:
    install("camhub-onvif-like", "onvif_like", manifest={"zeroconf": ["_onvif._tcp.local."], "url_schemes": ["onvif"]})
    [found] = installed_integrations()
    assert found.domain == "onvif_like" and "distribution camhub-onvif-like 1.0" in found.origin
    registry = Registry().load()
    assert registry.source_kinds == ("file", "mjpeg", "onvif_like", "rtsp", "snapshot", "stream")
    assert "_onvif._tcp.local." in registry.zeroconf_types() and "_rtsp._tcp.local." in registry.zeroconf_types()
    config = parse_config(
        {"cameras": {"door": {"inputs": [{"url": "onvif://10.0.0.9/1", "options": {"level": 3}}]}}},
        integrations=registry,
    )
    source = registry.source_for(config.cameras["door"].inputs[0])
    assert source.description == "level 3"
    with pytest.raises(ConfigError, match=r"cameras.door.inputs\[0\].options.level Input should be a valid integer"):
        parse_config(
            {"cameras": {"door": {"inputs": [{"url": "onvif://h/1", "options": {"level": "high"}}]}}},
            integrations=registry,
        )


def test_two_integrations_claiming_one_domain_is_an_error_naming_both(install: Install) -> None:
    install("camhub-rtsp-plus", "rtsp")
    with pytest.raises(IntegrationError) as info:
        Registry().load()
    assert str(info.value) == (
        "integration 'rtsp' is claimed twice: by built-in camhub.integrations.rtsp and by distribution "
        "camhub-rtsp-plus 1.0 (entry point rtsp = camhub_rtsp_plus_rtsp)"
    )
    install("camhub-other", "rtsp")  # a second distribution claiming it too
    with pytest.raises(IntegrationError, match=r"camhub-other 1.0 .* and by distribution camhub-rtsp-plus"):
        Registry().load(installed_integrations())


def test_integrations_claiming_one_url_alike_make_inputs_choose(install: Install) -> None:
    install("camhub-mjpeg-plus", "mjpeg_plus", manifest={"url_schemes": ["http"]})
    registry = Registry().load()
    with pytest.raises(ConfigError, match=r"inputs\[0\].url is claimed by several source integrations \(mjpeg, mj"):
        parse_config({"cameras": {"c": {"inputs": [{"url": "http://h/video"}]}}}, integrations=registry)
    config = parse_config(
        {"cameras": {"c": {"inputs": [{"url": "http://h/video", "kind": "mjpeg_plus"}]}}}, "c", registry
    )
    assert registry.source_integration(config.cameras["c"].inputs[0]).domain == "mjpeg_plus"
    # A path glob is more specific than a scheme alone, so snapshots stay with the built-in.
    assert registry.source_integration(InputConfig(url="http://h/snapshot.jpg")).domain == "snapshot"


@pytest.mark.parametrize(
    ("code", "manifest", "expected"),
    [
        ("raise ImportError('no module named foo')\n", {}, "'broken' (distribution broken-dist 1.0 "),
        ("raise ImportError('no module named foo')\n", {}, "failed to import: ImportError: no module named foo"),
        ("def setup(ctx):\n    raise RuntimeError('bad')\n", {}, "'broken' (distribution broken-dist"),
        ("def setup(ctx):\n    raise RuntimeError('bad')\n", {}, "failed in setup: RuntimeError: bad"),
        ("x = 1\n", {}, "has no setup(ctx) function"),
        ("def setup(ctx):\n    pass\n", {}, "registered no source in setup()"),
        (GOOD, {"kind": "notifier"}, "kind 'notifier' is not one of source, discovery, output"),
        (GOOD, {"colour": "red"}, "unknown manifest key 'colour'"),
        (GOOD, {"dependencies": ["onvif-zeep"]}, "unknown manifest key 'dependencies'"),
        (GOOD, {"domain": "other"}, "domain 'other' must be the name it is found by, 'broken'"),
        (GOOD, {"zeroconf": "_x._tcp"}, "'zeroconf' must be a list of service types or matchers"),
        (GOOD, {"zeroconf": ["onvif"]}, "zeroconf type 'onvif' must look like '_rtsp._tcp.local.'"),
        (GOOD, {"url_schemes": []}, "a source declares the URL schemes it reads in 'url_schemes'"),
        (GOOD, {"url_schemes": ["RTSP"]}, "URL scheme 'RTSP' must be lower-case"),
        (GOOD, {"capabilities": ["teleport"]}, "capability 'teleport' is not one of stream_copy"),
        (
            GOOD.replace("(Options)", "(BaseModel)").replace(
                "import Options", "import Options\nfrom pydantic import BaseModel"
            ),
            {},
            "must forbid unknown keys",
        ),
        (GOOD + "    ctx.register_source(Source, options=Settings)\n", {}, "'broken' registers a source twice"),
    ],
)
def test_a_broken_integration_fails_loudly_naming_it(
    install: Install, code: str, manifest: dict[str, Any], expected: str
) -> None:
    install("fine-dist", "fine")
    install("broken-dist", "broken", code, manifest=manifest)
    with pytest.raises(IntegrationError) as info:
        Registry().load(installed_integrations())
    assert "broken-dist" in str(info.value) or "'broken'" in str(info.value)
    assert expected in str(info.value)


def test_a_broken_entry_point_names_its_distribution(install: Install, tmp_path: Path) -> None:
    install("object-dist", "pointy", entry_point="object_dist_pointy:Source")
    with pytest.raises(IntegrationError, match=r"distribution object-dist 1.0 .*names its package, not an object"):
        Registry().load(installed_integrations())


@pytest.mark.parametrize(
    ("entry_point", "expected"),
    [
        ("not_installed_anywhere", "package 'not_installed_anywhere' is not installed"),
        ("json.decoder", "'json.decoder' is a module; an integration is a package with manifest.json"),
    ],
)
def test_an_entry_point_to_no_package_names_its_distribution(install: Install, entry_point: str, expected: str) -> None:
    install("lost-dist", "lost", entry_point=entry_point)
    with pytest.raises(IntegrationError) as info:
        Registry().load(installed_integrations())
    assert "distribution lost-dist 1.0 (entry point lost = " in str(info.value)
    assert expected in str(info.value)


def test_a_package_without_manifest_is_named(install: Install) -> None:
    folder = install("bare-dist", "bare")
    (folder / "manifest.json").unlink()
    with pytest.raises(IntegrationError, match=r"distribution bare-dist 1.0 .*: .*manifest.json: cannot read manifest"):
        Registry().load(installed_integrations())


def test_builtins_alone_need_no_distribution() -> None:
    assert Registry().load(builtin_integrations()).source_kinds == ("file", "mjpeg", "rtsp", "snapshot", "stream")


def test_options_of_a_config_built_without_parse_config_are_checked_when_the_source_is_made() -> None:
    registry = Registry().load(builtin_integrations())
    config = InputConfig(url="http://u:pw-777@h/a.jpg", options={"poll_interval": -1})
    with pytest.raises(ConfigError) as info:
        registry.source_for(config)
    assert str(info.value) == (
        "options.poll_interval of the snapshot input http://u:***@h/a.jpg: Input should be greater than 0"
    )
