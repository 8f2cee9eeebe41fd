"""One RTSP session over TCP, as `camhub.integrations.rtsp.client.RtspStream` uses it.

Requests are sent and answered in turn (`request`, with Basic or Digest
authentication on a 401), and then the interleaved data is read in large
pieces (`fill`) into one buffer of fixed size that its reader parses in place.
Every byte from the camera is bounded (`protocol.MAX_HEAD`, `MAX_BODY`).
"""

from __future__ import annotations

import socket
import time
from urllib.parse import unquote, urlsplit, urlunsplit

from camhub.capture.media import describe_av_error
from camhub.errors import SourceError
from camhub.integrations.rtsp.protocol import (
    MAX_BODY,
    MAX_HEAD,
    Answer,
    Digest,
    RtspError,
    Unsupported,
    challenge_from,
    message_length,
)
from camhub.redact import redact_url

RECV_SIZE = 256 * 1024  # one read: a 1080p frame's packets are some 40 kB, a keyframe a few hundred
# The buffer holds one read and what the reads before left unparsed: after a parse, a part of one interleaved
# packet (4 + 65,535 bytes) or of one RTSP message (its head and body are bounded). Only the read that brings
# an answer may leave more (a burst of the stream behind PLAY's answer), and the reads after it take only
# what fits until that is parsed (`fill`).
CAPACITY = RECV_SIZE + 4 + MAX_HEAD + MAX_BODY
USER_AGENT = "camhub"


