// Gateway mode on the settings page: the merchants (panels that use PanelPay as their EPay site), the key
// and the settings to paste into Xboard and New-API (shown once, right after it is made), the panel test
// (the downstream doctor), and the notifications owed to panels with every attempt. Everything is text.
import { api, el, labelCells, localTime, showMessages, t } from "./common.js";
import { detailsToggle, pagedTable } from "./admin-tables.js";

/** Host names as typed: separated by commas, spaces or new lines. */
function splitHosts(text) {
  return String(text || "").split(/[\s,，]+/).map((host) => host.trim()).filter(Boolean);
}

/** The messages the API gave for one field, as plain strings. */
function messagesOf(value) {
  if (value === undefined || value === null) return [];
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(messagesOf);
  return Object.values(value).flatMap(messagesOf);
}

/** Show each of the API's field messages beside its input; the rest (or the message itself) in `general`. */
function showFieldErrors(form, failure, general) {
  const fields = failure.fields || {};
  let placed = false;
  for (const field of form.querySelectorAll("[data-field]")) {
    const messages = messagesOf(fields[field.dataset.field]);
    const box = field.querySelector(".pp-error");
    if (box) showMessages(box, messages);
    field.classList.toggle("pp-invalid", messages.length > 0);
    for (const input of field.querySelectorAll("input")) {
      if (messages.length && input.type !== "checkbox") input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
    placed = placed || messages.length > 0;
  }
  showMessages(general, placed ? [] : failure.message);
}

function clearFieldErrors(form, general) {
  showFieldErrors(form, { fields: {}, message: "" }, general);
}

/** What the page checks before asking the server (so that every message is PanelPay's own words). */
function localProblems(values) {
  const fields = {};
  if ("name" in values && (!values.name || values.name.length > 64)) fields.name = [t("merchants.need_name")];
  if ("notify_hosts" in values && !values.notify_hosts.length) fields.notify_hosts = [t("merchants.need_hosts")];
  for (const name of ["notify_hosts", "return_hosts"]) {
    if (name in values && (values[name].length > 20 || values[name].some((host) => host.length > 255))) {
      fields[name] = [t("merchants.too_many_hosts")];
    }
  }
  return Object.keys(fields).length ? { fields, message: "" } : null;
}

function channelChecks(channels, chosen, name) {
  return Object.entries(channels).map(([uuid, channel]) => el("label", { class: "pp-check" },
    el("input", { attrs: { type: "checkbox", name, value: uuid, checked: chosen.includes(uuid) } }),
    " ", el("span", { text: channel.name })));
}

function checkedValues(form, name) {
  return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((input) => input.value);
}

// -- the settings to paste, with the key, shown once ------------------------------------------------

async function copy(input, button) {
  input.select();
  let done = false;
  try {
    await navigator.clipboard.writeText(input.value);
    done = true;
  } catch {
    try {
      done = document.execCommand("copy");
    } catch {
      done = false;
    }
  }
  button.textContent = done ? t("merchants.copied") : t("merchants.copy_failed");
  setTimeout(() => { button.textContent = t("merchants.copy"); }, 2000);
}

function pasteField(label, value, setting) {
  const shown = value || t("merchants.unknown_url");
  const input = el("input", { class: "pp-mono", attrs: { type: "text", readonly: true, value: shown, spellcheck: "false",
    "aria-label": label, "data-setting": setting } });
  const button = el("button", { class: "pp-button pp-small", text: t("merchants.copy"), attrs: { type: "button" } });
  button.addEventListener("click", () => copy(input, button));
  input.addEventListener("focus", () => input.select());
  return el("div", { class: "pp-paste-field" }, el("code", { class: "pp-paste-label", text: label }),
    el("div", { class: "pp-paste-value" }, input, button));
}

function showKey(box, merchant, onHide) {
  const { xboard, newapi } = merchant.settings;
  const hide = el("button", { class: "pp-button", text: t("merchants.hide_key"), attrs: { type: "button", id: "pp-key-hide" } });
  hide.addEventListener("click", () => { box.replaceChildren(); box.hidden = true; onHide?.(); });
  box.replaceChildren(
    el("h3", { text: t("merchants.key_title", { name: merchant.name, pid: merchant.pid }) }),
    el("p", { class: "pp-alert pp-alert-warning", attrs: { id: "pp-key-warning" }, text: t("merchants.key_warning") }),
    el("div", { class: "pp-paste-grid" },
      el("section", { class: "pp-paste", attrs: { "aria-label": "Xboard" } },
        el("h4", { text: t("merchants.xboard_title") }),
        pasteField("URL", xboard.url, "xboard.url"),
        pasteField("PID", xboard.pid, "xboard.pid"),
        pasteField("KEY", merchant.key, "xboard.key"),
        el("p", { class: "pp-help", text: t("merchants.xboard_type") })),
      el("section", { class: "pp-paste", attrs: { "aria-label": "New-API" } },
        el("h4", { text: t("merchants.newapi_title") }),
        pasteField("PayAddress", newapi.PayAddress, "newapi.PayAddress"),
        pasteField("EpayId", newapi.EpayId, "newapi.EpayId"),
        pasteField("EpayKey", merchant.key, "newapi.EpayKey"),
        el("p", { class: "pp-help", text: t("merchants.newapi_methods") }))),
    el("div", { class: "pp-actions" }, hide));
  box.hidden = false;
  box.focus();
  box.scrollIntoView({ block: "start" });
}

// -- one merchant in the list ----------------------------------------------------------------------

function hostList(hosts, empty) {
  return hosts.length ? el("span", { class: "pp-hosts" }, hosts.map((host) => el("code", { class: "pp-break", text: host })))
    : el("span", { class: "pp-muted", text: empty });
}

function merchantItem(merchant, context) {
  const { channels } = context;
  const notice = el("div", { class: "pp-result", attrs: { role: "status" } });
  notice.hidden = true;

  const channelNames = merchant.channels.map((uuid) => channels[uuid]?.name || uuid);
  const summary = el("dl", { class: "pp-details pp-merchant-facts" },
    el("div", {}, el("dt", { text: t("merchants.notify_hosts") }), el("dd", {}, hostList(merchant.notify_hosts, "—"))),
    el("div", {}, el("dt", { text: t("merchants.return_hosts") }),
      el("dd", {}, hostList(merchant.return_hosts, t("merchants.no_return_hosts")))),
    el("div", {}, el("dt", { text: t("merchants.channels") }),
      el("dd", { text: channelNames.length ? channelNames.join(", ") : t("merchants.all_channels") })),
    merchant.confirm_url_set ? el("div", {}, el("dt", { text: t("merchants.confirm") }),
      el("dd", { text: merchant.confirm_profile === "newapi" ? "New-API" : "Xboard" })) : null);

  // Edit: name, hosts, channels, enabled.
  const editError = el("div", { class: "pp-error", attrs: { role: "alert" } });
  editError.hidden = true;
  const field = (name, label, input) => {
    input.id = `pp-me-${merchant.pid}-${name}`;
    return el("div", { class: "pp-field", data: { field: name } }, el("label", { text: label, attrs: { for: input.id } }),
      input, el("div", { class: "pp-error", attrs: { role: "alert", hidden: true } }));
  };
  const edit = el("form", { class: "pp-form pp-merchant-edit", attrs: { novalidate: true } },
    field("name", t("merchants.name"), el("input", { attrs: { type: "text", name: "name", value: merchant.name, maxlength: 64, autocomplete: "off" } })),
    field("notify_hosts", t("merchants.notify_hosts"), el("input", { attrs: { type: "text", name: "notify_hosts",
      value: merchant.notify_hosts.join(", "), autocomplete: "off", spellcheck: "false", inputmode: "url" } })),
    field("return_hosts", t("merchants.return_hosts"), el("input", { attrs: { type: "text", name: "return_hosts",
      value: merchant.return_hosts.join(", "), autocomplete: "off", spellcheck: "false", inputmode: "url" } })),
    el("fieldset", { class: "pp-fieldset pp-field", data: { field: "channels" } },
      el("legend", { text: t("merchants.channels") }),
      el("div", { class: "pp-checks" }, channelChecks(channels, merchant.channels, "channels")),
      el("p", { class: "pp-help", text: t("merchants.channels_help") }),
      el("div", { class: "pp-error", attrs: { role: "alert", hidden: true } })),
    el("fieldset", { class: "pp-fieldset" },
      el("legend", { text: t("merchants.confirm") }),
      el("p", { class: "pp-help", text: t("merchants.confirm_help") }),
      field("confirm_profile", t("merchants.confirm_profile"), el("select", { attrs: { name: "confirm_profile" } },
        [["", t("merchants.confirm_off")], ["xboard", "Xboard"], ["newapi", "New-API"]].map(([value, label]) =>
          el("option", { attrs: { value, selected: merchant.confirm_profile === value }, text: label })))),
      field("confirm_url", t("merchants.confirm_url"), el("input", { class: "pp-mono", attrs: { type: "password", name: "confirm_url",
        autocomplete: "new-password", spellcheck: "false", placeholder: merchant.confirm_url_set ? t("merchants.stored")
          : "mysql+pymysql://reader:password@127.0.0.1/xboard" } }))),
    el("div", { class: "pp-field", data: { field: "enabled" } },
      el("label", { class: "pp-check" }, el("input", { attrs: { type: "checkbox", name: "enabled", checked: merchant.enabled } }),
        " ", el("span", { text: t("merchants.enabled") })),
      el("div", { class: "pp-error", attrs: { role: "alert", hidden: true } })),
    editError,
    el("div", { class: "pp-actions" },
      el("button", { class: "pp-button pp-button-primary", text: t("merchants.save"), attrs: { type: "submit" } }),
      el("button", { class: "pp-button", text: t("merchants.cancel"), attrs: { type: "button", "data-action": "cancel" } })));
  edit.hidden = true;

  // The panel test: a signed notification for a made-up order, sent to the panel's notify URL.
  const testUrl = el("input", { attrs: { type: "text", name: "notify_url", autocomplete: "off", spellcheck: "false",
    inputmode: "url", placeholder: "https://panel.example.com/api/user/epay/notify", id: `pp-test-url-${merchant.pid}` } });
  const testResult = el("div", { class: "pp-probe", attrs: { role: "status", "aria-live": "polite" } });
  testResult.hidden = true;
  const test = el("form", { class: "pp-form pp-merchant-test", attrs: { novalidate: true } },
    el("div", { class: "pp-field" },
      el("label", { text: t("merchants.test_url"), attrs: { for: `pp-test-url-${merchant.pid}` } }),
      testUrl,
      el("p", { class: "pp-help pp-break", text: t("merchants.test_url_help") })),
    el("div", {}, el("button", { class: "pp-button pp-button-primary", text: t("merchants.run_test"), attrs: { type: "submit" } })),
    testResult);
  test.hidden = true;

  const buttons = {
    edit: el("button", { class: "pp-button", text: t("merchants.edit"), attrs: { type: "button", "aria-expanded": "false", "data-action": "edit" } }),
    key: el("button", { class: "pp-button", text: t("merchants.new_key"), attrs: { type: "button", "data-action": "new-key" } }),
    test: el("button", { class: "pp-button", text: t("merchants.test"), attrs: { type: "button", "aria-expanded": "false", "data-action": "test" } }),
  };
  const toggle = (panel, button) => {
    panel.hidden = !panel.hidden;
    button.setAttribute("aria-expanded", String(!panel.hidden));
    if (!panel.hidden) panel.querySelector("input")?.focus();
  };
  buttons.edit.addEventListener("click", () => toggle(edit, buttons.edit));
  buttons.test.addEventListener("click", () => toggle(test, buttons.test));
  edit.querySelector('[data-action="cancel"]').addEventListener("click", () => {
    clearFieldErrors(edit, editError);
    toggle(edit, buttons.edit);
  });

  edit.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = {
      name: edit.elements.name.value.trim(),
      notify_hosts: splitHosts(edit.elements.notify_hosts.value),
      return_hosts: splitHosts(edit.elements.return_hosts.value),
      channels: checkedValues(edit, "channels"),
      enabled: edit.elements.enabled.checked,
    };
    // The database URL is write-only: sent when typed; the profile alone only to switch confirm by read off.
    const profile = edit.elements.confirm_profile.value;
    const typedUrl = edit.elements.confirm_url.value.trim();
    if (typedUrl) Object.assign(values, { confirm_profile: profile, confirm_url: typedUrl });
    else if (!profile && merchant.confirm_url_set) Object.assign(values, { confirm_profile: "", confirm_url: "" });
    const local = localProblems(values) || (profile && profile !== merchant.confirm_profile && !typedUrl
      ? { fields: { confirm_url: [t("merchants.confirm_url_again")] }, message: "" } : null);
    if (local) {
      showFieldErrors(edit, local, editError);
      return;
    }
    const submit = edit.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      const saved = await api(`${context.url}/${merchant.pid}`, { method: "PATCH", body: values });
      context.notify(t("merchants.saved", { name: saved.name }));
      context.reload();
    } catch (failure) {
      showFieldErrors(edit, failure, editError);
    } finally {
      submit.disabled = false;
    }
  });

  buttons.key.addEventListener("click", async () => {
    if (!window.confirm(t("merchants.confirm_new_key", { name: merchant.name }))) return;
    buttons.key.disabled = true;
    try {
      const made = await api(`${context.url}/${merchant.pid}/key`, { method: "POST", body: {} });
      context.notify(t("merchants.key_made", { name: made.name }));
      context.showKey(made);
    } catch (failure) {
      notice.classList.add("pp-result-error");
      showMessages(notice, failure.message);
    } finally {
      buttons.key.disabled = false;
    }
  });

  test.addEventListener("submit", async (event) => {
    event.preventDefault();
    const run = test.querySelector('button[type="submit"]');
    run.disabled = true;
    testResult.className = "pp-probe";
    testResult.hidden = false;
    testResult.replaceChildren(el("p", { class: "pp-muted", text: t("merchants.testing") }));
    const body = testUrl.value.trim() ? { notify_url: testUrl.value.trim() } : {};
    try {
      const answer = await api(`${context.url}/${merchant.pid}/doctor`, { method: "POST", body });
      testResult.classList.add(answer.ok ? "pp-level-ok" : "pp-level-error");
      testResult.replaceChildren(
        el("p", {}, el("strong", { class: "pp-probe-verdict", text: answer.ok ? t("merchants.test_ok") : t("merchants.test_bad") }),
          " ", el("span", { class: "pp-probe-message", text: answer.message })),
        answer.notify_url ? el("p", {}, el("code", { class: "pp-break pp-small", text: answer.notify_url })) : null);
    } catch (failure) {
      testResult.classList.add("pp-level-error");
      testResult.replaceChildren(el("p", { class: "pp-probe-message", text: failure.message }));
    } finally {
      run.disabled = false;
    }
  });

  return el("li", { class: `pp-merchant${merchant.enabled ? "" : " pp-off"}`, data: { pid: merchant.pid } },
    el("div", { class: "pp-merchant-head" },
      el("strong", { class: "pp-merchant-name pp-break", text: merchant.name }),
      el("code", { class: "pp-pid", text: t("merchants.pid", { pid: merchant.pid }) }),
      el("span", { class: `pp-status ${merchant.enabled ? "pp-status-paid" : "pp-status-closed"}`,
        text: merchant.enabled ? t("merchants.on") : t("merchants.off") })),
    summary,
    el("div", { class: "pp-actions pp-merchant-actions" }, buttons.edit, buttons.key, buttons.test),
    notice, edit, test);
}

