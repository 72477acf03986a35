"""Read-only views of stored rows for the admin API and pages."""
from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode

MASK = "********"
#: Header names whose values are never shown (a gateway that authenticates with them still verifies:
#: the stored request is intact, only the view masks).
_SECRET_HEADERS = {"authorization", "proxy-authorization"}


def secret_names(state) -> set[str]:
    """Parameter names never shown in the delivery log: every secret config field of every kind."""
    return {f.key.lower() for kind in state.manifest.kinds for f in state.manifest.kind_fields(kind) if f.secret}


def _readable(raw: bytes, secrets: set[str]) -> str:
    """Raw query or body bytes as text for display: form parameters named like a secret masked,
    undecodable bytes replaced."""
    if not raw:
        return ""
    text = raw.decode("utf-8", errors="replace")
    pairs = parse_qsl(text, keep_blank_values=True)
    if pairs and any(k.lower() in secrets for k, _ in pairs):
        return urlencode([(k, MASK if k.lower() in secrets else v) for k, v in pairs])
    return text


def _headers(stored: str) -> list[list[str]]:
    try:
        pairs = json.loads(stored or "[]")
    except ValueError:
        return []
    return [[str(name), MASK if str(name).lower() in _SECRET_HEADERS else str(value)] for name, value in pairs]


def notification_view(row, secrets: set[str], prefix: str) -> dict:
    """A delivery-log row for the operator; ``path`` is the notify path the request was sent to."""
    return {
        "id": row.id, "channel_uuid": row.channel_uuid, "kind": row.kind, "method": row.method,
        "path": f"{prefix}/notify/{row.kind}/{row.channel_uuid}",
        "headers": _headers(row.headers), "query": _readable(bytes(row.query_string or b""), secrets),
        "body": _readable(bytes(row.body or b""), secrets), "content_type": row.content_type,
        "source_ip": row.source_ip, "received_at": row.received_at, "trade_no": row.trade_no,
        "verdict": row.verdict, "outcome": row.outcome, "reason": row.reason, "answer_status": row.answer_status,
        "answer_body": row.answer_body, "replay_of": row.replay_of,
    }
