// What PanelPay's page scripts share: the page's data, translated strings, building DOM nodes without
// markup (text is always set as text), JSON calls, exact money in integer cents, and opening a gateway.

const data = JSON.parse(document.getElementById("pp-data")?.textContent || "{}");
const strings = data.strings || {};

/** The page's data, written by the server into <script type="application/json" id="pp-data">. */
export function pageData() {
  return data;
}

/** A translated string by key; `%(name)s` placeholders are filled from `vars`. */
export function t(key, vars = {}) {
  const text = strings[key] ?? key;
  return text.replace(/%\((\w+)\)s/g, (_, name) => (name in vars ? String(vars[name]) : ""));
}

/**
 * Build an element. `props`: class, text, attrs (set as attributes), data (dataset), on (listeners).
 * Children are nodes or strings; strings become text nodes, so data can never turn into markup.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  if (props.class) node.className = props.class;
  if (props.text !== undefined && props.text !== null) node.textContent = String(props.text);
  for (const [name, value] of Object.entries(props.attrs || {})) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value === true ? "" : String(value));
  }
  Object.assign(node.dataset, props.data || {});
  for (const [event, handler] of Object.entries(props.on || {})) node.addEventListener(event, handler);
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Show messages in an error or result box (as text), or hide it when there are none. */
export function showMessages(box, messages) {
  const list = (Array.isArray(messages) ? messages : [messages]).filter(Boolean);
  box.replaceChildren(...list.map((message) => el("p", { text: message })));
  box.hidden = list.length === 0;
}

/** A refused JSON call: HTTP status, the server's message, and its per-field messages. */
export class ApiError extends Error {
  constructor(status, message, fields = {}, code = "") {
    super(message);
    this.status = status;
    this.fields = fields;
    this.code = code;
  }
}

/** Call a PanelPay JSON endpoint (same origin; JSON in and out). Throws ApiError on any failure. */
export async function api(url, { method = "GET", body, params } = {}) {
  const target = new URL(url, window.location.href);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== "" && value !== null && value !== undefined) target.searchParams.set(name, value);
  }
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(target, init);
  } catch {
    throw new ApiError(0, t("error.network"));
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, payload?.message || t("error.generic"), payload?.fields || {}, payload?.error);
  }
  return payload;
}

// -- money: integer cents as BigInt, never floats ---------------------------------------------------

/** "10", "10.5" or "10.50" → 1050n; anything else (more than two decimals, signs, text) → null. */
export function parseCents(text) {
  const match = /^\s*(\d{1,12})(?:\.(\d{0,2}))?\s*$/.exec(String(text ?? ""));
  if (!match) return null;
  return BigInt(match[1]) * 100n + BigInt((match[2] || "").padEnd(2, "0"));
}

/** 1050n → "10.50". */
export function formatCents(cents) {
  const negative = cents < 0n;
  const value = negative ? -cents : cents;
  const text = `${value / 100n}.${String(value % 100n).padStart(2, "0")}`;
  return negative ? `-${text}` : text;
}

/**
 * The fee exactly as the server computes it: fee_fixed + amount × fee_percent / 100, rounded half-up to
 * the cent. In cents: fixed + round_half_up(amount_cents × percent_hundredths / 10000).
 */
export function feeCents(amountCents, feeFixed, feePercent) {
  const fixed = parseCents(feeFixed) ?? 0n;
  const percent = parseCents(feePercent) ?? 0n;
  return fixed + (amountCents * percent + 5000n) / 10000n;
}

// -- time -------------------------------------------------------------------------------------------

/** An ISO time as the reader's local date and time. */
export function localTime(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return iso;
  return moment.toLocaleString(document.documentElement.lang || undefined, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });
}

/** Rewrite every <time data-local datetime=…> into local time. */
export function localizeTimes(root = document) {
  for (const node of root.querySelectorAll("time[data-local][datetime]")) node.textContent = localTime(node.getAttribute("datetime"));
}

/** Call `fn` once `ms` have passed without another call. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// -- opening the gateway ----------------------------------------------------------------------------

function safeUrl(url) {
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/**
 * Take the browser to the gateway as the order's `pay` says: "form" posts the signed fields, "redirect"
 * follows the link. Returns false when there is nothing to open (a QR order, or an unusable URL).
 */
export function openGateway(pay) {
  const url = pay && safeUrl(pay.url);
  if (!url) return false;
  if (pay.method === "form") {
    const form = el("form", { attrs: { method: "post", action: url, "accept-charset": "utf-8" }, class: "pp-hidden" });
    for (const [name, value] of Object.entries(pay.fields || {})) {
      form.append(el("input", { attrs: { type: "hidden", name, value } }));
    }
    document.body.append(form);
    form.submit();
    return true;
  }
  if (pay.method === "redirect") {
    window.location.assign(url);
    return true;
  }
  return false;
}

/** A status badge like the server renders. */
export function statusBadge(status) {
  return el("span", { class: `pp-status pp-status-${status}`, text: t(`status.${status}`), data: { status } });
}

/**
 * Give each cell of a table's body the label of its column (`data-label`), so that on a narrow screen, where
 * the stylesheet stacks a row's cells, each says what it is. Rows spanning the table (details) stay as they are.
 */
export function labelCells(table) {
  const labels = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
  for (const row of table.tBodies[0]?.rows || []) {
    [...row.cells].forEach((cell, index) => {
      if (!cell.colSpan || cell.colSpan === 1) cell.dataset.label = labels[index] || "";
    });
  }
}
