// The checkout page: amount and channel, the fee and total as the server will compute them, paying,
// and the user's order history.
import {
  api, el, feeCents, formatCents, labelCells, localTime, openGateway, pageData, parseCents, showMessages, statusBadge,
  t,
} from "./common.js";

const data = pageData();
const form = document.getElementById("pp-pay-form");

function orderPageUrl(tradeNo) {
  return data.order_page.replace("TRADE_NO", encodeURIComponent(tradeNo));
}

// -- paying -----------------------------------------------------------------------------------------

function setupPayForm() {
  const amountInput = document.getElementById("pp-amount");
  const amountError = document.getElementById("pp-amount-error");
  const channelError = document.getElementById("pp-channel-error");
  const payError = document.getElementById("pp-pay-error");
  const payButton = document.getElementById("pp-pay");
  const status = document.getElementById("pp-pay-status");
  const chips = [...form.querySelectorAll(".pp-chip")];
  const summary = {
    amount: document.getElementById("pp-sum-amount"),
    fee: document.getElementById("pp-sum-fee"),
    total: document.getElementById("pp-sum-total"),
  };

  const selectedChannel = () => form.querySelector('input[name="channel"]:checked');
  const money = (cents) => `${data.currency || ""}${formatCents(cents)}`;

  /** What is wrong with the amount typed, for the chosen payment method, in a sentence; null if nothing. */
  function amountProblem(text, channel) {
    const typed = String(text ?? "").trim();
    if (!typed) return t("checkout.amount_empty");
    if (/^-/.test(typed)) return t("checkout.amount_positive");
    if (/^\d+\.\d{3,}$/.test(typed)) return t("checkout.amount_decimals");
    const cents = parseCents(typed);
    const highest = channel ? parseCents(channel.dataset.highest) : null;
    if (cents === null) {
      return /^\d{13,}(\.\d*)?$/.test(typed) && highest !== null
        ? t("checkout.amount_max", { amount: money(highest), channel: channel.dataset.name })
        : t("checkout.bad_amount");
    }
    if (cents <= 0n) return t("checkout.amount_positive");
    if (!channel) return null;
    const lowest = parseCents(channel.dataset.lowest);
    if (lowest !== null && cents < lowest) return t("checkout.amount_min", { amount: money(lowest), channel: channel.dataset.name });
    if (highest !== null && cents > highest) return t("checkout.amount_max", { amount: money(highest), channel: channel.dataset.name });
    return null;
  }

  function refresh() {
    const cents = parseCents(amountInput.value);
    for (const chip of chips) chip.setAttribute("aria-pressed", String(parseCents(chip.dataset.amount) === cents && cents !== null));
    const channel = selectedChannel();
    if (cents === null || cents <= 0n || !channel) {
      summary.amount.textContent = cents === null || cents <= 0n ? "—" : money(cents);
      summary.fee.textContent = "—";
      summary.total.textContent = "—";
      return;
    }
    const fee = feeCents(cents, channel.dataset.feeFixed, channel.dataset.feePercent);
    summary.amount.textContent = money(cents);
    summary.fee.textContent = fee === 0n ? t("checkout.no_fee") : money(fee);
    summary.total.textContent = money(cents + fee);
  }

  /** Say at once what is wrong with the amount (once the user has typed, not while the field is new). */
  function checkAmount() {
    const problem = amountProblem(amountInput.value, selectedChannel());
    showMessages(amountError, problem ? [problem] : []);
    amountInput.toggleAttribute("aria-invalid", Boolean(problem));
    return problem;
  }

  for (const chip of chips) {
    chip.addEventListener("click", () => {
      amountInput.value = chip.dataset.amount;
      showMessages(amountError, []);
      refresh();
    });
  }
  amountInput.addEventListener("input", () => {
    checkAmount();
    refresh();
  });
  form.addEventListener("change", () => {
    if (amountInput.value) checkAmount();
    refresh();
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showMessages(payError, []);
    showMessages(channelError, []);
    const cents = parseCents(amountInput.value);
    const channel = selectedChannel();
    if (checkAmount()) {
      amountInput.focus();
      return;
    }
    if (!channel) {
      showMessages(channelError, t("checkout.pick_channel"));
      return;
    }
    payButton.disabled = true;
    status.textContent = t("checkout.paying");
    try {
      // The server checks everything again; its refusal says which field and why, in the page's language.
      const order = await api(data.orders_url, { method: "POST", body: { channel: channel.value, amount: formatCents(cents) } });
      status.textContent = t("checkout.opening");
      if (!openGateway(order.pay)) window.location.assign(orderPageUrl(order.trade_no));
    } catch (error) {
      status.textContent = "";
      payButton.disabled = false;
      const fields = error.fields || {};
      if (fields.amount) {
        showMessages(amountError, fields.amount);
        amountInput.focus();
      }
      if (fields.channel) showMessages(channelError, fields.channel);
      if (!fields.amount && !fields.channel) showMessages(payError, error.message);
    }
  });

  // Coming back with the browser's Back button restores the page from cache: make it usable again.
  window.addEventListener("pageshow", () => {
    payButton.disabled = false;
    status.textContent = "";
  });
  refresh();
}

// -- history ----------------------------------------------------------------------------------------

function setupHistory() {
  const rows = document.getElementById("pp-history-rows");
  const note = document.getElementById("pp-history-note");
  const more = document.getElementById("pp-history-more");
  let page = 0;

  async function load() {
    more.disabled = true;
    try {
      const result = await api(data.orders_url, { params: { page: page + 1, per_page: 10 } });
      page = result.page;
      for (const order of result.items) {
        rows.append(el("tr", {},
          el("td", { text: localTime(order.created_at) }),
          el("td", {}, el("a", { attrs: { href: orderPageUrl(order.trade_no) }, text: order.trade_no, class: "pp-mono" })),
          el("td", { text: order.channel_name || "" }),
          el("td", { class: "pp-num", text: `${data.currency || ""}${order.amount}` }),
          el("td", { class: "pp-num", text: `${data.currency || ""}${order.total}` }),
          el("td", {}, statusBadge(order.status)),
        ));
      }
      labelCells(rows.closest("table"));
      note.textContent = result.total === 0 ? t("history.empty") : "";
      more.hidden = page * result.per_page >= result.total;
    } catch (error) {
      note.textContent = error.message;
    } finally {
      more.disabled = false;
    }
  }

  more.addEventListener("click", load);
  load();
}

if (form) setupPayForm();
setupHistory();
