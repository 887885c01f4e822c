"""Where this machine's orders come from: the static-IP rule for API orders.

The NSE implementation standards for retail algorithmic trading (circular NSE/INVG/67858 of
5 May 2025, under SEBI circular SEBI/HO/MIRSD/MIRSD-PoD/P/CIR/2025/0000013) make brokers
accept API orders only from a static IP address registered for the API key (Upstox: "My
Apps", a primary and an optional secondary address). mixbot cannot learn the public address
without asking a server on the internet; it can tell, from the routing table alone, the local
address outgoing connections use and whether that address is public (the machine has the
address itself, as a cloud VM with a public interface does) or private (behind NAT: the
public address is the router's or the cloud's gateway, found only from outside).
"""

from __future__ import annotations

import ipaddress
import socket

#: Documentation addresses (RFC 5737 / RFC 3849): a UDP "connect" to them picks the outgoing
#: interface from the routing table and sends no packet.
_PROBES = (("203.0.113.1", socket.AF_INET), ("2001:db8::1", socket.AF_INET6))


def outbound_addresses() -> list[str]:
    """The local source addresses this host would use for IPv4 and IPv6 internet traffic
    (none when it has no default route). Sends nothing."""
    found = []
    for target, family in _PROBES:
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.connect((target, 9))
                found.append(str(s.getsockname()[0]))
        except OSError:
            continue
    return found


def describe(addresses: list[str]) -> list[str]:
    """Lines for ``mixbot upstox status`` about the address orders leave from, given the
    outbound addresses (:func:`outbound_addresses`)."""
    public = [a for a in addresses if ipaddress.ip_address(a).is_global]
    if public:
        return [
            f"orders leave from {', '.join(public)}: a public address of this machine itself; "
            "register it as the static IP of your Upstox app (My Apps)"
        ]
    how = (
        "the public address is your router's or cloud gateway's: read it in your provider's "
        "console (a cloud VM's elastic/static IP) or from this machine with "
        "`curl https://api.ipify.org`, and register it as the static IP of your Upstox app "
        "(My Apps); orders from any other address are refused (NSE/INVG/67858)"
    )
    if not addresses:
        return [f"no route to the internet from this machine; {how}"]
    return [f"orders leave through the private address {', '.join(addresses)} (behind NAT); {how}"]
