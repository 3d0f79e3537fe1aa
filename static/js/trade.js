// Trade page: buy/sell toggle, only the methods and fields that apply, a
// debounced live quote (POST /api/trading/calculate), the mobile network
// detected as you type, and voucher validation. The form still posts to the
// server, which checks everything again.
import { errorMessage, postJson } from "./api.js";
import { money, percent, rate } from "./format.js";

const form = document.getElementById("trade-form");
const $ = (selector) => form.querySelector(selector);
const DEBOUNCE_MS = 350;

const amountLabel = document.querySelector('label[for="id_amount"]');
const amountHelp = document.getElementById("amount-help");
const summary = {
  pay: document.getElementById("sum-pay"),
  fee: document.getElementById("sum-fee"),
  rate: document.getElementById("sum-rate"),
  get: document.getElementById("sum-get"),
  error: document.getElementById("sum-error"),
};

function value(name) {
  const checked = form.querySelector(`input[name="${name}"]:checked`);
  if (checked) return checked.value;
  return form.elements[name]?.value ?? "";
}

function setMethodVisibility() {
  const type = value("trade_type");
  const fiat = value("fiat_currency");
  let firstVisible = null;
  for (const card of form.querySelectorAll("[data-method-card]")) {
    const fiats = card.dataset.fiats ? card.dataset.fiats.split(",") : [];
    const supports = card.dataset[type] === "true";
    const isCrypto = card.dataset.methodCard === "crypto";
    const fits = supports && (isCrypto || fiats.length === 0 || fiats.includes(fiat));
    card.hidden = !fits;
    const radio = card.querySelector("input");
    radio.disabled = !fits;
    if (!fits && radio.checked) radio.checked = false;
    if (fits && !firstVisible) firstVisible = radio;
  }
  if (!form.querySelector('input[name="payment_method"]:checked') && firstVisible) {
    firstVisible.checked = true;
  }
  const method = value("payment_method");
  for (const block of form.querySelectorAll("[data-method-fields]")) {
    block.hidden = block.dataset.methodFields !== method;
  }
  for (const block of form.querySelectorAll("[data-trade-only]")) {
    block.hidden = block.dataset.tradeOnly !== type;
  }
  // Selling to a saved payout number: the typed number is not needed (and
  // a disabled field is not sent, so the two cannot both be given).
  const typed = form.elements.phone_number;
  const saved = form.elements.payout_number;
  if (typed && saved) {
    const useSaved = type === "sell" && saved.value !== "";
    typed.closest(".field").hidden = useSaved;
    typed.disabled = useSaved;
  }
  if (type === "sell") {
    amountLabel.textContent = `Amount of ${value("crypto_currency")} to sell`;
    amountHelp.textContent = "You'll see what you get, after the fee, on the right.";
  } else if (method === "crypto") {
    amountLabel.textContent = `Amount of ${value("from_currency") || "the coin"} to spend`;
    amountHelp.textContent = "Paid from your wallet at today's rate.";
  } else if (method === "voucher") {
    amountLabel.textContent = `Voucher value (${fiat})`;
    amountHelp.textContent = "The amount printed on your voucher, fee included.";
  } else {
    amountLabel.textContent = `Amount to pay (${fiat})`;
    amountHelp.textContent = "What you pay, fee included.";
  }
}

function clearSummary() {
  for (const key of ["pay", "fee", "rate"]) summary[key].textContent = "—";
  summary.get.innerHTML = "<strong>—</strong>";
}

let timer = null;
let inflight = null;

function details() {
  const method = value("payment_method");
  if (method === "crypto") return { from_currency: value("from_currency") };
  return {};
}

