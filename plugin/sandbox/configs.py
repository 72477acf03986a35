"""PanelPay channel configs pointing at a running sandbox, with the field names of ``plugin.yaml``'s
``kinds`` (``epay`` and ``alipay``). Keys are given the way each console shows them: one bare base64
line (EPay: PKCS#8 private, SPKI public; Alipay: PKCS#1 app private key, SPKI Alipay public key); the
certificate-mode files are PEM.
"""
from __future__ import annotations

from .credentials import Credentials
from .merchants import ALIPAY_APP_ID, ALIPAY_SELLER_ID, EPAY_PID


def channel_configs(credentials: Credentials, base_url: str) -> dict[str, dict[str, str]]:
    base = base_url.rstrip("/")
    epay = {
        "gateway": f"{base}/epay/",
        "pid": EPAY_PID,
        "key": credentials.epay_key,
        "sign_type": "MD5",
        "merchant_private_key": "",
        "platform_public_key": "",
        "type": "alipay",
        "api": "submit",
        "device": "pc",
    }
    alipay = {
        "gateway": f"{base}/alipay/gateway.do",
        "app_id": ALIPAY_APP_ID,
        "app_private_key": credentials.alipay_app_private_b64(),
        "alipay_public_key": credentials.alipay_public_b64(),
        "app_cert": "",
        "alipay_cert": "",
        "alipay_root_cert": "",
        "seller_id": ALIPAY_SELLER_ID,
        "product": "page",
    }
    return {
        "epay": epay,
        "epay_mapi": epay | {"api": "mapi"},
        "epay_rsa": epay | {
            "sign_type": "RSA",
            "merchant_private_key": credentials.epay_merchant_private_b64(),
            "platform_public_key": credentials.epay_platform_public_b64(),
        },
        "alipay": alipay,
        "alipay_wap": alipay | {"product": "wap"},
        "alipay_qr": alipay | {"product": "precreate"},
        "alipay_cert": alipay | {
            "alipay_public_key": "",
            "app_cert": credentials.app_cert,
            "alipay_cert": credentials.alipay_cert,
            "alipay_root_cert": credentials.alipay_root_bundle,
        },
    }
