// The settings page's two logs: the delivery log (every notification as received, expandable to its raw
// payload, with Replay) and the orders, each with filters and pages. Everything is shown as text.
import { api, el, labelCells, localTime, showMessages, statusBadge, t } from "./common.js";

/** What confirmed a payment, in words ("notify" → "the gateway's notification"); an unknown one as it is. */
function sourceLabel(source) {
  const label = t(`source.${source}`);
  return label === `source.${source}` ? source : label;
}

const PER_PAGE = 20;

/** Hides `detail` (a table row under another) and returns the "Details" button that shows and hides it. */
export function detailsToggle(detail) {
  detail.hidden = true;
  const toggle = el("button", { class: "pp-button pp-small", text: t("admin.details"),
    attrs: { type: "button", "aria-expanded": "false" } });
  toggle.addEventListener("click", () => {
    detail.hidden = !detail.hidden;
    toggle.textContent = detail.hidden ? t("admin.details") : t("admin.hide");
    toggle.setAttribute("aria-expanded", String(!detail.hidden));
  });
  return toggle;
}

/**
 * A filtered, paged table: `render(item)` returns the rows of one item. The filters live in the page's URL
 * (`<name>.<filter>=`), so a filtered view can be reloaded, bookmarked and shared. Returns `load()`.
 */
export function pagedTable({ name, url, filters, body, pager, columns, render }) {
  let page = 1;
  let latest = 0;
  const address = new URL(window.location.href);
  for (const field of filters.elements) {
    const kept = address.searchParams.get(`${name}.${field.name}`);
    if (field.name && kept !== null) field.value = kept;
  }

  function remember() {
    const next = new URL(window.location.href);
    for (const [key, value] of new FormData(filters)) {
      if (value) next.searchParams.set(`${name}.${key}`, value); else next.searchParams.delete(`${name}.${key}`);
    }
    window.history.replaceState(null, "", next);
  }

  async function load() {
    const ticket = ++latest; // filters can change faster than answers arrive: show only the newest
    const params = Object.fromEntries(new FormData(filters));
    body.replaceChildren(el("tr", {}, el("td", { attrs: { colspan: columns }, class: "pp-muted", text: t("admin.loading") })));
    try {
      const result = await api(url, { params: { ...params, page, per_page: PER_PAGE } });
      if (ticket !== latest) return;
      const rows = result.items.flatMap(render);
      body.replaceChildren(...(rows.length ? rows
        : [el("tr", {}, el("td", { attrs: { colspan: columns }, class: "pp-muted", text: t("admin.none") }))]));
      labelCells(body.closest("table"));
      const pages = Math.max(1, Math.ceil(result.total / result.per_page));
      pager.replaceChildren(
        el("button", { class: "pp-button", text: t("admin.prev"), attrs: { type: "button", disabled: page <= 1 },
          on: { click: () => { page -= 1; load(); } } }),
        el("span", { class: "pp-muted", text: t("admin.page", { page, pages, total: result.total }) }),
        el("button", { class: "pp-button", text: t("admin.next"), attrs: { type: "button", disabled: page >= pages },
          on: { click: () => { page += 1; load(); } } }),
      );
    } catch (failure) {
      if (ticket !== latest) return;
      body.replaceChildren(el("tr", {}, el("td", { attrs: { colspan: columns }, class: "pp-error", text: failure.message })));
    }
  }

  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    page = 1;
    remember();
    load();
  });
  filters.addEventListener("change", (event) => {
    if (event.target.tagName !== "SELECT") return; // text filters apply on Enter or the button
    page = 1;
    remember();
    load();
  });
  load();
  return load;
}

/** The channel's name, if the row's kind is the channel's (a request to a wrong notify URL is shown by its path). */
function channelName(channels, uuid, kind) {
  const channel = channels[uuid];
  return channel && (!kind || channel.kind === kind) ? channel.name : null;
}

