"""Keys as operators paste them, and Alipay's certificate SNs (PROTOCOLS.md §3.8)."""
from __future__ import annotations

import hashlib

import pytest

from . import channel_fakes as fakes
from panelpay import keys


@pytest.mark.parametrize("fmt", ["pem_pkcs1", "pem_pkcs8", "bare_one_line", "wrapped_crlf_spaces"])
def test_private_key_formats_load(rsa_keys, fmt):
    key = rsa_keys["app"]
    loaded = keys.load_private_key(fakes.private_formats(key)[fmt])
    assert loaded.private_numbers() == key.private_numbers()


@pytest.mark.parametrize("fmt", ["pem_spki", "pem_pkcs1", "bare_one_line", "wrapped_crlf_spaces"])
def test_public_key_formats_load(rsa_keys, fmt):
    key = rsa_keys["alipay"]
    loaded = keys.load_public_key(fakes.public_formats(key)[fmt])
    assert keys.same_key(key, loaded)
    assert not keys.same_key(rsa_keys["app"], loaded)


@pytest.mark.parametrize("text", ["", "   ", "not a key at all", "-----BEGIN PRIVATE KEY-----\nAAAA", "QUJD"])
def test_garbage_keys_refused(text):
    with pytest.raises(keys.KeyFormatError):
        keys.load_private_key(text)
    with pytest.raises(keys.KeyFormatError):
        keys.load_public_key(text)


def test_public_and_private_swapped_are_named(rsa_keys):
    with pytest.raises(keys.KeyFormatError, match="public key"):
        keys.load_private_key(fakes.public_pem_spki(rsa_keys["app"]))
    with pytest.raises(keys.KeyFormatError, match="private key"):
        keys.load_public_key(fakes.private_pem_pkcs8(rsa_keys["app"]))


def independent_sn(cn: str, ou: str, o: str, c: str, serial: int) -> str:
    """md5 of the RFC 2253 issuer (most specific RDN first, no spaces) and the decimal serial, built by
    hand from the names the certificate was issued with."""
    return hashlib.md5(f"CN={cn},OU={ou},O={o},C={c}{serial}".encode()).hexdigest()


def test_cert_sn_matches_an_independent_computation(alipay_certs):
    app = alipay_certs["app"]
    expected = independent_sn("Ant Financial Test Root", "Alipay Test CA", "PanelPay Tests", "CN",
                              0x20240100112233445566778899AABBCC)
    assert keys.cert_sn(app) == expected
    assert keys.cert_sn(app) == hashlib.md5(
        (app.issuer.rfc4514_string() + str(app.serial_number)).encode()).hexdigest()
    assert keys.cert_sn(keys.load_certificates(alipay_certs["app_pem"])[0]) == expected


def test_root_cert_sn_skips_the_ecdsa_root(alipay_certs):
    bundle = alipay_certs["root_pem"]
    assert len(keys.load_certificates(bundle)) == 3
    first = independent_sn("Ant Financial Test Root", "Alipay Test CA", "PanelPay Tests", "CN", 0x2FB0E47C4C2C5A4F)
    second = independent_sn("Second Test Root", "Alipay Test CA", "PanelPay Tests", "CN", 1)
    assert keys.root_cert_sn(bundle) == f"{first}_{second}"


def test_root_cert_sn_of_only_ecdsa_roots_is_refused():
    with pytest.raises(keys.KeyFormatError):
        keys.root_cert_sn(fakes.pem(fakes.ec_root()))


def test_certificate_public_key(alipay_certs, rsa_keys):
    assert keys.same_key(rsa_keys["alipay"], keys.certificate_public_key(alipay_certs["alipay_pem"]))


def test_alipay_real_root_file_gives_the_published_root_cert_sn():
    """Alipay's production ``alipayRootCert.crt`` (a public file; it holds roots that ``cryptography``
    cannot read, which must be skipped) gives the SN the SDKs publish for it."""
    from pathlib import Path

    from panelpay import keys

    text = (Path(__file__).parent / "data" / "alipayRootCert.crt").read_text()
    assert keys.root_cert_sn(text) == "687b59193f3f462dd5336e5abf83c5d8_02941eef3187dddf3d3b83462e1dfcf6"
