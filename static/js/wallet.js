// Wallet page and one top-up's page: statuses change live (deposit_update);
// when a top-up is credited the balances are re-read (a fragment of this same
// page, server-rendered). The pages work without this script.
import "./live.js";

const LABELS = {
  pending: "Pending",
  processing: "Processing",
  completed: "Completed",
  failed: "Failed",
  expired: "Expired",
};

async function refresh(ids) {
  const response = await fetch(location.href, { credentials: "same-origin" });
  if (!response.ok) return;
  const doc = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const id of ids) {
    const fresh = doc.getElementById(id);
    const current = document.getElementById(id);
    if (fresh && current) current.replaceWith(fresh);
  }
}

document.addEventListener("deposit_update", (event) => {
  const d = event.detail;
  const pills = document.querySelectorAll(`[data-deposit="${CSS.escape(String(d.id))}"] [data-status]`);
  for (const pill of pills) {
    pill.className = `status ${d.status}`;
    pill.textContent = LABELS[d.status] || d.status;
  }
  if (!pills.length || d.status === "completed") refresh(["balances", "top-ups", "deposit-detail"]);
});
