"""The sandbox's keys and certificates: generated once, optionally kept in a JSON state file.

Both sides of every key pair live here, because the sandbox plays the gateway *and* hands the merchant
half to PanelPay through each gateway's ``channel_configs`` (:mod:`.epay`, :mod:`.alipay`):

- EPay v1: the merchant MD5 key.
- EPay v2: the merchant RSA pair (the sandbox verifies requests with its public half) and the platform
  RSA pair (the sandbox signs answers and notifications with its private half).
- Alipay: the app RSA pair (requests are verified with the app public key) and the Alipay RSA pair
  (answers, notifications and returns are signed with the Alipay private key).
- Alipay certificate mode: a root bundle holding two self-signed roots (an ECDSA one, which
  ``alipay_root_cert_sn`` must skip, then an RSA one), and the Alipay and app public-key certificates,
  both issued by the RSA root.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import os
import secrets
import string
from dataclasses import asdict, dataclass, fields
from functools import cached_property
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from .. import keys

_FORMAT_VERSION = 1


@dataclass(frozen=True, repr=False)
class Credentials:
    """PEM texts and the MD5 key. ``repr`` is suppressed so that a stray log line shows no secret."""

    epay_key: str
    epay_merchant_private_pem: str
    epay_platform_private_pem: str
    alipay_app_private_pem: str
    alipay_private_pem: str
    alipay_root_bundle: str
    alipay_cert: str
    app_cert: str

    def __repr__(self) -> str:
        return "Credentials(<secret>)"

    # -- loaded keys, parsed once per Credentials ---------------------------------------------------
    @cached_property
    def epay_merchant_private(self) -> rsa.RSAPrivateKey:
        return keys.load_private_key(self.epay_merchant_private_pem)

    @cached_property
    def epay_merchant_public(self) -> rsa.RSAPublicKey:
        return self.epay_merchant_private.public_key()

    @cached_property
    def epay_platform_private(self) -> rsa.RSAPrivateKey:
        return keys.load_private_key(self.epay_platform_private_pem)

    @cached_property
    def alipay_app_public(self) -> rsa.RSAPublicKey:
        return keys.load_private_key(self.alipay_app_private_pem).public_key()

    @cached_property
    def alipay_private(self) -> rsa.RSAPrivateKey:
        return keys.load_private_key(self.alipay_private_pem)

    # -- certificate mode serial numbers -------------------------------------------------------------
    @cached_property
    def app_cert_sn(self) -> str:
        return keys.cert_sn(keys.load_certificates(self.app_cert)[0])

    @cached_property
    def alipay_cert_sn(self) -> str:
        return keys.cert_sn(keys.load_certificates(self.alipay_cert)[0])

    @cached_property
    def alipay_root_cert_sn(self) -> str:
        return keys.root_cert_sn(self.alipay_root_bundle)

    # -- the merchant's halves, as a console shows them (one bare base64 line) -----------------------
    def epay_merchant_private_b64(self) -> str:
        """PKCS#8, as EPay's merchant panel shows it."""
        return _bare(self.epay_merchant_private.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

    def epay_platform_public_b64(self) -> str:
        """SPKI, as EPay's merchant panel shows it."""
        return _bare(_spki(self.epay_platform_private.public_key()))

    def alipay_app_private_b64(self) -> str:
        """PKCS#1 ("RSA PRIVATE KEY"), what Alipay's key tool gives non-Java developers."""
        return _bare(keys.load_private_key(self.alipay_app_private_pem).private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()))

    def alipay_public_b64(self) -> str:
        """SPKI, as Alipay's console shows the "支付宝公钥"."""
        return _bare(_spki(self.alipay_private.public_key()))


def _bare(der: bytes) -> str:
    return base64.b64encode(der).decode()


def _spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _pem_private(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def _pem_cert(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(cn: str, ou: str, o: str) -> x509.Name:
    # Written C, O, OU, CN so that RFC 4514 (most specific first) reads CN=…,OU=…,O=…,C=CN like Alipay's.
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, o),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def _certificate(subject, issuer, public_key, signing_key, *, ca: bool, years: int) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return builder.sign(signing_key, hashes.SHA256())


def generate() -> Credentials:
    """Fresh keys and certificates (six key generations; well under a second or two)."""
    epay_merchant, epay_platform, app_key, alipay_key, root_key = (_rsa() for _ in range(5))
    ec_root_key = ec.generate_private_key(ec.SECP256R1())

    rsa_root_name = _name("PanelPay Sandbox Root Class 2 R1", "Certification Authority", "PanelPay Sandbox")
    ec_root_name = _name("PanelPay Sandbox Root Class 3 R1 (ECC)", "Certification Authority",
                         "PanelPay Sandbox")
    rsa_root = _certificate(rsa_root_name, rsa_root_name, root_key.public_key(), root_key, ca=True, years=20)
    ec_root = _certificate(ec_root_name, ec_root_name, ec_root_key.public_key(), ec_root_key, ca=True,
                           years=20)
    alipay_cert = _certificate(
        _name("PanelPay Sandbox Alipay", "Alipay", "PanelPay Sandbox"), rsa_root_name,
        alipay_key.public_key(), root_key, ca=False, years=5)
    app_cert = _certificate(
        _name("2021000000000001", "Alipay", "PanelPay Sandbox Merchant"), rsa_root_name,
        app_key.public_key(), root_key, ca=False, years=5)
    alphabet = string.ascii_letters + string.digits
    return Credentials(
        epay_key="".join(secrets.choice(alphabet) for _ in range(32)),
        epay_merchant_private_pem=_pem_private(epay_merchant),
        epay_platform_private_pem=_pem_private(epay_platform),
        alipay_app_private_pem=_pem_private(app_key),
        alipay_private_pem=_pem_private(alipay_key),
        # The ECDSA root comes first: an implementation that takes the first cert, or every cert, fails.
        alipay_root_bundle=_pem_cert(ec_root) + "\n" + _pem_cert(rsa_root),
        alipay_cert=_pem_cert(alipay_cert),
        app_cert=_pem_cert(app_cert),
    )


def load_or_create(state_file: str | os.PathLike | None) -> Credentials:
    """Read the credentials from ``state_file``, or generate them (and write the file when one is named).

    A state file that exists but cannot be read is an error rather than silently replaced: replacing it
    would invalidate the keys every configured channel holds.
    """
    if state_file is None:
        return generate()
    path = Path(state_file)
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            names = {f.name for f in fields(Credentials)}
            return Credentials(**{name: str(data["credentials"][name]) for name in names})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"sandbox state file {path} is unreadable ({type(exc).__name__}); "
                             "move it away to generate new keys") from exc
    credentials = generate()
    _write(path, {"version": _FORMAT_VERSION, "credentials": asdict(credentials)})
    return credentials


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
    os.replace(tmp, path)
