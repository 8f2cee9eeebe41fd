"""HomeKit cameras (category 17) and video doorbells (18): found, shown, and not adoptable.

A HomeKit camera streams only to the Apple home hub it is paired with, over
HomeKit's own encrypted protocol; camhub cannot read it. Listing it still
helps: the owner sees the device and why it cannot be recorded, and many
such cameras also offer RTSP or ONVIF, found under their own announcements.
"""

from __future__ import annotations

from camhub.discovery.describe import finding_from
from camhub.discovery.model import Finding, ServiceRecord
from camhub.registry import SetupContext

CATEGORIES = {"17": "camera", "18": "video doorbell"}
WHY_NOT = (
    "a HomeKit {what} streams only to the Apple home hub it is paired with; camhub cannot read it. "
    "Look for the same device under RTSP or ONVIF, or enable RTSP in its app"
)


def describe(record: ServiceRecord) -> Finding | None:
    what = CATEGORIES.get(record.properties.get("ci", ""))
    if what is None:
        return None
    # HAP's "id" is a stable device id shaped like a MAC address; "md" is the model.
    return finding_from(
        record, "homekit", adoptable=False, reason=WHY_NOT.format(what=what), mac=record.properties.get("id")
    )


def setup(ctx: SetupContext) -> None:
    ctx.register_zeroconf(describe)
