// The settings page: the callback domain checked live as the admin types and saved through the JSON
// API, the doctor, reconcile, and confirmation before deleting. The logs live in admin-tables.js.
import { api, debounce, el, pageData, showMessages, t } from "./common.js";
import { setupDeliveryLog, setupOrders } from "./admin-tables.js";
import { setupMerchants } from "./merchants.js";

const data = pageData();

function findingItem(finding) {
  return el("li", { class: `pp-finding pp-level-${finding.level}` },
    el("span", { class: "pp-level", text: t(`level.${finding.level}`) }), " ", el("span", { text: finding.message }));
}

function showFindings(list, findings, emptyText) {
  list.replaceChildren(...(findings.length ? findings.map(findingItem)
    : [el("li", { class: "pp-finding pp-level-ok", text: emptyText })]));
}

// -- callback domain --------------------------------------------------------------------------------

function setupDomain() {
  const form = document.getElementById("pp-domain-form");
  if (!form) return;
  const input = document.getElementById("pp-domain");
  const error = document.getElementById("pp-domain-error");
  const saved = document.getElementById("pp-domain-saved");
  const conflicts = document.getElementById("pp-conflicts");
  const previewTag = document.getElementById("pp-preview-tag");
  const urls = [...document.querySelectorAll("#pp-urls [data-notify-path]")];
  let savedDomain = data.callback_domain || "";
  let checking = 0;

  /** Show each channel's notify URL for a base; a channel with its own domain keeps it. */
  function showUrls(base, preview) {
    for (const item of urls) {
      const own = item.dataset.ownDomain;
      const root = own || base;
      item.querySelector(".pp-notify-url").textContent = root ? root + item.dataset.notifyPath : t("admin.unknown_base");
    }
    previewTag.textContent = t("admin.preview");
    previewTag.hidden = !preview;
  }

  function showSettings(settings) {
    savedDomain = settings.callback_domain || "";
    for (const channel of settings.channels || []) {
      const item = urls.find((node) => node.dataset.uuid === channel.uuid);
      if (item) item.querySelector(".pp-notify-url").textContent = channel.notify_url || t("admin.unknown_base");
    }
    previewTag.hidden = true;
    saved.textContent = savedDomain
      ? t("admin.saved_domain", { domain: savedDomain })
      : t("admin.saved_none", { base: settings.default_notify_base || "?" });
    showFindings(conflicts, settings.conflicts || [], t("admin.no_conflicts"));
  }

  // Each keystroke starts a check; only the answer to the latest one is shown.
  const check = debounce(async () => {
    const ticket = ++checking;
    try {
      const answer = await api(data.check_url, { method: "POST", body: { callback_domain: input.value } });
      if (ticket !== checking) return;
      if (!answer.valid) {
        showMessages(error, answer.error);
        form.querySelector(".pp-field").classList.add("pp-invalid");
        input.setAttribute("aria-invalid", "true");
        return;
      }
      showMessages(error, []);
      form.querySelector(".pp-field").classList.remove("pp-invalid");
      input.removeAttribute("aria-invalid");
      showUrls(answer.effective_notify_base, (answer.callback_domain || "") !== savedDomain);
      showFindings(conflicts, answer.conflicts || [], t("admin.no_conflicts"));
    } catch (failure) {
      if (ticket === checking) showMessages(error, failure.message);
    }
  }, 300);
  input.addEventListener("input", check);

  async function save(value) {
    ++checking; // an answer to an older check must not overwrite what is saved now
    try {
      if (value) { // a domain with error-level conflicts is saved only when the admin insists
        const answer = await api(data.check_url, { method: "POST", body: { callback_domain: value } });
        const errors = (answer.conflicts || []).filter((finding) => finding.level === "error");
        if (answer.valid && errors.length && !window.confirm(t("admin.confirm_domain_errors"))) return;
      }
      const settings = await api(data.settings_url, { method: "PUT", body: { callback_domain: value } });
      showMessages(error, []);
      form.querySelector(".pp-field").classList.remove("pp-invalid");
      input.removeAttribute("aria-invalid");
      input.value = settings.callback_domain || "";
      showSettings(settings);
    } catch (failure) {
      // Invalid: the server keeps the previous value; the messages go beside the field.
      showMessages(error, failure.fields?.callback_domain || failure.message);
      form.querySelector(".pp-field").classList.add("pp-invalid");
      input.setAttribute("aria-invalid", "true");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const clear = event.submitter?.value === "clear_domain";
    if (clear) input.value = "";
    save(clear ? "" : input.value);
  });
}

// -- doctor and reconcile ---------------------------------------------------------------------------

function setupDoctor() {
  const run = document.getElementById("pp-doctor-run");
  const reconcile = document.getElementById("pp-reconcile-run");
  const summary = document.getElementById("pp-doctor-summary");
  const results = document.getElementById("pp-doctor-results");
  const reconciled = document.getElementById("pp-reconcile-summary");

  run?.addEventListener("click", async () => {
    run.disabled = true;
    summary.className = "pp-status-line";
    summary.textContent = t("admin.doctor_running");
    results.replaceChildren();
    try {
      const answer = await api(data.doctor_url, { method: "POST", body: {} });
      const probed = (answer.checks || []).some((check) => check.code !== "no_channels" && check.channel);
      summary.textContent = !answer.ok ? t("admin.doctor_failed") : probed ? t("admin.doctor_ok") : t("admin.doctor_nothing");
      summary.classList.add(answer.ok ? "pp-ok" : "pp-bad");
      showFindings(results, answer.checks || [], t("admin.no_conflicts"));
    } catch (failure) {
      summary.textContent = failure.message;
      summary.classList.add("pp-bad");
    } finally {
      run.disabled = false;
    }
  });

  reconcile?.addEventListener("click", async () => {
    reconcile.disabled = true;
    reconciled.className = "pp-status-line";
    reconciled.textContent = t("admin.reconcile_running");
    try {
      const answer = await api(data.reconcile_url, { method: "POST", body: {} });
      reconciled.textContent = t("admin.reconcile_done", answer)
        + (answer.skipped ? ` ${t("admin.reconcile_skipped", answer)}` : "");
    } catch (failure) {
      reconciled.textContent = failure.message;
      reconciled.classList.add("pp-bad");
    } finally {
      reconcile.disabled = false;
    }
  });
}

function setupConfirmations() {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(t(form.dataset.confirm))) event.preventDefault();
    });
  }
}

setupDomain();
setupDoctor();
setupConfirmations();
setupDeliveryLog(data);
setupOrders(data);
setupMerchants(data);
