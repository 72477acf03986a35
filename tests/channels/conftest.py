"""Fixtures for the channel tests: keys made once per session, a fake gateway server, channel builders."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import requests

from . import channel_fakes as fakes
from panelpay.channels.base import PayRequest

EPAY_KEY = "89unJUB8HZ54Hj7x4nUj56HN4nUzUJ8i"
APP_ID = "2021000000000001"
SELLER_ID = "2088000000000001"


@pytest.fixture(scope="session")
def rsa_keys():
    """Named RSA keys: EPay merchant and platform, Alipay app and Alipay, and a stranger's."""
    return {name: fakes.new_key() for name in ("merchant", "platform", "app", "alipay", "stranger")}


@pytest.fixture(scope="session")
def alipay_certs(rsa_keys):
    """A certificate-mode set: a root bundle (RSA root, ECDSA root, second RSA root), the app's cert
    and Alipay's cert, both issued by the first root."""
    ca_key, ca2_key = fakes.new_key(), rsa_keys["stranger"]
    ca_name, ca2_name = fakes.name("Ant Financial Test Root"), fakes.name("Second Test Root")
    root = fakes.certificate(ca_name, ca_key.public_key(), ca_name, ca_key, 0x2FB0E47C4C2C5A4F)
    root2 = fakes.certificate(ca2_name, ca2_key.public_key(), ca2_name, ca2_key, 1)
    issuer = fakes.name("Ant Financial Test Root")
    app = fakes.certificate(fakes.name(APP_ID, ou="Alipay"), rsa_keys["app"].public_key(), issuer, ca_key,
                            0x20240100112233445566778899AABBCC)
    alipay = fakes.certificate(fakes.name("alipay", ou="Alipay"), rsa_keys["alipay"].public_key(), issuer, ca_key,
                               0x20240199887766554433221100)
    return {
        "root": root, "root_key": ca_key, "root2": root2, "app": app, "alipay": alipay,
        "root_pem": fakes.pem(root, fakes.ec_root(), root2),
        "app_pem": fakes.pem(app), "alipay_pem": fakes.pem(alipay),
    }


@pytest.fixture(scope="session")
def server():
    srv = fakes.FakeServer()
    yield srv
    srv.stop()


@pytest.fixture
def gateway(server):
    """The fake server, cleared for this test; set ``gateway.handler``."""
    server.handler = None
    server.seen.clear()
    yield server
    server.handler = None


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


@pytest.fixture
def pay_request():
    def build(**overrides) -> PayRequest:
        values = dict(
            trade_no="TOPUP202411221040000101",
            amount=Decimal("10.00"),
            subject="余额充值 10.00",
            notify_url="https://panel.example.com/payment/notify/epay/abcdef0123456789",
            return_url="https://panel.example.com/payment/return/epay/abcdef0123456789",
            client_ip="203.0.113.7",
            expires_at=dt.datetime(2024, 11, 22, 16, 30, 0),
        )
        values.update(overrides)
        return PayRequest(**values)

    return build
