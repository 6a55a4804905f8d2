"""Who the client is: the socket peer, or behind a trusted proxy the address it forwarded.

The address feeds the per-IP limit, sessions and the audit log, so it must not be the
client's to choose: only a peer listed in TRUSTED_PROXIES is believed, and only for an address
the ip columns can hold.
"""

import ipaddress
from collections.abc import Sequence

from starlette.types import Scope

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# The ip columns of sessions and audit events are String(45): the longest IPv6 text form.
MAX_IP_LENGTH = 45


class ClientAddress:
    """Resolves a request's client address under the trusted-proxy rules."""

    def __init__(self, trusted_proxies: Sequence[IPNetwork] = ()) -> None:
        self.trusted_proxies = tuple(trusted_proxies)

    def of(self, scope: Scope) -> str:
        """The socket peer; behind a trusted proxy, the rightmost X-Forwarded-For entry that is
        not itself a trusted proxy (entries to its left could have been written by the client),
        unless that entry is not an IP address that can be stored: then the peer."""
        peer = str(scope["client"][0]) if scope.get("client") else "unknown"
        if len(peer) > MAX_IP_LENGTH:
            # A link-local IPv6 peer with a long interface name: the zone id names an
            # interface of this host, not the client, and would not fit the ip columns.
            peer = peer.partition("%")[0][:MAX_IP_LENGTH]
        if not self.trusted_proxies or not self._is_trusted(peer):
            return peer
        forwarded = [
            entry.strip()
            for name, value in scope["headers"]
            if name == b"x-forwarded-for"
            for entry in value.decode("latin-1").split(",")
        ]
        for entry in reversed(forwarded):
            if not self._is_trusted(entry):
                return entry if _is_storable_ip(entry) else peer
        return peer

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)


def _is_storable_ip(value: str) -> bool:
    """An IP address that the ip columns of sessions and audit events can hold: an IPv6
    address with a long zone id ("fe80::1%...") is one, but would fail the insert."""
    if len(value) > MAX_IP_LENGTH:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