class RtspConnection:
    """One RTSP session over TCP: requests answered in turn, then interleaved data read in large pieces."""

    def __init__(self, url: str, username: str | None, password: str | None, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() != "rtsp":
            raise Unsupported(f"the scheme {parts.scheme!r} (this client reads rtsp://)")
        if any(c in url for c in "\r\n\t "):
            raise SourceError(f"the URL has white space or a line break in it ({redact_url(url)})")
        self.username = unquote(parts.username) if parts.username is not None else username
        self.password = unquote(parts.password or "") if parts.username is not None else password
        for secret in (self.username, self.password):
            if secret is not None and any(c in secret for c in "\r\n"):
                raise SourceError("the camera's username or password has a line break in it")
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port:
            netloc += f":{parts.port}"
        self.url = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))  # no credentials
        self.shown = redact_url(url)
        self.timeout = timeout
        # Read into one buffer that never moves or grows: buf[start:end] is read and not yet parsed. A growing
        # bytearray cut at its front was copied to a new allocation at every read (bench/results/pipeline.md).
        self.buf = bytearray(CAPACITY)
        self.view = memoryview(self.buf)
        self.start = self.end = 0
        self.drained = True  # whether the last read took all the socket held (`fill`)
        self.cseq = 0
        self.session: str | None = None
        self.auth: Digest | None = None
        try:
            self.sock = socket.create_connection((host, parts.port or 554), timeout=timeout)
        except OSError as exc:  # kept as the cause: what kind of failure it was (refused, unreachable, timed out)
            raise SourceError(describe_av_error(exc, url)) from exc
        # SO_RCVBUF is left to the kernel: setting it would turn off TCP's buffer autotuning, and a paced
        # reader (`RtspStream`) needs the socket to hold a second of a 4K camera's stream.
        self.sock.settimeout(timeout)

    def fill(self, wait: bool = True) -> int:
        """One read from the socket into the buffer, of at most RECV_SIZE bytes, waiting up to the timeout: how
        many came (and `drained`: whether that was all the socket held). A closed or silent connection is a
        SourceError. Without `wait`, what the socket holds now, perhaps nothing."""
        if self.start == self.end:
            self.start = self.end = 0
        elif CAPACITY - self.end < RECV_SIZE:  # what is left unparsed moves to the front
            left = self.end - self.start
            self.view[:left] = self.view[self.start : self.end]
            self.start, self.end = 0, left
        # Less than a whole read fits only while the buffer still holds whole packets to parse: the answer to
        # PLAY may come with a burst of the stream behind it in one read.
        room = min(RECV_SIZE, CAPACITY - self.end)
        if not room:
            self.drained = False
            return 0
        try:
            got = self.sock.recv_into(self.view[self.end :], room, 0 if wait else socket.MSG_DONTWAIT)
        except BlockingIOError:
            if wait:  # a socket with a timeout never says this when waiting; treated as silent all the same
                raise SourceError(f"timed out waiting for the camera ({self.shown})") from None
            self.drained = True
            return 0
        except OSError as exc:  # TimeoutError included
            raise SourceError(describe_av_error(exc, self.shown)) from None
        if not got:
            raise SourceError(f"the camera closed the connection ({self.shown})")
        self.end += got
        self.drained = got < room  # the read took all the socket held
        return got

    def send(self, method: str, url: str, headers: dict[str, str] | None = None) -> int:
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}", f"User-Agent: {USER_AGENT}"]
        if self.session is not None:
            lines.append(f"Session: {self.session}")
        if self.auth is not None:
            lines.append(f"Authorization: {self.auth.header(method, url)}")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        try:
            self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        except OSError as exc:
            raise SourceError(describe_av_error(exc, self.shown)) from None
        return self.cseq

    def request(self, method: str, url: str, headers: dict[str, str] | None = None) -> Answer:
        """Send a request and wait for its answer; a 401 is answered once with the credentials given."""
        answer = self._exchange(method, url, headers)
        if answer.status == 401 and self.auth is None and self.username is not None:
            challenge = challenge_from(answer.headers.get("www-authenticate", ""))
            if challenge:
                self.auth = Digest(challenge, self.username, self.password or "")
                answer = self._exchange(method, url, headers)
        if answer.status == 401:
            raise RtspError(f"authentication failed (401): check the username and password ({self.shown})", 401)
        if answer.status == 403:
            raise RtspError(f"access forbidden (403) ({self.shown})", 403)
        if answer.status == 404:
            raise RtspError(f"not found on the camera (404): check the path in the URL ({self.shown})", 404)
        if answer.status in (300, 301, 302, 303, 305, 307, 461):
            raise Unsupported(f"the camera answered {method} with {answer.status} {answer.reason[:60]}")
        if not 200 <= answer.status < 300:
            raise RtspError(
                f"the camera answered {method} with {answer.status} {answer.reason[:60]} ({self.shown})", answer.status
            )
        return answer

    def _exchange(self, method: str, url: str, headers: dict[str, str] | None) -> Answer:
        cseq = self.send(method, url, headers)
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self.take_message()
            if answer is not None:
                if answer.headers.get("cseq", "").strip() == str(cseq):
                    return answer
                continue  # an answer to an earlier request (a keep-alive), or a request from the server
            if time.monotonic() > deadline:
                raise SourceError(f"timed out waiting for the camera ({self.shown})")
            self.fill()

    def take_message(self) -> Answer | None:
        """The RTSP message next in the buffer, taken from it; interleaved data before it is skipped."""
        buf, pos, end = self.buf, self.start, self.end
        while pos < end and buf[pos] == 0x24:  # data before the answer (PLAY's stream may start first)
            if end - pos < 4 or end - pos < 4 + ((buf[pos + 2] << 8) | buf[pos + 3]):
                break
            pos += 4 + ((buf[pos + 2] << 8) | buf[pos + 3])
        self.start = pos
        if pos == end or buf[pos] == 0x24:
            return None
        if not buf[pos : pos + 1].isalpha():
            raise SourceError(f"the camera sent bytes that are neither RTSP nor RTP data ({self.shown})")
        ends = message_length(buf, pos, end)
        if ends is None:
            return None
        head_end, stop = ends
        message = bytes(buf[pos:stop])
        self.start = stop
        if not message.startswith(b"RTSP/"):
            return None  # a request from the server (ANNOUNCE, SET_PARAMETER): not acted on
        return Answer(message[: head_end - pos], message[head_end - pos + 4 :])

    def close(self) -> None:
        if self.session is not None:
            try:
                self.sock.settimeout(0.5)
                self.send("TEARDOWN", self.url)
            except (SourceError, OSError):
                pass  # the connection is going anyway
        self.sock.close()
