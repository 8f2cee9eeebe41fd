"""Integrations: found by manifest, loaded by one registry, failing loudly.

An integration is a package holding `manifest.json` and an `__init__.py`
with `setup(ctx: SetupContext) -> None`. Built-in ones are the folders of
`integrations/` (installed as `camhub.integrations`); third-party ones are
installed distributions with an entry point in the group
`camhub.integrations`. Both are found, checked and loaded the same way, and
setup registers what the integration offers through the context; built-in
integrations use exactly the API a third party has. docs/integrations.md
explains how to write one.

- manifest.py: the manifest's keys and their checks;
- found.py: the built-in folder and the entry point group;
- loader.py: `Registry` and `SetupContext`;
- sources.py: source integrations, their options and URL claims, and the
  streams held to their declared capabilities.
"""

from camhub.registry.found import (
    BUILTIN_DIR,
    BUILTIN_PACKAGE,
    ENTRY_POINT_GROUP,
    FoundIntegration,
    builtin_integrations,
    installed_integrations,
)
from camhub.registry.loader import Registry, SetupContext, default_registry
from camhub.registry.manifest import CAPABILITIES, KINDS, Manifest
from camhub.registry.sources import (
    DeclaredSource,
    DeclaredStream,
    InputNotClaimed,
    NoOptions,
    Options,
    SourceIntegration,
    claimant,
    url_scheme,
)

__all__ = [
    "BUILTIN_DIR",
    "BUILTIN_PACKAGE",
    "CAPABILITIES",
    "ENTRY_POINT_GROUP",
    "KINDS",
    "DeclaredSource",
    "DeclaredStream",
    "FoundIntegration",
    "InputNotClaimed",
    "Manifest",
    "NoOptions",
    "Options",
    "Registry",
    "SetupContext",
    "SourceIntegration",
    "builtin_integrations",
    "claimant",
    "default_registry",
    "installed_integrations",
    "url_scheme",
]
