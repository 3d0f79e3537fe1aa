// A trade's page follows the trade live: status in plain words, the timeline
// grows, instructions disappear once they no longer apply.
import { live } from "./live.js";
import { dateTimeText, statusText } from "./format.js";

const root = document.getElementById("trade");
const id = root.dataset.tradeId;
const statusEl = document.getElementById("trade-status");
const timeline = document.getElementById("timeline");
const ACTIVE = new Set(["pending", "processing"]);

live.watchTrade(id, root.dataset.status);

document.addEventListener("trade_update", (event) => {
  const t = event.detail;
  if (String(t.trade_id) !== id || t.status === root.dataset.status) return;
  root.dataset.status = t.status;
  statusEl.className = `status ${t.status}`;
  statusEl.textContent = statusText({
    status: t.status,
    trade_type: root.dataset.tradeType,
    payment_method: root.dataset.method,
  });
  const li = document.createElement("li");
  li.className = "feed-new";
  const strong = document.createElement("strong");
  strong.textContent = t.status[0].toUpperCase() + t.status.slice(1);
  const when = document.createElement("div");
  when.className = "muted small";
  when.textContent = dateTimeText(t.updated_at ?? new Date().toISOString());
  li.append(strong, when);
  timeline.append(li);
  if (!ACTIVE.has(t.status)) {
    for (const el of document.querySelectorAll("[data-while-active]")) el.remove();
  }
});

for (const button of document.querySelectorAll("[data-copy]")) {
  button.addEventListener("click", async () => {
    const text = document.querySelector(button.dataset.copy)?.textContent.trim() ?? "";
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select and copy";
    }
  });
}
