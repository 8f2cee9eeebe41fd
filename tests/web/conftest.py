"""The dashboard's tests share the privacy tests' whole hub (accounts, audit, clips on disk)."""

from ..privacy.conftest import keyframe_clip, privacy_hub

__all__ = ["keyframe_clip", "privacy_hub"]
