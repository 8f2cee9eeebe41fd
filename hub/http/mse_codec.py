"""The codecs string a browser's Media Source Extensions needs for a camera's H.264 or H.265 stream.

It is read from the stream's parameter sets: the decoder configuration record
an MP4 carries (avcC, hvcC), or the SPS itself in Annex B form (start codes, as
RTSP's SDP and raw streams give it). `parameter_sets` finds those in a
keyframe, for cameras that send them only in-band.
"""

from __future__ import annotations

import re

START_CODE = re.compile(b"\x00\x00\x01")
H264_PARAMETER_SETS = (7, 8)  # SPS, PPS
HEVC_PARAMETER_SETS = (32, 33, 34)  # VPS, SPS, PPS
H264_SPS = 7
HEVC_SPS = 33


def annexb_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream (start-code separated); [] when it has no start code."""
    starts = [m.end() for m in START_CODE.finditer(data)]
    units = []
    for i, start in enumerate(starts):
        end = starts[i + 1] - 3 if i + 1 < len(starts) else len(data)
        unit = data[start:end].rstrip(b"\x00") if i + 1 < len(starts) else data[start:end]
        if unit:
            units.append(unit)
    return units


def _nal_type(codec: str, unit: bytes) -> int:
    return unit[0] & 0x1F if codec == "h264" else (unit[0] >> 1) & 0x3F


def parameter_sets(codec: str, keyframe: bytes) -> bytes:
    """The parameter sets (SPS, PPS, and for H.265 the VPS) of an Annex B keyframe, as Annex B; b"" if none."""
    wanted = H264_PARAMETER_SETS if codec == "h264" else HEVC_PARAMETER_SETS if codec == "hevc" else ()
    units = [u for u in annexb_units(keyframe) if _nal_type(codec, u) in wanted]
    return b"".join(b"\x00\x00\x00\x01" + u for u in units)


def _sps(codec: str, extradata: bytes) -> bytes | None:
    wanted = H264_SPS if codec == "h264" else HEVC_SPS
    return next((u for u in annexb_units(extradata) if _nal_type(codec, u) == wanted), None)


def _unescape(unit: bytes) -> bytes:
    """A NAL unit without its emulation prevention bytes (00 00 03 -> 00 00)."""
    return unit.replace(b"\x00\x00\x03", b"\x00\x00")


def mse_codec(codec: str, extradata: bytes) -> str:
    """`avc1.PPCCLL` or `hev1.…` for the stream; just the sample entry's name when its SPS cannot be found."""
    if codec == "h264":
        if extradata[:1] == b"\x01" and len(extradata) >= 4:  # avcC: profile, constraints, level
            profile = extradata[1:4]
        else:
            sps = _sps(codec, extradata)
            if sps is None or len(sps) < 4:
                return "avc1"
            profile = _unescape(sps)[1:4]
        return "avc1." + profile.hex().upper()
    if codec == "hevc":
        if extradata[:1] == b"\x01" and len(extradata) >= 13:  # hvcC: profile_tier_level from byte 1
            ptl = extradata[1:13]
        else:
            sps = _sps(codec, extradata)
            if sps is None:
                return "hev1"
            # After the 2-byte NAL header and one byte of ids, the SPS's profile_tier_level is byte aligned.
            ptl = _unescape(sps)[3:15]
            if len(ptl) < 12:
                return "hev1"
        return _hevc_codec(ptl)
    return codec


def _hevc_codec(ptl: bytes) -> str:
    """ISO/IEC 14496-15 E.3: hev1.<space><profile>.<compat, bit-reversed>.<tier><level>[.<constraint bytes>]."""
    space = "", "A", "B", "C"
    profile = f"{space[ptl[0] >> 6]}{ptl[0] & 0x1F}"
    compat = int(f"{int.from_bytes(ptl[1:5], 'big'):032b}"[::-1], 2)
    tier = "H" if ptl[0] & 0x20 else "L"
    constraints = ptl[5:11].rstrip(b"\x00")
    parts = ["hev1", profile, f"{compat:X}", f"{tier}{ptl[11]}", *(f"{b:X}" for b in constraints)]
    return ".".join(parts)