// -- delivery log -----------------------------------------------------------------------------------

/** Decoded name=value pairs of a form-encoded text (the raw text stays shown as well). */
function parameters(text) {
  if (!text || !text.includes("=")) return [];
  try {
    return [...new URLSearchParams(text)];
  } catch {
    return [];
  }
}

function detailsRow(item, onReplay) {
  const pairs = [...parameters(item.query), ...parameters(item.body)];
  const result = el("div", { class: "pp-result", attrs: { role: "status" } });
  result.hidden = true;
  const replay = el("button", { class: "pp-button", text: t("admin.replay"), attrs: { type: "button" } });
  replay.addEventListener("click", () => onReplay(item, replay, result));
  const field = (label, value, mono = true) => [el("dt", { text: label }), el("dd", {}, el(mono ? "code" : "span", { class: "pp-break", text: value || t("admin.empty") }))];
  const table = pairs.length ? el("table", { class: "pp-params" },
    el("tbody", {}, pairs.map(([name, value]) => el("tr", {}, el("th", { text: name, attrs: { scope: "row" } }), el("td", {}, el("code", { class: "pp-break", text: value })))))) : null;
  return el("tr", { class: "pp-detail-row" }, el("td", { attrs: { colspan: 8 } },
    el("div", { class: "pp-detail" },
      el("dl", { class: "pp-details" },
        field(t("admin.verdict"), t(`verdict.${item.verdict}`), false),
        field(t("admin.outcome"), item.outcome_text, false),
        item.reason ? field(t("admin.reason"), item.reason_text, false) : [],
        field(t("admin.answer"), `${item.answer_status ?? ""} ${item.answer_body || ""}`.trim()),
        field(t("admin.path"), `${item.method} ${item.path}`),
        field(t("admin.source_ip"), item.source_ip),
        field(t("admin.content_type"), item.content_type),
        item.replay_of ? field(t("admin.replay_of"), `#${item.replay_of}`) : [],
        field(t("admin.headers"), (item.headers || []).map(([name, value]) => `${name}: ${value}`).join("\n")),
        field(t("admin.raw_query"), item.query),
        field(t("admin.raw_body"), item.body),
      ),
      table ? el("h4", { text: t("admin.params") }) : null,
      table,
      el("div", { class: "pp-actions" }, replay),
      result,
    )));
}

export function setupDeliveryLog(data) {
  const filters = document.getElementById("pp-log-filters");
  if (!filters) return;
  const channels = data.channels || {};
  const notice = document.getElementById("pp-log-notice");
  let reload = () => {};

  async function onReplay(item, button, result) {
    button.disabled = true;
    result.classList.remove("pp-result-error");
    showMessages(result, t("admin.replaying"));
    try {
      const answer = await api(`${data.notifications_url}/${item.id}/replay`, { method: "POST", body: {} });
      const said = t("admin.replayed", {
        id: answer.notification_id, verdict: t(`verdict.${answer.verdict}`), outcome: answer.outcome_text,
        status: answer.status, body: answer.body,
      });
      showMessages(result, said);
      notice.hidden = false;
      showMessages(notice, said); // the list is loaded again: the copy is its newest row
      reload();
    } catch (failure) {
      result.classList.add("pp-result-error");
      showMessages(result, failure.message);
    } finally {
      button.disabled = false;
    }
  }

  function render(item) {
    const detail = detailsRow(item, onReplay);
    const toggle = detailsToggle(detail);
    const row = el("tr", { data: { id: String(item.id) } },
      el("td", { class: "pp-num", text: item.id }),
      el("td", { text: localTime(item.received_at) }),
      el("td", { text: channelName(channels, item.channel, item.kind) || item.path }),
      el("td", {}, el("code", { class: "pp-break pp-trade", text: item.trade_no || "—" })),
      el("td", {}, el("span", { class: `pp-verdict pp-verdict-${item.verdict}`, text: t(`verdict.${item.verdict}`) })),
      el("td", { class: "pp-outcome", text: item.outcome_text }),
      el("td", {}, el("code", { text: `${item.answer_status ?? ""} ${item.answer_body || ""}`.trim() })),
      el("td", {}, toggle),
    );
    return [row, detail];
  }

  reload = pagedTable({
    name: "log", url: data.notifications_url, filters, body: document.getElementById("pp-log-rows"),
    pager: document.getElementById("pp-log-pager"), columns: 8, render,
  });
}