async function calculate() {
  const amount = value("amount").replace(/[,\s]/g, "");
  const method = value("payment_method");
  summary.error.textContent = "";
  if (!amount || !method || Number.isNaN(Number(amount)) || Number(amount) <= 0) {
    clearSummary();
    return;
  }
  inflight?.abort();
  inflight = new AbortController();
  const body = {
    trade_type: value("trade_type"),
    crypto_currency: value("crypto_currency"),
    fiat_currency: value("fiat_currency"),
    amount,
    payment_method: method,
    payment_details: details(),
  };
  let result;
  try {
    result = await postJson("/api/trading/calculate", body, { signal: inflight.signal });
  } catch (error) {
    if (error.name !== "AbortError") summary.error.textContent = "Can't reach DT Exchange right now.";
    return;
  }
  if (!result.ok) {
    clearSummary();
    summary.error.textContent = errorMessage(result.data);
    return;
  }
  const q = result.data;
  const fiat = q.fiat_currency;
  const coin = q.crypto_currency;
  if (q.trade_type === "sell") {
    summary.pay.textContent = money(q.crypto_amount, coin);
    summary.get.innerHTML = "";
    const strong = document.createElement("strong");
    strong.textContent = money(q.net_amount, fiat);
    summary.get.append(strong);
  } else {
    const paidIn = body.payment_details.from_currency;
    summary.pay.textContent = paidIn ? money(q.amount, paidIn) : money(q.fiat_amount, fiat);
    summary.get.innerHTML = "";
    const strong = document.createElement("strong");
    strong.textContent = money(q.crypto_amount, coin);
    summary.get.append(strong);
  }
  summary.fee.textContent = `${money(q.fee_amount, fiat)} (${percent(q.fee_rate)})`;
  summary.rate.textContent = rate(q.exchange_rate, coin, fiat);
  form.dataset.quoted = "true";
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(calculate, DEBOUNCE_MS);
}

// ---- Mobile network from the number's prefix -------------------
const PREFIXES = [
  ["724", "MTN"], ["737", "MTN"], ["730", "Airtel"], ["731", "Airtel"],
  ["76", "MTN"], ["77", "MTN"], ["78", "MTN"], ["79", "MTN"],
  ["70", "Airtel"], ["74", "Airtel"], ["75", "Airtel"],
];

function network(raw) {
  let digits = raw.replace(/[^\d+]/g, "");
  if (digits.startsWith("+")) digits = digits.slice(1);
  if (digits.startsWith("256")) digits = digits.slice(3);
  else if (digits.startsWith("0")) digits = digits.slice(1);
  if (digits.length < 2) return null;
  for (const [prefix, name] of PREFIXES) {
    if (digits.startsWith(prefix)) return { name, complete: digits.length === 9 };
  }
  return digits.length >= 3 || !["7"].includes(digits[0]) ? { name: null } : null;
}

const phone = form.elements.phone_number;
const networkHint = document.getElementById("network");
phone?.addEventListener("input", () => {
  const found = network(phone.value);
  if (!found) networkHint.textContent = "MTN or Airtel Uganda.";
  else if (!found.name) networkHint.textContent = "That isn't an MTN or Airtel Uganda number.";
  else networkHint.textContent = `${found.name} Uganda${found.complete ? " ✓" : ""}`;
  networkHint.dataset.network = found?.name ?? "";
});

// ---- Voucher validation -----------------------------------------------------
const voucher = form.elements.voucher_code;
const voucherStatus = document.getElementById("voucher-status");
async function validateVoucher() {
  const code = voucher.value.trim();
  if (!code) return;
  voucherStatus.textContent = "Checking…";
  const result = await postJson("/api/trading/vouchers/validate", {
    voucher_code: code,
    currency: value("fiat_currency"),
  }).catch(() => null);
  if (!result) {
    voucherStatus.textContent = "Couldn't check the voucher right now.";
    return;
  }
  const v = result.data ?? {};
  if (!result.ok || !v.valid) {
    voucherStatus.textContent = v.message ?? errorMessage(v, "That voucher can't be used.");
    voucherStatus.dataset.valid = "false";
    return;
  }
  voucherStatus.textContent = `Valid voucher for ${money(v.amount, v.currency)} ✓`;
  voucherStatus.dataset.valid = "true";
  if (v.currency === value("fiat_currency")) {
    form.elements.amount.value = v.amount;
    schedule();
  }
}
voucher?.addEventListener("change", validateVoucher);

// ---- Wiring -------------------------------------------------------------------
form.addEventListener("change", (event) => {
  if (event.target === voucher) return;
  setMethodVisibility();
  schedule();
});
form.elements.amount.addEventListener("input", schedule);
setMethodVisibility();
if (value("amount")) schedule();
form.dataset.ready = "true";
