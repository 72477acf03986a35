"""Where PanelPay may send requests. Admins type URLs (gateways, callback domains) that PanelPay then calls
(queries, the doctor's probes), so an address is checked when it is saved and again, as resolved, when
it is called:

* never: link-local addresses (169.254.0.0/16 and fe80::/10, where cloud metadata services answer), cloud
  metadata names and addresses, the unspecified address (0.0.0.0, ::), multicast and reserved ranges, and
  hosts written as one number or another unusual form of an IP address (``2130706433``, ``0x7f.1``);
* loopback and private addresses only when ``PANELPAY_ALLOW_PRIVATE_URLS`` is on (the demo and a gateway
  on the operator's own network need it).

Every gateway call and probe goes through :class:`GuardedSession`: it refuses such addresses before
connecting and never follows a redirect.
"""
from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

import requests
from urllib3.util import parse_url

#: Names and addresses of cloud metadata services beyond the link-local range.
_METADATA_NAMES = {"metadata.google.internal", "metadata", "instance-data", "metadata.tencentyun.com"}
_METADATA_ADDRESSES = {ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
                       ipaddress.ip_address("fd00:ec2::254")}  # AWS over IPv6
#: A host made only of digits, dots and hex: an IP address however it is written.
_NUMERIC = re.compile(r"(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+))*\.?", re.I)


class RefusedAddress(requests.exceptions.InvalidURL):
    """An address PanelPay does not send requests to; the message says why and what to do."""


#: Why an address is refused (a code), and what to do, in words for the log and the API.
REASONS = {
    "no_host": "there is no host",
    "numeric": "{host} is an IP address written in an unusual form: write it as four numbers (a.b.c.d)",
    "metadata": "{host} is a cloud metadata service, never a gateway",
    "unroutable": "{host} is not an address a server answers on",
    "link_local": "{host} is a link-local address (where cloud metadata services answer), never a gateway",
    "private": "{host} is a loopback or private address: PanelPay calls such addresses only with "
               "PANELPAY_ALLOW_PRIVATE_URLS on",
}


def refusal(host: str, *, allow_private: bool) -> str | None:
    """Why PanelPay must not send requests to ``host`` (a name or an IP address): a key of :data:`REASONS`,
    or None when it may."""
    host = host.strip("[]").rstrip(".").lower()
    if not host:
        return "no_host"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if _NUMERIC.fullmatch(host):
            return "numeric"
        if host in _METADATA_NAMES:
            return "metadata"
        if host != "localhost" and not host.endswith(".localhost"):
            return None
        address = ipaddress.ip_address("127.0.0.1")
    return address_refusal(address, allow_private=allow_private)


def address_refusal(address, *, allow_private: bool) -> str | None:
    """:func:`refusal` for an IP address (as a name resolves to it)."""
    if address.is_unspecified:
        return "unroutable"
    if address.is_link_local or address in _METADATA_ADDRESSES:
        return "link_local"
    if address.is_loopback or address.is_private:
        return None if allow_private else "private"
    if address.is_multicast or address.is_reserved:
        return "unroutable"
    return None


def explain(reason: str, host: str) -> str:
    """A refusal in words."""
    return REASONS[reason].format(host=host)


def host_text(url: str) -> str:
    """The host of ``url`` as it is shown in a refusal."""
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url


def url_refusal(url: str, *, allow_private: bool) -> str | None:
    """:func:`refusal` for the host of ``url`` (``no_host`` when it cannot be read)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return "no_host"
    return refusal(host, allow_private=allow_private)


class GuardedSession(requests.Session):
    """A ``requests.Session`` that never follows a redirect and refuses, before connecting, a URL whose
    host is (or resolves to) an address :func:`refusal` forbids."""

    def __init__(self, *, allow_private: bool):
        super().__init__()
        self.allow_private = allow_private

    def request(self, method, url, *args, **kwargs):
        kwargs["allow_redirects"] = False
        return super().request(method, url, *args, **kwargs)

    def send(self, request, **kwargs):
        # The host checked is the one the connection goes to, as urllib3 reads the prepared URL (Python's
        # urlsplit reads "http://a\\@b/" as host b; urllib3 connects to a).
        self._check(parse_url(request.url).host or "")
        return super().send(request, **kwargs)

    def _check(self, host: str) -> None:
        reason = refusal(host, allow_private=self.allow_private)
        if reason is None:
            try:
                found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
            except (OSError, UnicodeError):
                return  # unresolvable: the request fails as it would anyway
            for *_, sockaddr in found:
                address = ipaddress.ip_address(sockaddr[0].split("%")[0])
                reason = address_refusal(address, allow_private=self.allow_private)
                if reason:
                    host = f"{host} ({address})"
                    break
        if reason:
            raise RefusedAddress(f"PanelPay does not call this address: {explain(reason, host)}")
