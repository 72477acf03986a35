"""marshmallow schemas for every JSON body PanelPay takes and gives (the OpenAPI document is built
from them)."""
from __future__ import annotations

import json

from flask import current_app
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .callback import DomainError, normalise_domain
from .callback import translate as _
from .i18n import lazy_gettext
from .outcomes import explain
from .money import TOO_LARGE, TOO_PRECISE, MoneyError, format_money, parse_money
from .models import ORDER_STATUSES


NAME_LENGTH = lazy_gettext("Enter a name of 1 to 64 characters.")


class Money(fields.Field):
    """Money as a string with two decimals; input as a string or a JSON number, never rounded."""

    def _serialize(self, value, attr, obj, **kwargs):
        return format_money(value)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and not value.strip():
            raise ValidationError(_("Enter an amount."))
        try:
            return parse_money(value)
        except MoneyError as exc:
            reason = str(exc)
            if reason == TOO_LARGE:
                raise ValidationError(_("This amount is too large.")) from exc
            if reason == TOO_PRECISE:
                raise ValidationError(_("Use at most two decimals, such as 10.50.")) from exc
            raise ValidationError(_("Enter an amount such as 10 or 10.50 (at most two decimals).")) from exc


class Percent(Money):
    """A percentage, two decimals at most (``1.5`` is 1.5 %)."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return parse_money(value)
        except MoneyError as exc:
            raise ValidationError(_("Enter a percentage such as 1.5 (at most two decimals).")) from exc


def allow_private_urls() -> bool:
    """``PANELPAY_ALLOW_PRIVATE_URLS`` of the current app."""
    return current_app.extensions["panelpay"].settings.allow_private_urls


class Domain(fields.Field):
    """A callback-domain override: normalised to ``scheme://host[:port]``; ``""`` or null clears it."""

    def _serialize(self, value, attr, obj, **kwargs):
        return value

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return normalise_domain(value, allow_private=allow_private_urls())
        except DomainError as exc:
            raise ValidationError(str(exc)) from exc


