"""The operator's JSON API: plugin settings and callback domain, channels, orders, the delivery log,
the doctor and reconcile."""
from __future__ import annotations

from flask import Blueprint, request
from sqlalchemy import false, select

from .. import callback
from ..callback import translate as _
from ..channels.base import ConfigInvalid
from ..conflicts import all_findings
from ..db import transient_errors
from ..models import Channel, Notification, Order
from ..orders import OrderRefused, load_order, review
from ..replay import replay
from ..schemas import (AdminChannelOut, AdminOrderOut, AdminOrderPage, ReviewIn, ChannelIn, ChannelPatch, DomainCheckIn, DomainCheckOut,
                       DoctorOut, Empty, NotificationOut, NotificationPage, ReconcileOut, ReplayOut, SettingsIn, SettingsOut)
from ..store import NotFound, delete_channel, get_channel, get_settings, list_channels, masked_config, put_settings, \
    save_channel
from . import merchants_api
from .common import ApiError, admin_endpoint, dump, json_body, paginate, register_error_handlers, state
from .views import notification_view, secret_names


def settings_document(st, settings: dict | None = None) -> dict:
    """The settings answer: values, default and effective notify base, conflicts, each channel's URL."""
    settings = settings or get_settings(st)
    channels = list_channels(st)
    domain = settings["callback_domain"]
    return {
        "enabled": settings["enabled"],
        "callback_domain": domain,
        "default_notify_base": callback.default_base(st.settings.site_url),
        "effective_notify_base": callback.effective_base(None, domain, st.settings.site_url),
        "conflicts": [f.as_dict() for f in all_findings(st, domain, channels)],
        "channels": [{"uuid": c.uuid, "kind": c.kind, "name": c.name, "enabled": c.enabled,
                      "notify_url": callback.notify_url(st, c, domain)} for c in channels],
    }


