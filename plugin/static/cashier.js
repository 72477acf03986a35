// A panel buyer's cashier (gateway mode): ask every few seconds whether the order is still pending, and load
// the page again once it is not (paid: it then says so and goes back to the panel).
import { pageData } from "./common.js";

const data = pageData();
const POLL_MS = 3000;

async function poll() {
  try {
    const answer = await fetch(data.status_url, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (answer.ok && (await answer.json()).status !== data.status) {
      window.location.reload();
      return;
    }
  } catch (error) {
    // the network or the server hiccuped: ask again at the next turn
  }
  setTimeout(poll, POLL_MS);
}

if (data.status_url) setTimeout(poll, POLL_MS);
