"""AMI over TLS (Asterisk's ``tlsenable`` in manager.conf) and the warnings about clear text.

AMI in clear text carries the login secret and every caller's number; across a network
anyone on the path reads them and can inject actions. Loopback never leaves the machine, so
clear text there is fine; anywhere else the link warns at start unless ``tls`` is on.
"""

from __future__ import annotations

import ipaddress
import ssl

from callcenter.settings import PbxSettings

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """True for a loopback address or name; a name is never resolved (no DNS at start)."""
    if host.lower().rstrip(".") in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def client_context(pbx: PbxSettings) -> ssl.SSLContext | None:
    """The TLS context for ``pbx``'s AMI connection, or None for clear text.

    With ``tls_verify`` (the default) the certificate must chain to ``tls_ca_file`` (or the
    system's CAs) and name ``host``. Raises ``ssl.SSLError``/``OSError`` for an unreadable CA
    file: both are connection failures to the link (logged, retried).
    """
    if not pbx.tls:
        return None
    cafile = str(pbx.tls_ca_file) if pbx.tls_ca_file is not None else None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    if not pbx.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def transport_warnings(pbx: PbxSettings) -> list[str]:
    """What is unsafe about how ``pbx`` is reached, one sentence each (logged at link start)."""
    if not pbx.tls:
        if is_loopback(pbx.host):
            return []
        return [
            f"AMI to {pbx.host}:{pbx.port} is clear text: the secret and call data cross the "
            "network readable; set tls = true (manager.conf tlsenable)"
        ]
    if not pbx.tls_verify:
        return [
            f"AMI TLS to {pbx.host}:{pbx.port} does not verify the certificate "
            "(tls_verify = false): anyone on the path can pose as the PBX"
        ]
    return []
