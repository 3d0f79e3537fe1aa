// Confirm step: count down the quote; once it expires, the button asks for a
// new price instead (the server would refuse the old one anyway).
const timer = document.getElementById("quote-timer");
const countdown = document.getElementById("quote-countdown");
const button = document.getElementById("confirm-button");
const expires = Date.parse(timer?.dataset.expires ?? "");

function tick() {
  const left = Math.max(0, Math.round((expires - Date.now()) / 1000));
  if (left > 0) {
    countdown.textContent = ` — ${left} s left`;
    setTimeout(tick, 1000);
    return;
  }
  timer.className = "alert warning";
  timer.textContent = "This price has expired. Get a new price to continue.";
  button.value = "review";
  button.textContent = "Get a new price";
}
if (!Number.isNaN(expires)) tick();

// One click, one trade: a second click while the first is on its way does nothing.
document.getElementById("confirm-form")?.addEventListener("submit", (event) => {
  const form = event.currentTarget;
  if (form.dataset.sent === "true") {
    event.preventDefault();
    return;
  }
  form.dataset.sent = "true";
});
