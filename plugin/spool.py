"""The local spool: notifications the database could not take are kept on disk, never lost.

Each is one JSON file written atomically in ``PANELPAY_SPOOL_DIR``. ``drain()`` records and judges them
once the database is back (``flask panelpay replay --spool`` and reconcile call it); a file is removed
only after its notification is safely in the delivery log.

The spool holds at most ``PANELPAY_SPOOL_MAX_BYTES``, and one source address at most a quarter of that:
while the database is down nobody can tell a gateway from a flood. A request the spool cannot take is still
answered "retry", so its gateway sends it again; the log says the spool is full.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
import tempfile
import time
from datetime import datetime

from .channels.base import GatewayRequest
from .db import TransientError
from .notify import Received, receive

log = logging.getLogger("panelpay")


def keep(state, received: Received) -> str | None:
    """Write ``received`` to the spool; returns the file path (None if even the disk refuses)."""
    directory = state.settings.spool_dir
    request = received.request
    document = {
        "kind": received.kind, "channel_uuid": received.channel_uuid, "source_ip": received.source_ip,
        "method": request.method, "headers": [list(pair) for pair in request.headers],
        "query_string": base64.b64encode(request.query_string).decode(),
        "body": base64.b64encode(request.body).decode(),
        "content_type": request.content_type, "received_at": request.received_at.isoformat(),
    }
    tag = hashlib.sha256(received.source_ip.encode()).hexdigest()[:8]
    name = f"{request.received_at:%Y%m%dT%H%M%S%f}-{tag}-{secrets.token_hex(4)}.json"
    size = len(json.dumps(document))
    total, from_source = _usage(directory, tag)
    cap = state.settings.spool_max_bytes
    if total + size > cap or from_source + size > cap // 4:
        log.error("the spool is full (%s of %s bytes%s): a notification for %s/%s was answered 'retry' without "
                  "being kept; its gateway sends it again. Bring the database back, or raise PANELPAY_SPOOL_MAX_BYTES.",
                  total, cap, ", a quarter of it from one source" if total + size <= cap else "",
                  received.kind, received.channel_uuid)
        return None
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        with os.fdopen(fd, "w") as handle:
            json.dump(document, handle)
            handle.flush()
            os.fsync(handle.fileno())
        path = os.path.join(directory, name)
        os.replace(tmp, path)
        return path
    except OSError:
        log.exception("could not spool a notification for %s/%s", received.kind, received.channel_uuid)
        return None


def _usage(directory: str, tag: str) -> tuple[int, int]:
    """Bytes the spool holds, and of those the files of the source ``tag``."""
    total = from_source = 0
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return 0, 0
    for entry in entries:
        try:
            size = entry.stat().st_size
        except FileNotFoundError:
            continue  # drained meanwhile
        total += size
        from_source += size if f"-{tag}-" in entry.name else 0
    return total, from_source


CLAIM_TIMEOUT = 600  # seconds after which a claimed file whose drain died is put back


def pending(state) -> list[str]:
    """The spooled files waiting to be judged (claims left behind by a dead drain are put back first)."""
    directory = state.settings.spool_dir
    if not os.path.isdir(directory):
        return []
    now = time.time()
    for name in os.listdir(directory):
        if name.endswith(".claimed"):
            path = os.path.join(directory, name)
            try:
                if now - os.path.getmtime(path) > CLAIM_TIMEOUT:
                    os.replace(path, path.rsplit(".", 2)[0])
            except OSError:
                pass
    return sorted(os.path.join(directory, n) for n in os.listdir(directory) if n.endswith(".json"))


def load(path: str) -> Received:
    """A spooled request (files from before headers were kept have none)."""
    with open(path) as handle:
        document = json.load(handle)
    request = GatewayRequest(
        method=document["method"],
        headers=tuple((str(name), str(value)) for name, value in document.get("headers", ())),
        query_string=base64.b64decode(document["query_string"]),
        body=base64.b64decode(document["body"]),
        content_type=document["content_type"],
        received_at=datetime.fromisoformat(document["received_at"]),
    )
    return Received(document["kind"], document["channel_uuid"], document["source_ip"], request)


def drain(state) -> dict:
    """Record and judge every spooled notification; returns counts by verdict (plus ``left`` when the
    database is still down, ``unreadable`` for files set aside in ``quarantine/``).

    Each file is claimed by an atomic rename first, so several drains at once never judge it twice.
    """
    counts: dict[str, int] = {}
    for path in pending(state):
        claimed = f"{path}.{os.getpid()}-{secrets.token_hex(3)}.claimed"
        try:
            os.rename(path, claimed)
        except FileNotFoundError:
            continue  # another drain took it
        try:
            received = load(claimed)
        except (OSError, ValueError, KeyError, TypeError):
            _quarantine(claimed)
            counts["unreadable"] = counts.get("unreadable", 0) + 1
            continue
        try:
            answer = receive(state, received)
        except TransientError:
            os.replace(claimed, path)
            counts["left"] = len(pending(state))
            break
        os.remove(claimed)  # recorded: the delivery log has it now
        counts[answer.verdict.name] = counts.get(answer.verdict.name, 0) + 1
    return counts


def _quarantine(path: str) -> None:
    target = os.path.join(os.path.dirname(path), "quarantine")
    os.makedirs(target, exist_ok=True)
    os.replace(path, os.path.join(target, os.path.basename(path)))
    log.error("spooled notification %s cannot be read; moved to %s", os.path.basename(path), target)