// -- orders -----------------------------------------------------------------------------------------

export function setupOrders(data) {
  const filters = document.getElementById("pp-order-filters");
  if (!filters) return;
  const channels = data.channels || {};
  const notice = document.getElementById("pp-order-notice");
  let reload = () => {};

  async function decide(order, action, button) {
    if (action === "credit" && !window.confirm(t("admin.confirm_credit", { total: order.total }))) return;
    button.disabled = true;
    try {
      await api(`${data.orders_url}/${order.trade_no}/review`, { method: "POST", body: { action } });
      showMessages(notice, t(action === "credit" ? "admin.credited_by_hand" : "admin.marked_reviewed",
                             { trade_no: order.trade_no }));
      notice.classList.remove("pp-result-error");
      reload();
    } catch (failure) {
      showMessages(notice, failure.message);
      notice.classList.add("pp-result-error");
      button.disabled = false;
    }
    notice.hidden = false;
  }

  function status(order) {
    const cell = el("td", {}, statusBadge(order.status));
    if (order.paid_late) cell.append(" ", el("span", { class: "pp-status pp-status-late", text: t("admin.paid_late") }));
    if (order.settled_by) cell.append(el("div", { class: "pp-small pp-muted", text: t("admin.settled_by", { source: sourceLabel(order.settled_by) }) }));
    if (order.anomaly) cell.append(el("div", { class: "pp-small pp-bad", text: order.anomaly_text }));
    if (order.reviewed_by) {
      cell.append(el("div", { class: "pp-small pp-muted",
        text: t("admin.reviewed_by", { name: order.reviewed_by, when: localTime(order.reviewed_at) }) }));
    } else if (order.anomaly) {
      const reviewed = el("button", { class: "pp-button pp-small", text: t("admin.mark_reviewed"), attrs: { type: "button" } });
      reviewed.addEventListener("click", () => decide(order, "reviewed", reviewed));
      cell.append(el("div", { class: "pp-actions" }, reviewed));
    }
    if (order.status === "anomaly") {
      const credit = el("button", { class: "pp-button pp-small", text: t("admin.credit_by_hand"), attrs: { type: "button" } });
      credit.addEventListener("click", () => decide(order, "credit", credit));
      cell.lastChild?.classList?.contains("pp-actions") ? cell.lastChild.append(credit)
        : cell.append(el("div", { class: "pp-actions" }, credit));
    }
    return cell;
  }

  const render = (order) => [el("tr", {},
    el("td", { text: localTime(order.created_at) }),
    el("td", {}, el("code", { class: "pp-break pp-trade", text: order.trade_no })),
    el("td", { text: order.user_name ? `${order.user_name} (${order.user_id})`
      : String(order.user_id).startsWith("merchant:") // a panel's order (gateway mode): its merchant, in words
        ? t("admin.merchant_order", { pid: String(order.user_id).slice(9) }) : order.user_id }),
    el("td", { text: order.channel_name || channelName(channels, order.channel) || "" }),
    el("td", { class: "pp-num" }, el("strong", { text: order.total }),
      el("div", { class: "pp-small pp-muted", text: t("admin.amount_fee", { amount: order.amount, fee: order.fee }) })),
    status(order),
  )];
  reload = pagedTable({
    name: "orders", url: data.orders_url, filters, body: document.getElementById("pp-order-rows"),
    pager: document.getElementById("pp-order-pager"), columns: 6, render,
  });
}