class UTC(fields.DateTime):
    """Naive UTC datetimes rendered as ISO 8601 with a ``Z``."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


class Error(Schema):
    error = fields.String(required=True, metadata={"description": "machine-readable code"})
    message = fields.String(required=True)
    fields = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class Pay(Schema):
    method = fields.String(metadata={"enum": ["redirect", "form", "qrcode"]})
    url = fields.String(allow_none=True)
    qr_code = fields.String(allow_none=True)
    fields = fields.Dict(keys=fields.String(), values=fields.String())  # last: it shadows the module


class OrderOut(Schema):
    trade_no = fields.String()
    status = fields.String(metadata={"enum": list(ORDER_STATUSES)})
    amount = Money()
    fee = Money()
    total = Money()
    credit = Money()
    channel = fields.Function(lambda o: o.channel.uuid if o.channel is not None else None)
    channel_name = fields.String()
    kind = fields.Function(lambda o: o.channel.kind if o.channel is not None else None)
    created_at = UTC()
    expires_at = UTC()
    paid_at = UTC(allow_none=True)
    paid_late = fields.Boolean()
    notify_url = fields.String()
    pay = fields.Function(lambda o: json.loads(o.pay or "{}") or None, metadata={"type": "object"})


class AdminOrderOut(OrderOut):
    user_id = fields.String()
    user_name = fields.String(allow_none=True)
    reviewed_by = fields.String(allow_none=True)
    reviewed_at = UTC(allow_none=True)
    gateway_trade_no = fields.String(allow_none=True)
    settled_by = fields.String(allow_none=True)
    anomaly = fields.String(allow_none=True)
    anomaly_text = fields.Function(lambda order: explain(order.anomaly) or None,
                                   metadata={"description": "the anomaly in the request's language"})
    queried_at = UTC(allow_none=True)


class OrderIn(Schema):
    channel = fields.String(required=True, validate=validate.Length(min=1, max=64),
                             error_messages={"required": lazy_gettext("Choose a payment method.")})
    amount = Money(required=True, error_messages={"required": lazy_gettext("Enter the amount to top up.")})

    @validates_schema
    def positive(self, data, **kwargs):
        if data.get("amount") is not None and data["amount"] <= 0:
            raise ValidationError(_("The amount must be more than 0.00."), "amount")


class ChannelOut(Schema):
    uuid = fields.String()
    kind = fields.String()
    name = fields.String()
    fee_fixed = Money()
    fee_percent = Money()
    min_amount = Money()
    max_amount = Money(allow_none=True)


class AdminChannelOut(ChannelOut):
    enabled = fields.Boolean()
    sort = fields.Integer()
    notify_domain = fields.String(allow_none=True)
    config = fields.Dict()
    notify_url = fields.String(allow_none=True)
    created_at = UTC()
    updated_at = UTC()


class ChannelPatch(Schema):
    """The fields an admin may change on a channel (all optional)."""

    name = fields.String(validate=validate.Length(min=1, max=64, error=NAME_LENGTH))
    enabled = fields.Boolean()
    config = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True))
    notify_domain = Domain(allow_none=True)
    fee_fixed = Money()
    fee_percent = Percent()
    min_amount = Money()
    max_amount = Money(allow_none=True)
    sort = fields.Integer(validate=validate.Range(min=-100000, max=100000, error=lazy_gettext(
        "Enter a whole number from -100000 to 100000.")))

    @validates_schema(skip_on_field_errors=False)  # a bad maximum is said beside a bad fee, not after it
    def amounts(self, data, **kwargs):
        errors: dict[str, list[str]] = {}
        for key in ("fee_fixed", "fee_percent"):
            if data.get(key) is not None and data[key] < 0:
                errors.setdefault(key, []).append(_("Must not be negative."))
        if data.get("fee_percent") is not None and data["fee_percent"] > 100:
            errors.setdefault("fee_percent", []).append(_("Must be 100 or less."))
        for key in ("min_amount", "max_amount"):
            if data.get(key) is not None and data[key] < parse_money("0.01"):
                errors.setdefault(key, []).append(_("Must be at least 0.01."))
        low, high = data.get("min_amount"), data.get("max_amount")
        if low is not None and high is not None and high < low:
            errors.setdefault("max_amount", []).append(_("Must not be below the minimum amount."))
        if errors:  # every problem at once, not one per save
            raise ValidationError(errors)


class ChannelIn(ChannelPatch):
    kind = fields.String(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=64, error=NAME_LENGTH))


class ReviewIn(Schema):
    action = fields.String(required=True, validate=validate.OneOf(["reviewed", "credit"], error=lazy_gettext(
        "Choose reviewed or credit.")))


class SettingsIn(Schema):
    enabled = fields.Boolean()
    callback_domain = Domain(allow_none=True)


class DomainCheckIn(Schema):
    callback_domain = fields.Raw(allow_none=True)


class Conflict(Schema):
    code = fields.String()
    level = fields.String(metadata={"enum": ["error", "warning", "info"]})
    message = fields.String()
    channel = fields.String()


class NotifyUrl(Schema):
    uuid = fields.String()
    kind = fields.String()
    name = fields.String()
    enabled = fields.Boolean()
    notify_url = fields.String(allow_none=True)


class SettingsOut(Schema):
    enabled = fields.Boolean()
    callback_domain = fields.String(allow_none=True)
    default_notify_base = fields.String(allow_none=True)
    effective_notify_base = fields.String(allow_none=True)
    conflicts = fields.List(fields.Nested(Conflict))
    channels = fields.List(fields.Nested(NotifyUrl))


class DomainCheckOut(Schema):
    valid = fields.Boolean()
    error = fields.String(allow_none=True)
    callback_domain = fields.String(allow_none=True)
    effective_notify_base = fields.String(allow_none=True)
    conflicts = fields.List(fields.Nested(Conflict))


class DoctorOut(Schema):
    ok = fields.Boolean()
    checks = fields.List(fields.Nested(Conflict))


class NotificationOut(Schema):
    id = fields.Integer()
    channel = fields.String(attribute="channel_uuid")
    kind = fields.String()
    method = fields.String()
    path = fields.String()
    headers = fields.List(fields.List(fields.String()))
    query = fields.String()
    body = fields.String()
    content_type = fields.String()
    source_ip = fields.String()
    received_at = UTC()
    trade_no = fields.String(allow_none=True)
    verdict = fields.String()
    outcome = fields.String(metadata={"description": "as recorded, in English"})
    outcome_text = fields.Function(lambda row: explain(row["outcome"]),
                                   metadata={"description": "the outcome in the request's language"})
    reason = fields.String()
    reason_text = fields.Function(lambda row: explain(row["reason"]))
    answer_status = fields.Integer(allow_none=True)
    answer_body = fields.String()
    replay_of = fields.Integer(allow_none=True)


class ReplayOut(Schema):
    notification_id = fields.Integer()
    verdict = fields.String()
    outcome = fields.String()
    outcome_text = fields.Function(lambda answer: explain(answer["outcome"]))
    status = fields.Integer()
    body = fields.String()


class ReconcileOut(Schema):
    queried = fields.Integer()
    skipped = fields.Integer()
    paid = fields.Integer()
    pending = fields.Integer()
    expired = fields.Integer()
    errors = fields.Integer()
    spooled = fields.Integer()
    gateway_errors = fields.Dict(keys=fields.String(), values=fields.String())


class MerchantPatch(Schema):
    """Gateway mode: a merchant's settings (hosts as names, ``panel.example.com``; a pasted URL gives its host)."""

    name = fields.String(validate=validate.Length(min=1, max=64))
    notify_hosts = fields.List(fields.String(validate=validate.Length(max=255)), validate=validate.Length(max=20))
    return_hosts = fields.List(fields.String(validate=validate.Length(max=255)), validate=validate.Length(max=20))
    channels = fields.List(fields.String(validate=validate.Length(max=32)), validate=validate.Length(max=100))
    enabled = fields.Boolean()
    confirm_profile = fields.String(validate=validate.OneOf(["", "xboard", "newapi"]))
    confirm_url = fields.String(validate=validate.Length(max=1000))