def channel_document(st, row: Channel, domain: str | None) -> dict:
    return {
        "uuid": row.uuid, "kind": row.kind, "name": row.name, "enabled": row.enabled, "sort": row.sort,
        "notify_domain": row.notify_domain, "fee_fixed": row.fee_fixed, "fee_percent": row.fee_percent,
        "min_amount": row.min_amount, "max_amount": row.max_amount, "config": masked_config(st, row),
        "notify_url": callback.notify_url(st, row, domain), "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _filtered(query, columns: dict):
    """``query`` narrowed to rows equal to each non-empty filter of the query string."""
    for name, column in columns.items():
        value = request.args.get(name, "").strip()
        if "\x00" in value:  # no stored value holds a NUL (and some drivers refuse to send one)
            query = query.where(false())
        elif value:
            query = query.where(column == value)
    return query


def admin_api_blueprint() -> Blueprint:
    bp = Blueprint("panelpay_admin_api", __name__)
    register_error_handlers(bp)

    @bp.get("/admin/api/settings")
    @admin_endpoint
    def get_settings_view():
        return dump(SettingsOut(), settings_document(state()))

    @bp.put("/admin/api/settings")
    @admin_endpoint
    def put_settings_view():
        """Save ``enabled`` and/or ``callback_domain`` (``""``/null clears); invalid → 422, nothing saved."""
        data = json_body(SettingsIn())
        st = state()
        with transient_errors():
            return dump(SettingsOut(), settings_document(st, put_settings(st, data)))

    @bp.post("/admin/api/settings/check")
    @admin_endpoint
    def check_domain():
        """Evaluate a callback domain as typed, without saving it (the settings page checks live)."""
        data = json_body(DomainCheckIn())
        st = state()
        try:
            domain = callback.normalise_domain(data.get("callback_domain"),
                                               allow_private=st.settings.allow_private_urls)
        except callback.DomainError as exc:
            return dump(DomainCheckOut(), {"valid": False, "error": str(exc), "callback_domain": None,
                                           "effective_notify_base": None, "conflicts": []})
        findings = all_findings(st, domain, list_channels(st))
        return dump(DomainCheckOut(), {
            "valid": True, "error": None, "callback_domain": domain,
            "effective_notify_base": callback.effective_base(None, domain, st.settings.site_url),
            "conflicts": [f.as_dict() for f in findings],
        })

    @bp.get("/admin/api/channels")
    @admin_endpoint
    def channels():
        st = state()
        domain = get_settings(st)["callback_domain"]
        return dump(AdminChannelOut(), [channel_document(st, c, domain) for c in list_channels(st)], many=True)

    @bp.post("/admin/api/channels")
    @admin_endpoint
    def create_channel():
        data = json_body(ChannelIn())
        return _save(data, None, 201)

    @bp.get("/admin/api/channels/<uuid>")
    @admin_endpoint
    def channel(uuid: str):
        st = state()
        return dump(AdminChannelOut(), channel_document(st, _channel(uuid), get_settings(st)["callback_domain"]))

    @bp.patch("/admin/api/channels/<uuid>")
    @admin_endpoint
    def patch_channel(uuid: str):
        previous = _channel(uuid)
        data = json_body(ChannelPatch())
        if data.get("max_amount") is not None and "min_amount" not in data and data["max_amount"] < previous.min_amount:
            raise ApiError(422, "invalid", _("Some fields are invalid."),
                           {"max_amount": [callback.translate("Must not be below the minimum amount.")]})
        return _save(data, previous, 200)

    @bp.delete("/admin/api/channels/<uuid>")
    @admin_endpoint
    def remove_channel(uuid: str):
        """Delete; a channel with orders is disabled instead, so its issued notify paths keep working."""
        _channel(uuid)
        with transient_errors():
            deleted = delete_channel(state(), uuid)
        if deleted:
            return "", 204
        st = state()
        return dump(AdminChannelOut(), channel_document(st, _channel(uuid), get_settings(st)["callback_domain"]))

    def _save(data: dict, previous: Channel | None, status: int):
        st = state()
        try:
            with transient_errors():
                row = save_channel(st, data, previous)
        except ConfigInvalid as exc:
            fields = {(k if k == "kind" else f"config.{k}"): v for k, v in exc.fields.items()}
            raise ApiError(422, "invalid", _("The channel's settings are invalid."), fields) from None
        return dump(AdminChannelOut(), channel_document(st, row, get_settings(st)["callback_domain"]), status)

    def _channel(uuid: str) -> Channel:
        try:
            with transient_errors():
                return get_channel(state(), uuid)
        except NotFound:
            raise ApiError(404, "not_found", _("No such channel.")) from None

    @bp.get("/admin/api/orders")
    @admin_endpoint
    def orders():
        """Orders, newest first; filters: status, channel (uuid), flag (paid_late, anomaly, reviewed), user
        (an id, or the start of a name the host knows), trade_no (its start)."""
        st = state()
        query = _filtered(select(Order).join(Channel, Channel.id == Order.channel_id),
                          {"status": Order.status, "channel": Channel.uuid})
        flag = request.args.get("flag", "")
        if flag:
            query = query.where({"paid_late": Order.paid_late.is_(True), "anomaly": Order.anomaly.is_not(None),
                                 "reviewed": Order.reviewed_at.is_not(None)}.get(flag, false()))
        user = request.args.get("user", "").strip()
        if user:
            query = query.where(Order.user_id.in_([user, *st.find_users(user)]))
        trade_no = request.args.get("trade_no", "").strip()
        if trade_no:
            query = query.where(Order.trade_no.startswith(trade_no, autoescape=True))
        page = paginate(query, Order.id.desc())
        for order in page["items"]:
            order.user_name = st.user_name(order.user_id)
        return dump(AdminOrderPage(), page)

    @bp.post("/admin/api/orders/<trade_no>/review")
    @admin_endpoint
    def review_order(trade_no: str):
        """An operator's decision on a flagged order: ``{"action": "reviewed"}`` records that they looked at
        it; ``{"action": "credit"}`` credits an anomaly through settle() (source manual). Both record the
        operator's name."""
        data = json_body(ReviewIn())
        st = state()
        try:
            order = load_order(st, trade_no)
        except NotFound:
            raise ApiError(404, "not_found", _("No such order.")) from None
        admin = st.current_user_id() or ""
        try:
            review(st, order, action=data["action"], by=st.user_name(admin) or admin)
        except OrderRefused as exc:
            raise ApiError(exc.status, exc.code, str(exc)) from None
        order = load_order(st, trade_no)
        order.user_name = st.user_name(order.user_id)
        return dump(AdminOrderOut(), order)

    @bp.get("/admin/api/notifications")
    @admin_endpoint
    def notifications():
        """The delivery log, newest first; filters: channel (uuid), verdict, order (trade number)."""
        query = _filtered(select(Notification), {
            "channel": Notification.channel_uuid, "verdict": Notification.verdict, "order": Notification.trade_no})
        page = paginate(query, Notification.id.desc())
        secrets = secret_names(state())
        page["items"] = [notification_view(row, secrets, state().settings.url_prefix) for row in page["items"]]
        return dump(NotificationPage(), page)

    @bp.get("/admin/api/notifications/<int(max=9223372036854775807):notification_id>")
    @admin_endpoint
    def notification(notification_id: int):
        with transient_errors(), state().session() as session:
            row = session.get(Notification, notification_id)
        if row is None:
            raise ApiError(404, "not_found", _("No such notification."))
        return dump(NotificationOut(), notification_view(row, secret_names(state()), state().settings.url_prefix))

    @bp.post("/admin/api/notifications/<int(max=9223372036854775807):notification_id>/replay")
    @admin_endpoint
    def replay_view(notification_id: int):
        """Re-judge a recorded notification through the notify path; idempotent."""
        json_body(Empty(), allow_empty=True)
        try:
            answer = replay(state(), notification_id)
        except LookupError:
            raise ApiError(404, "not_found", _("No such notification.")) from None
        return dump(ReplayOut(), {"notification_id": answer.notification_id, "verdict": answer.verdict.name,
                                  "outcome": answer.verdict.text, "status": answer.acknowledgement.status,
                                  "body": answer.acknowledgement.body})

    @bp.post("/admin/api/doctor")
    @admin_endpoint
    def doctor_view():
        from ..doctor import run_doctor

        json_body(Empty(), allow_empty=True)
        checks = run_doctor(state())
        return dump(DoctorOut(), {"ok": not any(c.level == "error" for c in checks),
                                  "checks": [c.as_dict() for c in checks]})

    @bp.post("/admin/api/reconcile")
    @admin_endpoint
    def reconcile_view():
        """Query the gateways for pending orders now → the run's summary."""
        from .. import reconcile

        json_body(Empty(), allow_empty=True)
        return dump(ReconcileOut(), reconcile.run(state()).as_dict())

    merchants_api.register(bp)
    return bp