// -- the notifications owed to panels --------------------------------------------------------------

function deliveryStatus(item) {
  // One box in the cell: on a phone a cell is a label and one value beside it.
  const cell = el("div", {}, el("span", { class: `pp-status pp-delivery-${item.status}`, data: { status: item.status },
    text: t(`deliveries.status.${item.status}`) }));
  if (item.paid_late) cell.append(" ", el("span", { class: "pp-status pp-status-late", text: t("admin.paid_late") }));
  if (item.status === "pending" && item.next_attempt_at) {
    cell.append(el("div", { class: "pp-small pp-muted", text: t("deliveries.next", { when: localTime(item.next_attempt_at) }) }));
  }
  if (item.delivered_at) {
    cell.append(el("div", { class: "pp-small pp-muted", text: t("deliveries.delivered_at", { when: localTime(item.delivered_at) }) }));
  }
  if (item.confirmed) {
    const label = t(`deliveries.confirmed.${item.confirmed}`);
    cell.append(el("div", { class: `pp-small ${["applied", "redelivered"].includes(item.confirmed) ? "pp-muted" : "pp-bad"}`,
      text: label === `deliveries.confirmed.${item.confirmed}` ? item.confirmed : label }));
  }
  return el("td", {}, cell);
}

function attemptItem(attempt) {
  const purpose = t(`deliveries.purpose.${attempt.purpose}`);
  return el("li", { class: `pp-attempt pp-attempt-${attempt.classification}` },
    el("div", { class: "pp-small pp-muted", text: t("deliveries.attempt", {
      when: localTime(attempt.started_at), purpose: purpose.startsWith("deliveries.") ? attempt.purpose : purpose,
      took: attempt.duration_ms ?? "" }) }),
    el("div", { class: "pp-attempt-text", text: attempt.classification_text }),
    el("div", {}, el("code", { class: "pp-break pp-small", text: `${attempt.http_status ?? ""} ${attempt.answer || ""}`.trim() || t("admin.empty") })),
    el("div", {}, el("code", { class: "pp-break pp-small pp-muted", text: attempt.url })));
}

