// The Withdraw page and one withdrawal's page follow withdrawals live
// (withdrawal_update): the status in words, the failure reason, and the
// confirm and cancel forms gone once they no longer apply. Drawn from the
// message itself, not by re-reading the page: a re-read in flight while a form
// posts would use up the flash message meant for the page the post leads to.
// The pages work without this script.
import "./live.js";
import { money } from "./format.js";

const AWAITING = "awaiting_confirmation";
const SETTLED = new Set(["completed", "failed", "cancelled", "expired"]);

function show(w) {
  const id = CSS.escape(String(w.id));
  let settled = false;
  for (const root of document.querySelectorAll(`[data-withdrawal="${id}"]`)) {
    const status = root.querySelector("[data-status]");
    // A settled withdrawal never moves again: a late or repeated message is stale.
    if (!status || status.dataset.status === w.status || SETTLED.has(status.dataset.status)) {
      continue;
    }
    status.dataset.status = w.status;
    (status.querySelector("[data-label]") ?? status).textContent = w.status_label;
    const reason = status.querySelector("[data-reason]");
    if (reason) reason.textContent = w.failure_reason ? ` — ${w.failure_reason}` : "";
    if (w.status !== AWAITING) {
      for (const el of root.querySelectorAll("[data-while-awaiting]")) el.remove();
    }
    if (SETTLED.has(w.status)) settled = true;
  }
  if (settled) {
    // "Confirmed: on its way" no longer says where the withdrawal stands.
    for (const el of document.querySelectorAll(".messages .alert.success")) el.remove();
    refreshBalances();
  }
}

// A refund (or a cancel) puts money back: show the balances as they now are.
async function refreshBalances() {
  const shown = document.querySelectorAll("[data-balance]");
  if (!shown.length) return;
  try {
    const response = await fetch("/api/trading/balances", {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) return;
    const { balances } = await response.json();
    const byCode = new Map(balances.map((b) => [b.currency, b.balance]));
    for (const el of shown) {
      const amount = byCode.get(el.dataset.balance);
      if (amount !== undefined) el.textContent = money(amount, el.dataset.balance);
    }
  } catch {
    // The next settled withdrawal or a reload brings them up to date.
  }
}

document.addEventListener("withdrawal_update", (event) => show(event.detail));

// Messages sent before the socket was up (or while it was down) are not
// resent: once connected, ask for each withdrawal still in flight on the page.
document.addEventListener("live:connected", async () => {
  for (const status of document.querySelectorAll("[data-withdrawal] [data-status]")) {
    if (SETTLED.has(status.dataset.status)) continue;
    const id = status.closest("[data-withdrawal]").dataset.withdrawal;
    try {
      const response = await fetch(`/api/wallet/withdrawals/${encodeURIComponent(id)}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (response.ok) show(await response.json());
    } catch {
      // The next message or reconnect brings it up to date.
    }
  }
});
