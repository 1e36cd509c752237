"""Which addresses webhooks may be sent to: public ones, unless the operator allows more.

A target whose address is loopback, private, link-local (cloud metadata services),
unspecified, multicast or reserved would let an organization reach the server's own
network. Such targets are refused when a webhook is saved (an address written in the URL,
in any spelling the resolver accepts, and ``localhost`` names) and again each time a
delivery connects (every address the name resolves to: DNS can change after saving).
``PROMOTER_WEBHOOK_ALLOW_PRIVATE`` lifts the check; ``PROMOTER_WEBHOOK_ALLOWED_NETWORKS``
allows chosen networks.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias
from urllib.parse import urlsplit

from promoter.domain.networks import IPNetwork, parse_networks

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped ``::ffff:a.b.c.d``, 6to4)."""
    if isinstance(address, ipaddress.IPv6Address):
        return address.ipv4_mapped or address.sixtofour
    return None


def category(address: IPAddress) -> str | None:
    """What makes ``address`` non-public ("loopback", "private", ...), or ``None``."""
    address = _embedded_ipv4(address) or address
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified:
        return "unspecified"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    return None if address.is_global else "reserved"


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    """Public addresses only, unless ``allow_private``; ``allowed_networks`` are allowed
    whatever they are."""

    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def of(cls, *, allow_private: bool, allowed_networks: str) -> TargetPolicy:
        return cls(allow_private, parse_networks(allowed_networks))

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be connected to (its category), or ``None``."""
        if self.allow_private:
            return None
        kind = category(address)
        if kind is None:
            return None
        candidates = {address, _embedded_ipv4(address) or address}
        if any(a in network for a in candidates for network in self.allowed_networks):
            return None
        return kind

    def refusals(self, addresses: Iterable[IPAddress]) -> list[tuple[IPAddress, str]]:
        return [(a, kind) for a in addresses if (kind := self.refusal(a)) is not None]


class TargetRefused(Exception):
    """A delivery's target resolved to an address the policy refuses."""

    def __init__(self, address: IPAddress, kind: str) -> None:
        super().__init__(f"target address {address} is not allowed ({kind})")
        self.address = address
        self.kind = kind


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells, in any form the system resolver reads as a number
    (``2130706433``, ``0x7f.1``, ``127.1``, ``0``, IPv6 with a zone); ``None`` for a name."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _is_localhost(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


def check_url(url: str, policy: TargetPolicy) -> str | None:
    """Why the address written in ``url`` is refused, for a person; ``None`` if it is not
    an address (a name is checked when connecting) or is allowed."""
    host = urlsplit(url).hostname or ""
    address = literal_address(host)
    shown = str(address)
    if address is None and _is_localhost(host):  # RFC 6761: always loopback
        address, shown = ipaddress.IPv4Address("127.0.0.1"), f"{host} (127.0.0.1)"
    if address is None or (kind := policy.refusal(address)) is None:
        return None
    return f"Webhooks cannot be sent to {shown} ({kind} address): enter a public address."
