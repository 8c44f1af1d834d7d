"""Which network addresses owd may connect to: the one rule the crawler and downloads share.

A host is checked *after* resolution (a public name can point at 127.0.0.1): loopback,
private, link-local, multicast, reserved, unspecified and other non-global addresses
are refused unless a network in ``allow_networks`` (CIDR strings, the campaign's
``network.allow_networks``) holds them. Pure decision logic, no I/O: the crawler's
resolver (owd.crawler.resolver) and owd.core.download apply it.
"""

from __future__ import annotations

import ipaddress
from typing import Sequence

__all__ = ["AddressGuard", "Network", "REFUSED_KINDS", "parse_networks"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Checked in this order; the first that applies names the refusal.
REFUSED_KINDS = ("loopback", "private", "link_local", "multicast", "reserved", "unspecified")


def parse_networks(allow_networks: Sequence[str]) -> list[Network]:
    """CIDR strings (a bare address is a /32 or /128) -> networks; ValueError names a bad one."""
    return [ipaddress.ip_network(n, strict=False) for n in allow_networks]


class AddressGuard:
    """Decides whether an address may be contacted."""

    def __init__(self, allow_networks: Sequence[str]) -> None:
        self.allow: list[Network] = parse_networks(allow_networks)

    def refusal(self, address: str) -> str | None:
        """None when allowed, else the kind of address that was refused
        (``loopback``, ``private``, ..., ``not_global``, or ``not_an_address``)."""
        try:
            ip = ipaddress.ip_address(address.strip("[]"))
        except ValueError:
            return "not_an_address"
        if any(ip in net for net in self.allow):
            return None
        for kind in REFUSED_KINDS:
            if getattr(ip, f"is_{kind}"):
                return kind
        if not ip.is_global:
            return "not_global"
        return None
