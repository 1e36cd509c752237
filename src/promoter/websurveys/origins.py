"""Allowed origins: each written as a browser sends it in ``Origin`` (scheme, host and a
port other than the scheme's default), or ``https://*.example.com`` for every subdomain
of a domain; and the CORS headers that answer an allowed origin."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

MAX_ORIGINS: Final = 50
MAX_ORIGIN: Final = 300
DEFAULT_PORTS: Final = {"http": 80, "https": 443}
WILDCARD: Final = "*."
#: A DNS label after IDNA encoding: letters, digits and inner hyphens.
LABEL: Final = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
EXAMPLE: Final = "Enter an origin such as https://app.example.com (scheme, host, optional port)."


class InvalidOrigin(ValueError):
    """Not an origin that can be allowed; the message says why."""


def _host(raw: str) -> str:
    if raw.startswith("[") and raw.endswith("]"):
        try:
            return f"[{ipaddress.IPv6Address(raw[1:-1]).compressed}]"
        except ValueError:
            raise InvalidOrigin(EXAMPLE) from None
    try:
        host = raw.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidOrigin(EXAMPLE) from None
    labels = host.split(".")
    if len(host) > 253 or not all(LABEL.fullmatch(label) for label in labels):
        raise InvalidOrigin(EXAMPLE)
    return host


def normalise_origin(value: str) -> str:
    """``value`` as the browser would send it: lowercase scheme and host, IDNA host, no
    default port, no trailing slash. ``InvalidOrigin`` for anything else (a path, a query,
    a user name, a wildcard anywhere but a leading ``*.``)."""
    text = value.strip().removesuffix("/")
    if not text or len(text) > MAX_ORIGIN or any(ch.isspace() for ch in text):
        raise InvalidOrigin(EXAMPLE)
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in DEFAULT_PORTS:
        raise InvalidOrigin("An origin starts with https:// (or http://).")
    if any(ch in rest for ch in "/?#@\\"):
        raise InvalidOrigin("An origin has no path, query, fragment or user name.")
    wildcard = rest.startswith(WILDCARD)
    if wildcard:
        rest = rest[len(WILDCARD) :]
    if "*" in rest:
        raise InvalidOrigin("A wildcard is allowed only as a leading *. (https://*.example.com).")
    try:
        parts = urlsplit(f"{scheme}://{rest}")
        port = parts.port
    except ValueError:
        raise InvalidOrigin(EXAMPLE) from None
    netloc = parts.netloc
    raw_host = netloc.rsplit(":", 1)[0] if port is not None or netloc.endswith(":") else netloc
    if not raw_host:
        raise InvalidOrigin(EXAMPLE)
    host = _host(raw_host)
    if wildcard and (host.startswith("[") or "." not in host):
        raise InvalidOrigin("A wildcard needs a domain under it: https://*.example.com.")
    shown = f"{WILDCARD}{host}" if wildcard else host
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{shown}"
    if port == 0:
        raise InvalidOrigin(EXAMPLE)
    return f"{scheme}://{shown}:{port}"


def normalise_origins(values: Iterable[str]) -> list[str]:
    """The list as stored: each normalised, duplicates dropped, order kept; at most
    ``MAX_ORIGINS``. ``InvalidOrigin`` names the first bad one."""
    found: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise InvalidOrigin(EXAMPLE)
        try:
            origin = normalise_origin(value)
        except InvalidOrigin as exc:
            raise InvalidOrigin(f"{value[:MAX_ORIGIN]!r}: {exc}") from None
        if origin not in found:
            found.append(origin)
    if len(found) > MAX_ORIGINS:
        raise InvalidOrigin(f"At most {MAX_ORIGINS} origins.")
    return found


def matches(allowed: Iterable[str], origin: str) -> bool:
    """Whether the request's ``Origin`` is one of ``allowed`` (normalised origins)."""
    try:
        given = normalise_origin(origin)
    except InvalidOrigin:
        return False
    if WILDCARD in given:
        return False
    scheme, _, host_port = given.partition("://")
    for entry in allowed:
        if entry == given:
            return True
        entry_scheme, _, pattern = entry.partition("://")
        if entry_scheme == scheme and pattern.startswith(WILDCARD):
            suffix = pattern[len(WILDCARD) - 1 :]  # ".example.com[:port]"
            host, _, port = host_port.partition(":")
            want_host, _, want_port = suffix.partition(":")
            if port == want_port and host.endswith(want_host) and len(host) > len(want_host):
                return True
    return False
