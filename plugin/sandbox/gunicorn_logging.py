"""A gunicorn access log without the sandbox's secrets: EPay's ``api.php`` carries the merchant key in its
query string, as the protocol does, and a signature is no business of a log either.

    gunicorn --logger-class panelpay.sandbox.gunicorn_logging.RedactingLogger 'panelpay.demo.app:create_app()'

(``panelpay demo`` and ``python -m panelpay.sandbox`` redact their werkzeug log the same way.)
"""
from __future__ import annotations

from gunicorn.glogging import Logger

from .__main__ import redact


class RedactingLogger(Logger):
    """gunicorn's logger, with the values of ``key`` and ``sign`` in request URLs replaced by ``***``."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in ("r", "q", "U"):
            if isinstance(atoms.get(name), str):
                atoms[name] = redact(atoms[name])
        return atoms
