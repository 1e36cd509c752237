"""Networks written as text, as the operator lists them in settings."""

from __future__ import annotations

import ipaddress
from typing import TypeAlias

IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """``10.0.0.0/8,fd00::/8,192.0.2.7`` (commas, spaces allowed); ``ValueError`` names
    the first entry that is not a network."""
    networks = []
    for entry in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not a network like 10.0.0.0/8 or fd00::/8") from None
    return tuple(networks)
