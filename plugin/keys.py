"""RSA keys and certificates as operators paste them: PEM or bare base64, PKCS#1 or PKCS#8, one line
or many, with stray spaces. Parsing is not cached here: a channel parses its keys once, when it is built
for a revision of its row, and keeps them.

Alipay's console shows keys as one bare base64 line; EPay v2 shows a PKCS#8 private key and an SPKI
public key the same way; certificate mode uses PEM files. All of them load here.
"""
from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import re

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]")

#: Signature algorithms whose OID starts here are RSA-based (PKCS#1 family); others (ECDSA, SM2) are
#: skipped when computing ``alipay_root_cert_sn``.
_RSA_SIGNATURE_OID_PREFIX = "1.2.840.113549.1.1."


class KeyFormatError(ValueError):
    """Text that is not a usable key or certificate; the message says what was expected."""


def _der_blobs(text: str) -> list[tuple[str | None, bytes]]:
    """(PEM label or None, DER bytes) for each PEM block, or for the whole text as bare base64."""
    if not isinstance(text, str) or not text.strip():
        raise KeyFormatError("is empty")
    blocks = _PEM.findall(text)
    if blocks:
        return [(label, _b64(body)) for label, body in blocks]
    if "-----" in text:
        raise KeyFormatError("has a PEM header without a matching footer")
    return [(None, _b64(text))]


def _b64(body: str) -> bytes:
    cleaned = _NOT_BASE64.sub("", body.replace("\\n", ""))
    if not cleaned:
        raise KeyFormatError("holds no base64 data")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFormatError("is not valid base64") from exc


def load_private_key(text: str) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM or bare base64, PKCS#1 or PKCS#8. Raises :class:`KeyFormatError`."""
    der = _der_blobs(text)[0][1]
    try:
        # PKCS#8 or PKCS#1. The key is the operator's own, pasted in the admin pages: OpenSSL's consistency
        # check of its primes (~50 ms a key, at every save and every worker's first use) would guard only
        # against a damaged key, whose signatures the gateway refuses and the doctor then reports.
        key = serialization.load_der_private_key(der, password=None, unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError) as exc:
        try:
            serialization.load_der_public_key(der)
        except (ValueError, TypeError):
            raise KeyFormatError("is not an RSA private key (PKCS#1 or PKCS#8)") from exc
        raise KeyFormatError("is a public key; paste the private key here") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFormatError("is not an RSA private key")
    if key.key_size < 1024:
        raise KeyFormatError("is shorter than 1024 bits")
    return key


def load_public_key(text: str) -> rsa.RSAPublicKey:
    """An RSA public key from PEM or bare base64, SPKI or PKCS#1. Raises :class:`KeyFormatError`."""
    der = _der_blobs(text)[0][1]
    try:
        key = serialization.load_der_public_key(der)  # SPKI or PKCS#1
    except (ValueError, TypeError) as exc:
        try:
            serialization.load_der_private_key(der, password=None)
        except (ValueError, TypeError):
            raise KeyFormatError("is not an RSA public key (SPKI or PKCS#1)") from exc
        raise KeyFormatError("is a private key; paste the public key here") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyFormatError("is not an RSA public key")
    return key


def same_key(private_key: rsa.RSAPrivateKey, public_key: rsa.RSAPublicKey) -> bool:
    """Whether ``public_key`` is the public half of ``private_key`` (the app key pasted where the
    gateway's belongs)."""
    return private_key.public_key().public_numbers() == public_key.public_numbers()


def load_certificates(text: str, *, skip_unreadable: bool = False) -> tuple[x509.Certificate, ...]:
    """Every certificate in a PEM bundle. Raises :class:`KeyFormatError`.

    With ``skip_unreadable``, certificates the library cannot parse are left out instead of refused:
    Alipay's real root file holds an SM2 root and an ECDSA root that ``cryptography`` does not read, and
    neither counts for ``alipay_root_cert_sn``.
    """
    if not isinstance(text, str) or "-----BEGIN CERTIFICATE-----" not in text:
        raise KeyFormatError("is not a PEM certificate (-----BEGIN CERTIFICATE-----)")
    certs = []
    for label, der in _der_blobs(text):
        if label != "CERTIFICATE":
            continue
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except ValueError as exc:
            if not skip_unreadable:
                raise KeyFormatError("holds a certificate that cannot be read") from exc
    if not certs:
        raise KeyFormatError("holds no certificate that can be read")
    return tuple(certs)


def load_root_bundle(text: str) -> tuple[x509.Certificate, ...]:
    """The readable certificates of Alipay's root file (see :func:`load_certificates`)."""
    return load_certificates(text, skip_unreadable=True)


def cert_sn(cert: x509.Certificate) -> str:
    """Alipay's certificate SN: ``md5(issuer DN in RFC 2253 order + decimal serial)``, lowercase hex."""
    issuer = cert.issuer.rfc4514_string()
    return hashlib.md5((issuer + str(cert.serial_number)).encode()).hexdigest()


def root_cert_sn(text: str) -> str:
    """``alipay_root_cert_sn``: the SNs of the RSA-signed certificates of the root bundle, in file order,
    joined by ``_`` (ECDSA and SM2 roots are skipped)."""
    sns = [
        cert_sn(cert)
        for cert in load_root_bundle(text)
        if cert.signature_algorithm_oid.dotted_string.startswith(_RSA_SIGNATURE_OID_PREFIX)
    ]
    if not sns:
        raise KeyFormatError("holds no RSA root certificate")
    return "_".join(sns)


def certificate_public_key(text: str) -> rsa.RSAPublicKey:
    """The RSA public key of the first certificate in ``text``."""
    key = load_certificates(text)[0].public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyFormatError("certificate does not hold an RSA key")
    return key


def chain_problem(certificates: tuple[x509.Certificate, ...], roots: tuple[x509.Certificate, ...],
                  now: datetime.datetime) -> str | None:
    """What is wrong with the chain from ``certificates[0]`` (intermediates may follow it in the same
    file) up to one of ``roots``, or None: each link must be signed by the next, and each certificate valid
    at ``now`` (aware)."""
    pool = list(certificates[1:]) + list(roots)
    current = certificates[0]
    for _ in range(len(pool) + 1):
        if not current.not_valid_before_utc <= now <= current.not_valid_after_utc:
            when = current.not_valid_after_utc if now > current.not_valid_after_utc else current.not_valid_before_utc
            state = "expired on" if now > current.not_valid_after_utc else "is not valid before"
            return f"the certificate {current.subject.rfc4514_string()[:80]} {state} {when:%Y-%m-%d}"
        if any(current == root for root in roots):
            return None
        issuer = next((candidate for candidate in pool if candidate != current and _issued(current, candidate)), None)
        if issuer is None:
            return "it was not issued by the Alipay root certificate"
        current = issuer
    return "its chain to the Alipay root certificate cannot be followed"


def _issued(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer``'s key signed ``certificate`` (names and signature checked)."""
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
