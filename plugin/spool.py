"""The local spool: notifications the database could not take are kept on disk, never lost.

Each is one JSON file written atomically in ``PANELPAY_SPOOL_DIR``. ``drain()`` records and judges them
once the database is back (``flask panelpay replay --spool`` and reconcile call it); a file is removed
only after its notification is safely in the delivery log.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import tempfile
from dataclasses import asdict
from datetime import datetime

from .db import TransientError

log = logging.getLogger("panelpay")


def keep(state, raw) -> str | None:
    """Write ``raw`` to the spool; returns the file path (None if even the disk refuses)."""
    directory = state.settings.spool_dir
    document = asdict(raw)
    document["query_string"] = base64.b64encode(raw.query_string).decode()
    document["body"] = base64.b64encode(raw.body).decode()
    document["received_at"] = raw.received_at.isoformat()
    name = f"{raw.received_at:%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}.json"
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
        log.exception("could not spool a notification for %s/%s", raw.kind, raw.channel_uuid)
        return None


def pending(state) -> list[str]:
    directory = state.settings.spool_dir
    if not os.path.isdir(directory):
        return []
    return sorted(os.path.join(directory, n) for n in os.listdir(directory) if n.endswith(".json"))


def load(path: str):
    from .judge import Raw

    with open(path) as handle:
        document = json.load(handle)
    document["query_string"] = base64.b64decode(document["query_string"])
    document["body"] = base64.b64decode(document["body"])
    document["received_at"] = datetime.fromisoformat(document["received_at"])
    return Raw(**document)


def drain(state) -> dict:
    """Record and judge every spooled notification; returns counts by verdict (plus ``left``)."""
    from .judge import receive

    counts: dict[str, int] = {}
    for path in pending(state):
        try:
            answer = receive(state, load(path))
        except TransientError:
            counts["left"] = counts.get("left", 0) + len(pending(state))
            break
        os.remove(path)  # recorded: the delivery log has it now
        counts[answer.verdict] = counts.get(answer.verdict, 0) + 1
    return counts
