"""Build the OpenAPI 3 document of the JSON API from the marshmallow schemas (apispec)."""
from __future__ import annotations

from functools import lru_cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from . import schemas

_ERRORS = {"400": "Bad request", "401": "Not logged in", "403": "Not allowed", "404": "Not found",
           "409": "Conflict", "413": "Too large", "415": "Not JSON", "422": "Invalid fields",
           "502": "Gateway refused", "503": "Unavailable"}

# (method, path, summary, request schema or None, success status, response schema or None, many, errors)
_OPERATIONS = [
    ("get", "/api/channels", "Enabled channels", None, "200", "ChannelOut", True, "401"),
    ("post", "/api/orders", "Create a top-up order", "OrderIn", "201", "OrderOut", False, "400 401 409 415 422 502 503"),
    ("get", "/api/orders", "The user's orders", None, "200", "OrderPage", False, "400 401"),
    ("get", "/api/orders/{trade_no}", "One of the user's orders", None, "200", "OrderOut", False, "401 404"),
    ("post", "/api/orders/{trade_no}/sync", "Ask the gateway now", "Empty", "200", "OrderOut", False, "401 404 502"),
    ("get", "/admin/api/settings", "Plugin settings", None, "200", "SettingsOut", False, "401 403"),
    ("put", "/admin/api/settings", "Save plugin settings", "SettingsIn", "200", "SettingsOut", False, "400 401 403 415 422"),
    ("post", "/admin/api/settings/check", "Check a callback domain without saving", "DomainCheckIn", "200",
     "DomainCheckOut", False, "400 401 403 415 422"),
    ("get", "/admin/api/channels", "All channels", None, "200", "AdminChannelOut", True, "401 403"),
    ("post", "/admin/api/channels", "Add a channel", "ChannelIn", "201", "AdminChannelOut", False, "400 401 403 415 422"),
    ("get", "/admin/api/channels/{uuid}", "One channel", None, "200", "AdminChannelOut", False, "401 403 404"),
    ("patch", "/admin/api/channels/{uuid}", "Change a channel", "ChannelPatch", "200", "AdminChannelOut", False,
     "400 401 403 404 415 422"),
    ("delete", "/admin/api/channels/{uuid}", "Delete (or disable, if it has orders)", None, "204", None, False,
     "401 403 404"),
    ("get", "/admin/api/orders", "Orders, filtered", None, "200", "AdminOrderPage", False, "400 401 403"),
    ("post", "/admin/api/orders/{trade_no}/review", "Review a flagged order, or credit an anomaly by hand",
     "ReviewIn", "200", "AdminOrderOut", False, "400 401 403 404 409 415 422"),
    ("get", "/admin/api/notifications", "The delivery log", None, "200", "NotificationPage", False, "400 401 403"),
    ("get", "/admin/api/notifications/{id}", "One delivery", None, "200", "NotificationOut", False, "401 403 404"),
    ("post", "/admin/api/notifications/{id}/replay", "Re-judge a delivery", "Empty", "200", "ReplayOut", False,
     "401 403 404"),
    ("post", "/admin/api/doctor", "Run the callback self-test", "Empty", "200", "DoctorOut", False, "401 403"),
    ("post", "/admin/api/reconcile", "Query pending orders now", "Empty", "200", "ReconcileOut", False, "401 403"),
    ("get", "/admin/api/merchants", "Gateway mode: the merchants (panels)", None, "200", "MerchantOut", True, "401 403"),
    ("post", "/admin/api/merchants", "Add a merchant: its pid and key (shown once)", "MerchantIn", "201", "MerchantOut",
     False, "400 401 403 415 422"),
    ("get", "/admin/api/merchants/{pid}", "One merchant", None, "200", "MerchantOut", False, "401 403 404"),
    ("patch", "/admin/api/merchants/{pid}", "Change a merchant", "MerchantPatch", "200", "MerchantOut", False,
     "400 401 403 404 415 422"),
    ("post", "/admin/api/merchants/{pid}/key", "Issue a new key (the old one stops working)", "Empty", "200",
     "MerchantOut", False, "401 403 404"),
    ("post", "/admin/api/merchants/{pid}/doctor", "Send the panel a signed test notification", "ProbeIn", "200",
     "ProbeOut", False, "400 401 403 404 415 422"),
    ("get", "/admin/api/deliveries", "Gateway mode: notifications owed to panels, with every attempt", None, "200",
     "DeliveryPage", False, "400 401 403"),
    ("post", "/admin/api/deliver", "Deliver what is due now", "Empty", "200", "DeliverOut", False, "401 403"),
]

_QUERY = {
    "/api/orders": ["page", "per_page"],
    "/admin/api/orders": ["status", "flag", "user", "channel", "trade_no", "page", "per_page"],
    "/admin/api/notifications": ["channel", "verdict", "order", "page", "per_page"],
    "/admin/api/deliveries": ["merchant", "status", "order", "page", "per_page"],
}


@lru_cache(maxsize=8)
def build_spec(prefix: str) -> dict:
    spec = APISpec(title="PanelPay", version="0.1.0", openapi_version="3.0.3", plugins=[MarshmallowPlugin()],
                   info={"description": "Top-ups through EPay and Alipay. Money is a string with two decimals."})
    for name in ("Error", "Conflict", "NotifyUrl", "Pay", "OrderOut", "AdminOrderOut", "OrderIn", "ChannelOut", "AdminChannelOut", "ChannelIn",
                 "ChannelPatch", "SettingsIn", "SettingsOut", "DomainCheckIn", "DomainCheckOut", "DoctorOut",
                 "NotificationOut", "ReplayOut", "ReconcileOut", "Empty", "MerchantIn", "MerchantPatch", "MerchantOut",
                 "ProbeIn", "ProbeOut", "DeliveryAttemptOut", "DeliveryOut", "DeliverOut"):
        spec.components.schema(name, schema=getattr(schemas, name))
    for name in ("OrderPage", "AdminOrderPage", "NotificationPage", "DeliveryPage"):
        spec.components.schema(name, schema=getattr(schemas, name))
    paths: dict[str, dict] = {}
    for method, path, summary, body, status, answer, many, errors in _OPERATIONS:
        operation: dict = {"summary": summary, "responses": {}}
        params = [{"name": p, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1} if p == "id" else {"type": "string"}}
                  for p in ("trade_no", "uuid", "id", "pid") if "{" + p + "}" in path]
        params += [{"name": q, "in": "query", "required": False,
                    "schema": {"type": "integer", "minimum": 1} if q in ("page", "per_page") else {"type": "string"}}
                   for q in _QUERY.get(path, []) if method == "get"]
        if params:
            operation["parameters"] = params
        if body:
            operation["requestBody"] = {"required": body != "Empty",
                                        "content": {"application/json": {"schema": body}}}
        if answer:
            schema = {"type": "array", "items": answer} if many else answer
            operation["responses"][status] = {"description": "OK", "content": {"application/json": {"schema": schema}}}
        else:
            operation["responses"][status] = {"description": "Done"}
        for code in errors.split():
            operation["responses"][code] = {"description": _ERRORS[code],
                                            "content": {"application/json": {"schema": "Error"}}}
        paths.setdefault(prefix + path, {})[method] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
