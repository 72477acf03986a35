// The order page: the QR code's countdown, polling until the order is paid, "I have paid" (the active
// query), and re-opening the gateway for a form or redirect order.
import { api, localizeTimes, openGateway, pageData, showMessages, statusBadge, t } from "./common.js";

const data = pageData();
const POLL_MS = 2000;
const RETRY_MS = 5000;
let status = data.status;

const statusSlot = document.getElementById("pp-order-status");
const result = document.getElementById("pp-sync-result");

// The server's clock decides expiry: measure how far this browser's clock is off, once.
const skew = data.server_now ? Date.parse(data.server_now) - Date.now() : 0;

function formatRemaining(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

function startCountdown() {
  const countdown = document.getElementById("pp-countdown");
  if (!countdown || !data.expires_at) return;
  const deadline = Date.parse(data.expires_at);
  const tick = () => {
    if (status !== "pending") return;
    const left = deadline - (Date.now() + skew);
    if (left <= 0) {
      countdown.textContent = t("order.expired");
      countdown.classList.add("pp-expired");
      document.getElementById("pp-qr")?.classList.add("pp-qr-expired");
      return;
    }
    countdown.textContent = t("order.expires_in", { time: formatRemaining(left) });
    setTimeout(tick, 1000 - ((Date.now() + skew) % 1000));
  };
  tick();
}

/** Show a new status; once paid, reload if the host layout shows a balance (so it shows the new one). */
function apply(order) {
  if (order.status === status) return;
  status = order.status;
  statusSlot.replaceChildren(statusBadge(status));
  if (status === "pending") return;
  document.getElementById("pp-pending-actions")?.remove();
  document.getElementById("pp-waiting")?.remove();
  if (status !== "paid") {
    window.location.reload();
    return;
  }
  if (document.getElementById("balance")) {
    window.location.reload();
    return;
  }
  document.getElementById("pp-qr")?.remove();
  document.getElementById("pp-paid-note").hidden = false;
  const paidAt = document.getElementById("pp-paid-at");
  if (paidAt && order.paid_at) {
    paidAt.setAttribute("datetime", order.paid_at);
    document.getElementById("pp-paid-row").hidden = false;
    localizeTimes(paidAt.parentElement);
  }
}

async function poll() {
  if (status !== "pending") return;
  let wait = POLL_MS;
  try {
    apply(await api(data.api_url));
  } catch (error) {
    wait = RETRY_MS;
  }
  if (status === "pending") setTimeout(poll, wait);
}

function setupButtons() {
  const sync = document.getElementById("pp-sync");
  sync?.addEventListener("click", async () => {
    sync.disabled = true;
    result.classList.remove("pp-result-error");
    showMessages(result, t("order.checking"));
    try {
      const order = await api(data.sync_url, { method: "POST", body: {} });
      showMessages(result, order.status === "paid" ? t("order.confirmed") : t("order.not_yet"));
      apply(order);
    } catch (error) {
      result.classList.add("pp-result-error");
      showMessages(result, error.message);
    } finally {
      sync.disabled = false;
    }
  });
  document.getElementById("pp-continue")?.addEventListener("click", () => openGateway(data.pay));
}

localizeTimes();
setupButtons();
startCountdown();
if (status === "pending") setTimeout(poll, POLL_MS);
