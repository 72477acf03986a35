"""Read-only views of stored rows for the admin API and pages."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

#: Parameter names whose values are never shown, whatever sent them.
_SECRET_NAMES = {"key", "private_key", "app_private_key", "merchant_private_key", "password"}


def _readable(raw: bytes) -> str:
    """Raw query or body bytes as text for display: secrets masked, undecodable bytes replaced."""
    if not raw:
        return ""
    pairs = parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
    if pairs and any(k.lower() in _SECRET_NAMES for k, _ in pairs):
        return urlencode([(k, "********" if k.lower() in _SECRET_NAMES else v) for k, v in pairs])
    return raw.decode("utf-8", errors="replace")


def notification_view(row) -> dict:
    return {
        "id": row.id, "channel_uuid": row.channel_uuid, "kind": row.kind, "method": row.method,
        "query": _readable(bytes(row.query_string or b"")), "body": _readable(bytes(row.body or b"")),
        "content_type": row.content_type, "source_ip": row.source_ip, "received_at": row.received_at,
        "trade_no": row.trade_no, "verdict": row.verdict, "outcome": row.outcome,
        "answer_status": row.answer_status, "answer_body": row.answer_body, "replay_of": row.replay_of,
    }