function setupDeliveries(data, merchantNames) {
  const filters = document.getElementById("pp-deliveries-filters");
  if (!filters) return () => {};
  const notice = document.getElementById("pp-deliveries-notice");
  const button = document.getElementById("pp-deliver-now");

  function render(item) {
    const history = item.history || [];
    const detail = el("tr", { class: "pp-detail-row" }, el("td", { attrs: { colspan: 7 } },
      history.length ? el("ol", { class: "pp-attempts" }, history.map(attemptItem))
        : el("p", { class: "pp-muted", text: t("deliveries.no_attempts") })));
    const toggle = detailsToggle(detail);
    const last = history.length ? history[history.length - 1].classification_text : item.last_outcome;
    const row = el("tr", { data: { id: String(item.id) } },
      el("td", {}, el("div", {}, el("code", { class: "pp-break pp-trade", text: item.trade_no }),
        el("div", {}, el("code", { class: "pp-break pp-small pp-muted", text: item.out_trade_no })))),
      el("td", { class: "pp-break", text: merchantNames()[item.merchant] || item.merchant }),
      el("td", { class: "pp-num", text: item.money }),
      deliveryStatus(item),
      el("td", { class: "pp-num", text: item.attempts }),
      el("td", { class: "pp-outcome", text: last || "—" }),
      el("td", {}, toggle));
    return [row, detail];
  }

  const reload = pagedTable({
    name: "deliveries", url: data.deliveries_url, filters, body: document.getElementById("pp-deliveries-rows"),
    pager: document.getElementById("pp-deliveries-pager"), columns: 7, render,
  });

  button?.addEventListener("click", async () => {
    button.disabled = true;
    notice.classList.remove("pp-result-error");
    notice.hidden = false;
    showMessages(notice, t("deliveries.running"));
    try {
      const { counts } = await api(data.deliver_url, { method: "POST", body: {} });
      const attempted = Object.entries(counts).filter(([key]) => !key.startsWith("confirm_"))
        .reduce((sum, [, count]) => sum + count, 0);
      const confirmed = Object.entries(counts).filter(([key]) => key.startsWith("confirm_")).length;
      showMessages(notice, attempted || confirmed
        ? t("deliveries.done", { attempted, delivered: counts.delivered || 0 }) : t("deliveries.nothing_due"));
      reload();
    } catch (failure) {
      notice.classList.add("pp-result-error");
      showMessages(notice, failure.message);
    } finally {
      button.disabled = false;
    }
  });
  return reload;
}

