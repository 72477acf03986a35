"""Request and response helpers shared by the sandbox's routes, and the blueprint's CSRF exemption.

Templates are rendered with a private Jinja environment (autoescape on) so that a host app mounting the
blueprint can neither override nor be affected by them.
"""
from __future__ import annotations

import json

from flask import Response, request, url_for
from jinja2 import Environment, PackageLoader

from ..web.csrf import exempt

_env = Environment(loader=PackageLoader("panelpay.sandbox", "templates"), autoescape=True)


def incoming_params() -> dict[str, str]:
    """Query and form values (first of each), the form winning like PHP's ``$_REQUEST``."""
    params = {k: v for k, v in request.args.items()}
    params.update({k: v for k, v in request.form.items()})
    return params


def json_answer(data: dict, status: int = 200) -> Response:
    """JSON as PHP's gateways write it: key order kept, UTF-8 text."""
    return Response(json.dumps(data, ensure_ascii=False), status=status,
                    content_type="application/json; charset=utf-8")


def render(template: str, http_status: int = 200, **context) -> Response:
    return Response(_env.get_template(template).render(**context), status=http_status,
                    content_type="text/html; charset=utf-8")


def message_page(title: str, message: str, *, status: int = 200, code: str = "",
                 back_url: str | None = None) -> Response:
    """The gateway's error or information page."""
    return render("message.html", status, title=title, message=message, code=code, back_url=back_url)


def cashier_url(order_id: str) -> str:
    """The absolute cashier URL, as seen by the client that made the current request."""
    return url_for(".cashier", ref=order_id, _external=True)


def exempt_from_csrf(state) -> None:
    """Gateways and the cashier post without CSRF tokens: keep this blueprint out of the host's Flask-WTF
    ``CSRFProtect`` (the one way PanelPay does it: :func:`panelpay.web.csrf.exempt`)."""
    exempt(state.app, [state.name])