class MerchantIn(MerchantPatch):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    notify_hosts = fields.List(fields.String(validate=validate.Length(max=255)), required=True,
                               validate=validate.Length(min=1, max=20))


class MerchantOut(Schema):
    pid = fields.String()
    key = fields.String(metadata={"description": "Only in the answer that creates or regenerates it."})
    name = fields.String()
    enabled = fields.Boolean()
    notify_hosts = fields.List(fields.String())
    return_hosts = fields.List(fields.String())
    channels = fields.List(fields.String())
    confirm_profile = fields.String()
    confirm_url_set = fields.Boolean()
    settings = fields.Dict(keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.String()))


class ProbeIn(Schema):
    notify_url = fields.String(validate=validate.Length(max=1000))


class ProbeOut(Schema):
    ok = fields.Boolean()
    notify_url = fields.String(allow_none=True)
    classification = fields.String()
    message = fields.String()


class DeliveryAttemptOut(Schema):
    started_at = UTC()
    purpose = fields.String()
    url = fields.String()
    duration_ms = fields.Integer()
    http_status = fields.Integer(allow_none=True)
    answer = fields.String()
    classification = fields.String()
    classification_text = fields.String()


class DeliveryOut(Schema):
    id = fields.Integer()
    trade_no = fields.String()
    out_trade_no = fields.String()
    merchant = fields.String()
    money = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    next_attempt_at = UTC(allow_none=True)
    delivered_at = UTC(allow_none=True)
    last_outcome = fields.String()
    confirmed = fields.String(allow_none=True)
    paid_late = fields.Boolean()
    history = fields.List(fields.Nested(DeliveryAttemptOut))


class DeliverOut(Schema):
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())


def page_of(item_schema):
    """A page of items: ``{"items", "total", "page", "per_page"}``."""
    return type(
        f"{item_schema.__name__}Page",
        (Schema,),
        {
            "items": fields.List(fields.Nested(item_schema)),
            "total": fields.Integer(),
            "page": fields.Integer(),
            "per_page": fields.Integer(),
        },
    )


OrderPage = page_of(OrderOut)
AdminOrderPage = page_of(AdminOrderOut)
NotificationPage = page_of(NotificationOut)
DeliveryPage = page_of(DeliveryOut)


class Empty(Schema):
    """The body of a POST that needs none: empty, or ``{}``."""
