// Landing page: prices tick live; the public activity feed grows live.
import { approx, money, timeText } from "./format.js";

const MAX_FEED = 10;

document.addEventListener("price_update", (event) => {
  const { crypto, fiat, price, change } = event.detail;
  const cell = document.querySelector(`[data-price="${crypto}-${fiat}"]`);
  if (!cell || price === undefined) return;
  const before = cell.dataset.value;
  cell.dataset.value = price;
  cell.textContent = money(price, fiat);
  if (before !== undefined && before !== price) {
    cell.classList.remove("tick-up", "tick-down");
    void cell.offsetWidth; // restart the tint animation
    cell.classList.add(Number(price) >= Number(before) ? "tick-up" : "tick-down");
  }
  if (fiat === "USD" && change !== undefined) {
    const changeCell = document.querySelector(`[data-change="${crypto}-USD"]`);
    if (changeCell) {
      const span = document.createElement("span");
      span.className = String(change).startsWith("-") ? "negative" : "positive";
      span.textContent = `${Number.parseFloat(change).toFixed(2)}%`;
      changeCell.replaceChildren(span);
    }
  }
  const updated = document.getElementById("prices-updated");
  if (updated) updated.textContent = `Updated ${timeText(new Date().toISOString())}`;
});

document.addEventListener("activity", (event) => {
  const { crypto_currency: coin, trade_type: kind, amount } = event.detail;
  const feed = document.getElementById("activity");
  if (!feed) return;
  document.getElementById("activity-empty")?.remove();
  const li = document.createElement("li");
  li.className = "feed-new";
  const what = document.createElement("span");
  what.textContent = `${kind === "sell" ? "Someone sold" : "Someone bought"} ${approx(amount, coin)}`;
  const when = document.createElement("span");
  when.className = "muted small";
  when.textContent = "just now";
  li.append(what, when);
  feed.prepend(li);
  while (feed.children.length > MAX_FEED) feed.lastElementChild.remove();
});

