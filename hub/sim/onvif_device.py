"""One simulated ONVIF device's device and media services, over HTTP on 127.0.0.1 (aiohttp).

`OnvifDeviceService(camera, credentials)` answers SOAP 1.2 requests at
/onvif/device_service (GetSystemDateAndTime, GetCapabilities, GetServices,
GetDeviceInformation) and /onvif/media_service (GetProfiles, GetStreamUri),
enough for an ONVIF client to find its media profiles and RTSP URIs. Every
operation but GetSystemDateAndTime needs a WS-Security UsernameToken whose
password digest (Base64(SHA-1(nonce + created + password))) matches the
credentials; anything else gets the ONVIF "Sender not Authorized" fault with
HTTP 400, as real cameras answer. Without credentials it answers anyone.

The answers are templates filled with escaped values: this is test
infrastructure standing in for a camera, not an ONVIF server.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web
from defusedxml import ElementTree

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

HOST = "127.0.0.1"
DEVICE_PATH = "/onvif/device_service"
MEDIA_PATH = "/onvif/media_service"
SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DEVICE_WSDL = "http://www.onvif.org/ver10/device/wsdl"
MEDIA_WSDL = "http://www.onvif.org/ver10/media/wsdl"
SCHEMA = "http://www.onvif.org/ver10/schema"
_ENVELOPE = (
    f'<?xml version="1.0" encoding="UTF-8"?>\n<env:Envelope xmlns:env="{SOAP}" xmlns:tds="{DEVICE_WSDL}" '
    f'xmlns:trt="{MEDIA_WSDL}" xmlns:tt="{SCHEMA}" xmlns:ter="http://www.onvif.org/ver10/error">'
    "<env:Body>{body}</env:Body></env:Envelope>"
)


@dataclass(frozen=True)
class OnvifStream:
    """One media profile: its RTSP URL (without credentials), size and profile name."""

    url: str
    width: int
    height: int
    name: str = "main"


@dataclass(frozen=True)
class OnvifCamera:
    """A simulated ONVIF camera: what its scopes and GetDeviceInformation say, and its profiles."""

    name: str
    streams: tuple[OnvifStream, ...]
    model: str = "camhub-sim"
    maker: str = "camhub"
    mac: str = "02:00:00:00:00:01"
    serial: str = ""
    firmware: str = "1.0"
    endpoint: str = field(default_factory=lambda: uuid.uuid4().urn)  # its WS-Discovery endpoint reference


class SoapFault(Exception):
    def __init__(self, code: str, subcode: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.subcode, self.reason = code, subcode, reason


class OnvifDeviceService:
    """The device and media services of one camera on 127.0.0.1; `port=0` picks a free port."""

    def __init__(self, camera: OnvifCamera, credentials: tuple[str, str] | None, port: int = 0) -> None:
        self.camera = camera
        self.credentials = credentials
        self.port = port
        self.requests: list[str] = []  # operations asked for, in order: what tests read
        self._runner: web.AppRunner | None = None
        self._operations: dict[str, Callable[[Element], str]] = {
            "GetSystemDateAndTime": self._date_and_time,
            "GetCapabilities": self._capabilities,
            "GetServices": self._services,
            "GetDeviceInformation": self._device_information,
            "GetProfiles": self._profiles,
            "GetStreamUri": self._stream_uri,
        }

    @property
    def xaddr(self) -> str:
        """The device service URL, as the WS-Discovery answer gives it."""
        return f"http://{HOST}:{self.port}{DEVICE_PATH}"

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application(client_max_size=256 * 1024)
        app.router.add_post(DEVICE_PATH, self._handle)
        app.router.add_post(MEDIA_PATH, self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, HOST, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])  # the bound port, when 0 asked for a free one

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            root = ElementTree.fromstring(await request.read(), forbid_dtd=True)
            body = root.find(f"{{{SOAP}}}Body")
            operation = body[0] if body is not None and len(body) else None
            if operation is None:
                raise SoapFault("env:Sender", "ter:InvalidArgVal", "No operation in the SOAP body")
            name = operation.tag.rsplit("}", 1)[-1]
            self.requests.append(name)
            answer = self._operations.get(name)
            if answer is None:
                raise SoapFault("env:Receiver", "ter:ActionNotSupported", f"{name} is not supported")
            if name != "GetSystemDateAndTime":
                self._authenticate(root)
            return _soap(answer(operation))
        except SoapFault as fault:
            return _fault(fault)
        except ElementTree.ParseError:
            return _fault(SoapFault("env:Sender", "ter:WellFormed", "The request is not well-formed XML"))

    def _authenticate(self, root: Element) -> None:
        if self.credentials is None:
            return
        user, password = self.credentials
        token = root.find(f".//{{{WSSE}}}UsernameToken")
        refused = SoapFault("env:Sender", "ter:NotAuthorized", "Sender not Authorized")
        if token is None or token.findtext(f"{{{WSSE}}}Username") != user:
            raise refused
        given = token.find(f"{{{WSSE}}}Password")
        if given is None or given.text is None:
            raise refused
        if given.get("Type", "").endswith("#PasswordText"):
            expected = password
        else:
            try:
                nonce = base64.b64decode(token.findtext(f"{{{WSSE}}}Nonce") or "", validate=True)
            except (binascii.Error, ValueError):
                raise refused from None
            created = token.findtext(f"{{{WSU}}}Created") or ""
            digest = hashlib.sha1(nonce + created.encode() + password.encode()).digest()
            expected = base64.b64encode(digest).decode()
        if not hmac.compare_digest(given.text.strip().encode(), expected.encode()):
            raise refused

    def _url(self, path: str) -> str:
        return escape(f"http://{HOST}:{self.port}{path}")

    def _date_and_time(self, _: Element) -> str:
        now = time.gmtime()
        return (
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType>"
            "<tt:DaylightSavings>false</tt:DaylightSavings><tt:UTCDateTime>"
            f"<tt:Time><tt:Hour>{now.tm_hour}</tt:Hour><tt:Minute>{now.tm_min}</tt:Minute>"
            f"<tt:Second>{now.tm_sec}</tt:Second></tt:Time><tt:Date><tt:Year>{now.tm_year}</tt:Year>"
            f"<tt:Month>{now.tm_mon}</tt:Month><tt:Day>{now.tm_mday}</tt:Day></tt:Date>"
            "</tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        )

    def _capabilities(self, _: Element) -> str:
        return (
            "<tds:GetCapabilitiesResponse><tds:Capabilities>"
            f"<tt:Device><tt:XAddr>{self._url(DEVICE_PATH)}</tt:XAddr></tt:Device>"
            f"<tt:Media><tt:XAddr>{self._url(MEDIA_PATH)}</tt:XAddr><tt:StreamingCapabilities>"
            "<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>"
            "<tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>"
            "</tds:Capabilities></tds:GetCapabilitiesResponse>"
        )

    def _services(self, _: Element) -> str:
        services = [(DEVICE_WSDL, DEVICE_PATH), (MEDIA_WSDL, MEDIA_PATH)]
        listed = "".join(
            f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{self._url(path)}</tds:XAddr>"
            "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
            for ns, path in services
        )
        return f"<tds:GetServicesResponse>{listed}</tds:GetServicesResponse>"

    def _device_information(self, _: Element) -> str:
        cam = self.camera
        return (
            f"<tds:GetDeviceInformationResponse><tds:Manufacturer>{escape(cam.maker)}</tds:Manufacturer>"
            f"<tds:Model>{escape(cam.model)}</tds:Model><tds:FirmwareVersion>{escape(cam.firmware)}"
            f"</tds:FirmwareVersion><tds:SerialNumber>{escape(cam.serial)}</tds:SerialNumber>"
            f"<tds:HardwareId>{escape(cam.model)}</tds:HardwareId></tds:GetDeviceInformationResponse>"
        )

    def _profiles(self, _: Element) -> str:
        profiles = "".join(_profile(index, stream) for index, stream in enumerate(self.camera.streams))
        return f"<trt:GetProfilesResponse>{profiles}</trt:GetProfilesResponse>"

    def _stream_uri(self, operation: Element) -> str:
        token = operation.findtext(f"{{{MEDIA_WSDL}}}ProfileToken") or ""
        streams = dict(_tokens(self.camera.streams))
        if token not in streams:
            raise SoapFault("env:Sender", "ter:InvalidArgVal", f"No profile {token!r}")
        return (
            f"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{escape(streams[token].url)}</tt:Uri>"
            "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false"
            "</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>"
        )


def _tokens(streams: Sequence[OnvifStream]) -> list[tuple[str, OnvifStream]]:
    return [(f"profile_{index}", stream) for index, stream in enumerate(streams)]


def _profile(index: int, stream: OnvifStream) -> str:
    return (
        f'<trt:Profiles token={quoteattr(f"profile_{index}")} fixed="true"><tt:Name>{escape(stream.name)}'
        f'</tt:Name><tt:VideoEncoderConfiguration token="encoder_{index}"><tt:Name>{escape(stream.name)}'
        "</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding><tt:Resolution>"
        f"<tt:Width>{stream.width}</tt:Width><tt:Height>{stream.height}</tt:Height></tt:Resolution>"
        "<tt:Quality>5</tt:Quality><tt:SessionTimeout>PT60S</tt:SessionTimeout>"
        "</tt:VideoEncoderConfiguration></trt:Profiles>"
    )


def _soap(body: str) -> web.Response:
    return web.Response(text=_ENVELOPE.replace("{body}", body), content_type="application/soap+xml", charset="utf-8")


def _fault(fault: SoapFault) -> web.Response:
    body = (
        f"<env:Fault><env:Code><env:Value>{fault.code}</env:Value><env:Subcode><env:Value>{fault.subcode}"
        f'</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">{escape(fault.reason)}'
        "</env:Text></env:Reason></env:Fault>"
    )
    return web.Response(
        status=400, text=_ENVELOPE.replace("{body}", body), content_type="application/soap+xml", charset="utf-8"
    )
