"""Where integrations are found: the built-in folder and installed distributions.

Both give the same thing, a `FoundIntegration`: a package to import, the
manifest.json beside its `__init__.py`, the domain the manifest must
declare, and where it came from (for errors). Built-ins are the packages
under `camhub.integrations`, each named by its folder. A third-party one is
a distribution with an entry point in the group `camhub.integrations`, whose
name is the domain and whose value is the package:

    [project.entry-points."camhub.integrations"]
    loopfile = "camhub_loopfile"

Finding imports nothing but the parents of an entry point's package, so a
broken manifest is reported before any integration code runs.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import camhub.integrations as builtin_package
from camhub.errors import IntegrationError

ENTRY_POINT_GROUP = "camhub.integrations"
BUILTIN_PACKAGE = builtin_package.__name__
BUILTIN_DIR = Path(builtin_package.__file__ or "").resolve().parent


@dataclass(frozen=True)
class FoundIntegration:
    module: str  # the package holding setup(ctx)
    manifest_path: Path  # manifest.json, beside the package's __init__.py
    domain: str  # what its manifest must declare: the folder or entry point name
    origin: str  # for errors: "built-in camhub.integrations.rtsp", "distribution camhub-onvif 1.2 ..."


def builtin_integrations(folder: Path = BUILTIN_DIR, package: str = BUILTIN_PACKAGE) -> list[FoundIntegration]:
    """Every folder with a manifest.json under `folder`, importable as `package.<folder>`."""
    if not folder.is_dir():
        raise IntegrationError(f"{folder}: no integrations folder")
    return [
        FoundIntegration(
            module=f"{package}.{manifest.parent.name}",
            manifest_path=manifest,
            domain=manifest.parent.name,
            origin=f"built-in {package}.{manifest.parent.name}",
        )
        for manifest in sorted(folder.glob("*/manifest.json"))
    ]


def installed_integrations(group: str = ENTRY_POINT_GROUP) -> list[FoundIntegration]:
    """Every entry point of installed distributions in `group`, sorted by name."""
    return [_from_entry_point(ep) for ep in sorted(entry_points(group=group), key=lambda ep: (ep.name, ep.value))]


def _from_entry_point(ep: EntryPoint) -> FoundIntegration:
    dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else "an unnamed distribution"
    origin = f"distribution {dist} (entry point {ep.name} = {ep.value})"
    if ep.attr:
        raise IntegrationError(f"{origin}: an integration's entry point names its package, not an object in it")
    try:
        spec = importlib.util.find_spec(ep.module)
    except (ImportError, ValueError) as exc:
        raise IntegrationError(f"{origin}: cannot find package {ep.module!r}: {exc}") from None
    if spec is None:
        raise IntegrationError(f"{origin}: package {ep.module!r} is not installed")
    if not spec.submodule_search_locations:
        raise IntegrationError(f"{origin}: {ep.module!r} is a module; an integration is a package with manifest.json")
    folder = Path(next(iter(spec.submodule_search_locations)))
    return FoundIntegration(module=ep.module, manifest_path=folder / "manifest.json", domain=ep.name, origin=origin)