// -- the card --------------------------------------------------------------------------------------

export function setupMerchants(data) {
  const form = document.getElementById("pp-merchant-form");
  const list = document.getElementById("pp-merchant-list");
  if (!form || !list) return;
  const keyBox = document.getElementById("pp-merchant-key");
  const notice = document.getElementById("pp-merchant-notice");
  const formError = document.getElementById("pp-m-form-error");
  const merchantSelect = document.getElementById("pp-deliveries-merchant");
  let names = {};
  let reloadDeliveries = null;

  function notify(text) {
    notice.classList.remove("pp-result-error");
    showMessages(notice, text);
  }

  function fillMerchantFilter(merchants) {
    if (!merchantSelect) return;
    const chosen = merchantSelect.value || new URL(window.location.href).searchParams.get("deliveries.merchant") || "";
    const all = merchantSelect.options[0];
    merchantSelect.replaceChildren(all, ...merchants.map((m) => el("option", { attrs: { value: m.pid }, text: `${m.name} (${m.pid})` })));
    merchantSelect.value = merchants.some((m) => m.pid === chosen) ? chosen : "";
  }

  const context = {
    url: data.merchants_url,
    channels: data.channels || {},
    notify,
    reload: () => load(),
    showKey: (merchant) => showKey(keyBox, merchant),
  };

  async function load() {
    try {
      const merchants = await api(data.merchants_url);
      names = Object.fromEntries(merchants.map((m) => [m.pid, m.name]));
      list.replaceChildren(...(merchants.length ? merchants.map((m) => merchantItem(m, context))
        : [el("li", { class: "pp-muted pp-merchant-empty", text: t("merchants.none") })]));
      fillMerchantFilter(merchants);
    } catch (failure) {
      list.replaceChildren(el("li", { class: "pp-error", text: failure.message }));
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = {
      name: form.elements.name.value.trim(),
      notify_hosts: splitHosts(form.elements.notify_hosts.value),
      return_hosts: splitHosts(form.elements.return_hosts.value),
      channels: checkedValues(form, "channels"),
    };
    const local = localProblems(values);
    if (local) {
      showFieldErrors(form, local, formError);
      return;
    }
    const submit = document.getElementById("pp-merchant-add");
    submit.disabled = true;
    try {
      const made = await api(data.merchants_url, { method: "POST", body: values });
      clearFieldErrors(form, formError);
      form.reset();
      notify(t("merchants.created", { name: made.name, pid: made.pid }));
      await load();
      showKey(keyBox, made);
    } catch (failure) {
      showFieldErrors(form, failure, formError);
    } finally {
      submit.disabled = false;
    }
  });

  load().then(() => {
    reloadDeliveries = setupDeliveries(data, () => names);
  });
  return () => reloadDeliveries?.();
}
