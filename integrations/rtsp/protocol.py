"""What an RTSP camera says, read with care: answers, SDP, authentication challenges.

The pieces of `camhub.integrations.rtsp.client` that parse what a camera sends
before any video: an answer's status and headers (`Answer`, bounded by
`message_length`), the video track of a DESCRIBE's SDP (`Track`: codec,
control URL, parameter sets, frame rate) and the credentials a 401 asks for
(`Digest`). Whatever this client does not handle is `Unsupported`, which
gives the camera to FFmpeg's demuxer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
from urllib.parse import urljoin

from camhub.errors import CameraAnswered, SourceError
from camhub.integrations.rtsp.depay import H264Depacketiser, H265Depacketiser

log = logging.getLogger(__name__)

MAX_HEAD = 16 * 1024  # bytes of an RTSP answer's status line and headers
MAX_BODY = 64 * 1024  # bytes of an answer's body (the SDP of DESCRIBE)
CODECS = {"H264": ("h264", H264Depacketiser), "H265": ("hevc", H265Depacketiser)}


class Unsupported(SourceError):
    """This camera needs what the client does not do; FFmpeg's demuxer reads it instead."""


class RtspError(CameraAnswered):
    """The camera answered a request with an error status (`answered`)."""


class Answer:
    """An RTSP answer: status, headers (names in lower case; repeated ones joined by a newline), body."""

    def __init__(self, head: bytes, body: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("RTSP/") or not parts[1].isdigit():
            raise SourceError(f"the camera's answer does not start with an RTSP status line: {lines[0][:80]!r}")
        self.status = int(parts[1])
        self.reason = parts[2] if len(parts) > 2 else ""
        self.headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                key = name.strip().lower()
                self.headers[key] = f"{self.headers[key]}\n{value.strip()}" if key in self.headers else value.strip()
        self.body = body


def message_length(buf: bytearray, start: int, stop: int) -> tuple[int, int] | None:
    """(end of head, end of body) of the RTSP message at buf[start:stop], or None until it is all there."""
    head_end = buf.find(b"\r\n\r\n", start, min(stop, start + MAX_HEAD + 4))
    if head_end < 0:
        if stop - start > MAX_HEAD:
            raise SourceError(f"an RTSP message from the camera has a head over {MAX_HEAD} bytes")
        return None
    match = re.search(rb"(?im)^content-length:[ \t]*(\d+)[ \t]*$", buf[start:head_end])
    digits = match.group(1).lstrip(b"0") if match else b""
    length = int(digits) if digits and len(digits) <= 9 else 0
    if len(digits) > 9 or length > MAX_BODY:
        shown = digits.decode() if len(digits) <= 60 else f"a {len(digits)}-digit number of"
        raise SourceError(f"an RTSP message from the camera has a body of {shown} bytes (at most {MAX_BODY})")
    end = head_end + 4 + length
    return (head_end, end) if stop >= end else None


def parameter_sets(codec: str, fmtp: dict[str, str]) -> bytes:
    """The SDP's out-of-band parameter sets (SPS, PPS; and VPS for H.265) as Annex B, or b"" if none or bad."""
    keys = ("sprop-parameter-sets",) if codec == "h264" else ("sprop-vps", "sprop-sps", "sprop-pps")
    out = bytearray()
    for key in keys:
        for item in fmtp.get(key, "").split(","):
            if not item:
                continue
            try:
                out += b"\x00\x00\x00\x01" + base64.b64decode(item, validate=True)
            except (binascii.Error, ValueError):
                log.info("ignoring an undecodable %s in the camera's SDP", key)
                return b""
    return bytes(out)


class Track:
    """The video track chosen from an SDP: its control URL, codec and payload parameters."""

    def __init__(self, sdp: str, base: str) -> None:
        session_control: str | None = None
        media: list[list[str]] = []
        for raw in sdp.splitlines():
            line = raw.strip()
            if line.startswith("m="):
                media.append([line])
            elif media:
                media[-1].append(line)
            elif line.startswith("a=control:"):
                session_control = line[10:].strip()
        seen: list[str] = []
        for lines in media:
            fields = lines[0][2:].split()
            if len(fields) < 4 or fields[0] != "video":
                continue
            payload = fields[3]
            rtpmap = next((ln.split(" ", 1)[1] for ln in lines if ln.startswith(f"a=rtpmap:{payload} ")), "")
            encoding = rtpmap.split("/")[0].strip().upper()
            seen.append(encoding or f"payload type {payload}")
            if encoding not in CODECS:
                continue
            self.codec, self.depacketiser = CODECS[encoding]
            fmtp_line = next((ln.split(" ", 1)[1] for ln in lines if ln.startswith(f"a=fmtp:{payload} ")), "")
            pairs = (p.partition("=") for p in fmtp_line.split(";"))
            self.fmtp = {k.strip().lower(): v.strip() for k, _, v in pairs if k.strip()}
            if self.codec == "h264" and self.fmtp.get("packetization-mode", "0") not in ("0", "1"):
                raise Unsupported("the camera sends H.264 in interleaved packetization mode")
            if self.codec == "hevc" and self.fmtp.get("sprop-max-don-diff", "0") != "0":
                raise Unsupported("the camera sends H.265 with decoding order numbers")
            control = next((ln[10:].strip() for ln in lines if ln.startswith("a=control:")), "")
            # The session's own control URL, if it gives one, is what PLAY addresses (aggregate control).
            self.aggregate = resolve(base, session_control or "")
            self.url = resolve(self.aggregate, control)
            framerate = next((ln[12:].strip() for ln in lines if ln.startswith("a=framerate:")), "")
            self.fps = parse_rate(framerate)
            self.parameter_sets = parameter_sets(self.codec, self.fmtp)
            return
        found = ", ".join(seen) if seen else "no video track"
        raise Unsupported(f"the camera's SDP offers {found}; this client reads H.264 and H.265")


def resolve(base: str, control: str) -> str:
    """An SDP control attribute against the base URL (RFC 2326 C.1.1); a URL that could not go into a request
    line (white space, control characters) is left to FFmpeg."""
    if not control or control == "*":
        url = base
    elif control.lower().startswith("rtsp://"):
        url = control
    else:
        url = urljoin(base if base.endswith("/") else base + "/", control)
    if not re.fullmatch(r"[\x21-\x7e]+", url):
        raise Unsupported("the camera's SDP gives a control URL with white space or control characters in it")
    return url


def parse_rate(text: str) -> float | None:
    try:
        rate = float(text)
    except ValueError:
        return None
    return rate if 0 < rate <= 1000 else None


class Digest:
    """HTTP Digest (RFC 2617, MD5) or Basic credentials for the requests of one session."""

    def __init__(self, challenge: str, username: str, password: str) -> None:
        self.username, self.password = username, password
        self.basic = challenge.lower().startswith("basic")
        found = {
            m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
            for m in re.finditer(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', challenge[:MAX_HEAD])
        }
        self.realm = found.get("realm", "")
        self.nonce = found.get("nonce", "")
        self.opaque = found.get("opaque")
        self.qop = "auth" if "auth" in [q.strip() for q in found.get("qop", "").split(",")] else None
        algorithm = found.get("algorithm", "MD5")
        if not self.basic and algorithm.upper() != "MD5":
            raise Unsupported(f"the camera asks for Digest authentication with {algorithm[:20]!r}")
        self.count = 0

    def header(self, method: str, uri: str) -> str:
        if self.basic:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return f"Basic {token}"

        def md5(text: str) -> str:
            return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

        ha1 = md5(f"{self.username}:{self.realm}:{self.password}")
        ha2 = md5(f"{method}:{uri}")
        fields = [
            f'username="{self.username}"',
            f'realm="{self.realm}"',
            f'nonce="{self.nonce}"',
            f'uri="{uri}"',
        ]
        if self.qop:
            self.count += 1
            nc, cnonce = f"{self.count:08x}", os.urandom(8).hex()
            response = md5(f"{ha1}:{self.nonce}:{nc}:{cnonce}:{self.qop}:{ha2}")
            fields += [f"qop={self.qop}", f"nc={nc}", f'cnonce="{cnonce}"']
        else:
            response = md5(f"{ha1}:{self.nonce}:{ha2}")
        fields.append(f'response="{response}"')
        if self.opaque is not None:
            fields.append(f'opaque="{self.opaque}"')
        return "Digest " + ", ".join(fields)


def challenge_from(header: str) -> str:
    """The challenge to answer among a 401's WWW-Authenticate headers: Digest if offered, else Basic."""
    offers = [line.strip() for line in header.split("\n") if line.strip()]
    return next((o for o in offers if o.lower().startswith("digest")), offers[0] if offers else "")
