"""ONVIF cameras: found by WS-Discovery, then asked for their streams with the owner's credentials.

Most home cameras (Reolink, Amcrest, Hikvision, Dahua, Tapo) answer ONVIF
probes but do not announce themselves over mDNS. `probe` (probe.py) sends a
WS-Discovery Probe through the configured interfaces only and reads the
answers as findings; `ask_streams` (device.py) asks one found device for its
media profiles and RTSP URIs (onvif-zeep-async). docs/discovery.md, "ONVIF".
"""

from __future__ import annotations

from camhub.integrations.onvif.device import OnvifError, ask_streams
from camhub.integrations.onvif.probe import probe
from camhub.registry import SetupContext

__all__ = ["OnvifError", "ask_streams", "probe", "setup"]


def setup(ctx: SetupContext) -> None:
    ctx.register_prober(probe, ask_streams)
