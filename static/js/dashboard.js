// Dashboard and history: trade rows change status live; when a trade settles
// the balances are re-read (a fragment of this same page, server-rendered).
import { live } from "./live.js";
import { statusText } from "./format.js";

for (const row of document.querySelectorAll("tr[data-trade]")) {
  const status = row.querySelector("[data-status]")?.className.split(" ")[1];
  if (status === "pending" || status === "processing") live.watchTrade(row.dataset.trade, status);
}

async function refreshBalances() {
  const table = document.getElementById("balances");
  if (!table) return;
  const response = await fetch(location.href, { credentials: "same-origin" });
  if (!response.ok) return;
  const doc = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = doc.getElementById("balances");
  const total = doc.getElementById("total-value");
  const recent = doc.getElementById("recent-trades");
  if (fresh) table.replaceWith(fresh);
  if (total) document.getElementById("total-value")?.replaceWith(total);
  const current = document.getElementById("recent-trades");
  if (recent && current) current.replaceWith(recent);
}

document.addEventListener("trade_update", (event) => {
  const t = event.detail;
  const row = document.querySelector(`tr[data-trade="${CSS.escape(String(t.trade_id))}"]`);
  if (row) {
    const pill = row.querySelector("[data-status]");
    pill.className = `status ${t.status}`;
    pill.textContent = statusText(t);
  }
  if (t.status === "completed" || t.status === "failed" || !row) refreshBalances();
});
