"""Redaction of secrets, in one place.

Camera URLs carry passwords (rtsp://user:secret@host/...). Anything that may
reach a log line, a status field or an error message goes through `redact`.
`is_secret_key` says which config keys hold secrets, whose values no error
message echoes.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# scheme://user:password@host  -> keep the user, mask the password.
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:@/\s]*):(?P<pw>[^@/\s]*)@")
# ?password=... &passwd=... &pwd=... &token=...
_QUERY_SECRET = re.compile(r"(?i)(?P<k>[?&](?:password|passwd|pwd|pass|token|auth|key)=)[^&\s#]*")
# A key named like a secret, in any case and as part of a longer name (mqtt_password, apiKey, Secret).
_SECRET_KEY = re.compile(r"(?i)pass|pwd|secret|token|key|credential|auth|cookie|private|salt")


def is_secret_key(name: str) -> bool:
    """True for a key whose value must never be shown (password, passwd, api_key, token, ...)."""
    return bool(_SECRET_KEY.search(name))


def redact_url(url: str) -> str:
    """Return `url` with any password in the user info or query masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    netloc = parts.netloc
    if parts.password is not None:
        host = netloc.rsplit("@", 1)[1]
        netloc = f"{parts.username or ''}:{MASK}@{host}"
    return _QUERY_SECRET.sub(lambda m: m["k"] + MASK, urlunsplit(parts._replace(netloc=netloc)))


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Mask passwords in every URL inside free text, and each known secret."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _QUERY_SECRET.sub(lambda m: m["k"] + MASK, text)
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, MASK)
    return text
