"""The address a login comes from, behind trusted reverse proxies (X-Forwarded-For).

Written here rather than taken from aiohttp-remotes: its filtered mode believes the header
whoever sends it (a client talking to the service directly could pick any address and so
escape the login limit), and its strict mode refuses every request that did not come through
the proxies, which would lock out health checks and people on the same host.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address

Network = IPv4Network | IPv6Network


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]
) -> str:
    """The peer, unless it is a trusted proxy: then walk X-Forwarded-For from its right end
    (each proxy appends the address it saw) while the hops are trusted proxies too; the first
    other address is the client. Entries left of it were written by the client: ignored."""
    hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
    chain = [peer or "", *reversed(hops)]
    for hop in chain:
        try:
            address = ip_address(hop)
        except ValueError:
            return hop  # what the last trusted proxy said, even if it is not an address
        if not any(address in network for network in trusted):
            return str(address)
    return chain[-1]  # every hop is a proxy of ours: the farthest is the best we know
