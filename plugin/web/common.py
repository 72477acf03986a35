"""What every PanelPay JSON endpoint shares: errors in the contract's shape, JSON-only bodies, the
cross-site Origin check, and who may call it."""
from __future__ import annotations

import functools
import json
import logging
from decimal import Decimal
from urllib.parse import urlsplit

from flask import abort, current_app, jsonify, make_response, request
from marshmallow import Schema, ValidationError
from sqlalchemy.exc import DataError, SQLAlchemyError

from ..callback import translate as _
from ..db import TransientError
from ..i18n import localized

log = logging.getLogger("panelpay")


class ApiError(Exception):
    """An error answered as ``{"error", "message", "fields"}`` with ``status``."""

    def __init__(self, status: int, error: str, message: str, fields: dict | None = None):
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.fields = fields or {}


def state():
    return current_app.extensions["panelpay"]


def error_response(status: int, error: str, message: str, fields: dict | None = None):
    return make_response(jsonify({"error": error, "message": message, "fields": fields or {}}), status)


def register_error_handlers(bp) -> None:
    @bp.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return error_response(exc.status, exc.error, exc.message, exc.fields)

    @bp.errorhandler(DataError)
    def unstorable(exc: DataError):
        return error_response(400, "bad_request", _("A value in the request cannot be used (control characters, "
                              "or too long)."))

    @bp.errorhandler(TransientError)
    def transient(exc: TransientError):
        return error_response(503, "unavailable", _("The database is unavailable; try again in a moment."))

    @bp.errorhandler(SQLAlchemyError)
    def database(exc: SQLAlchemyError):
        log.error("database error answering %s %s: %s", request.method, request.path, type(exc).__name__,
                  exc_info=exc)
        return error_response(503, "unavailable", _("The database cannot answer right now (it may be down, or "
                              "PanelPay's tables missing: run flask panelpay db upgrade); try again in a moment."))

    for status, code in ((400, "bad_request"), (401, "unauthenticated"), (403, "forbidden"), (404, "not_found"),
                         (405, "method_not_allowed"), (409, "conflict"), (411, "length_required"), (413, "too_large"),
                         (415, "unsupported_media_type"), (422, "invalid")):
        def handler(exc, status=status, code=code):
            return error_response(status, code, getattr(exc, "description", None) or code.replace("_", " "))
        bp.register_error_handler(status, handler)


def same_origin_only() -> None:
    """Refuse a state-changing request from another site (the JSON endpoints' CSRF protection). This site
    is the request's host, or the public address ``PANELPAY_SITE_URL`` names (behind a proxy that rewrites
    the Host header, only the latter matches what the browser sends)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        site = state().settings.site_url
        ours = {request.host, urlsplit(site).netloc} if site else {request.host}
        if urlsplit(origin).netloc not in ours:
            raise ApiError(403, "cross_origin", _("Requests from another site are refused."))
    elif origin == "null" or request.headers.get("Sec-Fetch-Site") == "cross-site":
        raise ApiError(403, "cross_origin", _("Requests from another site are refused."))


def json_body(schema: Schema, *, partial: bool = False, allow_empty: bool = False) -> dict:
    """Parse and validate the JSON body; money keeps its exact digits (JSON numbers become Decimals)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if allow_empty:
            return {}
        raise ApiError(400, "bad_request", _("The request needs a JSON body."))
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", _("Send the body as application/json."))
    try:
        data = json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "bad_request", _("The body is not valid JSON.")) from None
    except RecursionError:
        raise ApiError(400, "bad_request", _("The body is nested too deeply.")) from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", _("The body must be a JSON object."))
    if not _unicode(data):
        raise ApiError(400, "bad_request", _("The body holds text that is not valid Unicode (a lone surrogate such "
                       "as \\ud800)."))
    if allow_empty and not data:
        return {}
    try:
        return schema.load(data, partial=partial)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        # marshmallow's own messages are in the catalogue too (i18n.VALIDATION_MESSAGES)
        fields = {k: [json.dumps(m) if isinstance(m, (dict, list)) else _(str(m)) for m in v]
                  if isinstance(v, list) else [json.dumps(v) if isinstance(v, dict) else _(str(v))]
                  for k, v in messages.items()}
        raise ApiError(422, "invalid", _("Some fields are invalid."), fields) from None


def _unicode(document) -> bool:
    """Whether every text in a decoded JSON document can be stored (JSON may escape lone surrogates)."""
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(value, dict):
            pending += [*value.keys(), *value.values()]
        elif isinstance(value, list):
            pending += value
    return True


def require_user() -> str:
    user_id = state().current_user_id()
    if user_id is None:
        raise ApiError(401, "unauthenticated", _("Log in first."))
    return user_id


def require_admin() -> str:
    user_id = require_user()
    if not state().is_admin():
        raise ApiError(403, "forbidden", _("Only administrators may do this."))
    return user_id


def _endpoint(check):
    """A decorator running the Origin check and ``check`` (login or admin) before the view, all in the page's
    language (:func:`~panelpay.i18n.localized`): the messages an endpoint answers with (callback-domain
    errors, conflicts, doctor findings) follow the host's locale hook or ``Accept-Language`` like PanelPay's
    pages do."""

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            same_origin_only()
            check()
            return fn(*args, **kwargs)
        return localized(wrapper)

    return decorator


#: A JSON endpoint for any logged-in user.
user_endpoint = _endpoint(require_user)
#: A JSON endpoint for administrators only.
admin_endpoint = _endpoint(require_admin)


def dump(schema: Schema, obj, status: int = 200, many: bool = False):
    return make_response(jsonify(schema.dump(obj, many=many)), status)


#: The last page number a list answers (beyond it no database can skip rows in reasonable time).
MAX_PAGE = 100_000


def page_args(max_per_page: int = 200) -> tuple[int, int]:
    try:
        page = int(request.args.get("page", 1))
        per_page = min(max_per_page, max(1, int(request.args.get("per_page", 50))))
    except ValueError:
        raise ApiError(400, "bad_request", _("page and per_page must be whole numbers.")) from None
    if not 1 <= page <= MAX_PAGE:
        raise ApiError(400, "bad_request", f"page must be between 1 and {MAX_PAGE}.")
    return page, per_page


def paginate(query, *order_by, rows: bool = False) -> dict:
    """One page of ``query`` (``?page=&per_page=``) as ``{"items", "total", "page", "per_page"}``; ``rows``:
    items are whole result rows (a query of several entities), not the first entity."""
    from sqlalchemy import func, select

    from ..db import transient_errors

    page, per_page = page_args()
    with transient_errors(), state().session() as session:
        total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        result = session.execute(query.order_by(*order_by).offset((page - 1) * per_page).limit(per_page))
        items = result.all() if rows else result.scalars().all()
    return {"items": items, "total": total, "page": page, "per_page": per_page}


def client_ip() -> str:
    return request.remote_addr or ""


def is_mobile() -> bool:
    agent = (request.user_agent.string or "").lower()
    return any(word in agent for word in ("mobile", "android", "iphone", "ipad"))


def not_found(what: str):
    abort(404, description=f"No such {what}.")
