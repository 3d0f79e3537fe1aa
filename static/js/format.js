// Money and status display, in step with dtexchange/display.py (amounts) and
// trading/templatetags/site_tags.py `status_text`; a test runs
// both on the same inputs (tests/site/test_display_agreement.py).
// Amounts arrive as decimal strings and are shown at a display precision per
// currency, cut (toward zero), never rounded up. Intl formats a string
// exactly (no float on the way) and `roundingMode: "trunc"` cuts.

export const DISPLAY_PRECISION = { BTC: 8, ETH: 8, SOL: 6, TRX: 6, UGX: 0, USD: 2 };
const FIAT = new Set(["USD", "UGX"]);
// A code we do not know: its digits up to 18 decimals, cut, no padding zeros.
const UNKNOWN_PLACES = 18;
const DASH = "—";
// The same test as display.py: no "1_000", no "Infinity", no hex.
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const formatters = new Map();

function formatter(minimum, maximum) {
  const key = `${minimum}:${maximum}`;
  if (!formatters.has(key)) {
    formatters.set(
      key,
      new Intl.NumberFormat("en-US", {
        minimumFractionDigits: minimum,
        maximumFractionDigits: maximum,
        roundingMode: "trunc",
        signDisplay: "negative", // never "-0.00"
        useGrouping: true,
      }),
    );
  }
  return formatters.get(key);
}

function decimalText(amount) {
  if (amount === null || amount === undefined || typeof amount === "number") return null;
  const text = String(amount).trim();
  return DECIMAL.test(text) ? text : null;
}

function upper(code) {
  return String(code ?? "").toUpperCase();
}

/** The number alone: separators, the display precision of `code`, cut. */
export function number(amount, code) {
  const text = decimalText(amount);
  if (text === null) return DASH;
  const places = DISPLAY_PRECISION[upper(code)];
  if (places === undefined) return formatter(0, UNKNOWN_PLACES).format(text);
  return formatter(places, places).format(text);
}

/** `UGX 250,000`, `$1,234.50`, `-$5.00`, `0.00125000 BTC`. */
export function money(amount, code) {
  const cur = upper(code);
  const text = number(amount, cur);
  if (text === DASH) return DASH;
  if (cur === "USD") return text.startsWith("-") ? `-$${text.slice(1)}` : `$${text}`;
  if (FIAT.has(cur)) return `${cur} ${text}`;
  return `${text} ${cur}`.trim();
}

/** `1 ETH = UGX 12,281,626`: a rate in its fiat's display precision. */
export function rate(value, crypto, fiat) {
  return `1 ${crypto} = ${money(value, fiat)}`;
}

export function isCrypto(code) {
  return code in DISPLAY_PRECISION && !FIAT.has(code);
}

const PENDING_BY_METHOD = {
  mobile_money: "Approve the prompt on your phone",
  bank_deposit: "Waiting for your bank transfer",
};
const PROCESSING_BY_METHOD = {
  bank_deposit: "Under review by our team",
  mobile_money: "Approve the prompt on your phone",
};

export function statusText({ status, trade_type = "buy", payment_method = "" }) {
  switch (status) {
    case "pending":
      if (trade_type === "sell") return "Sending your money";
      return PENDING_BY_METHOD[payment_method] ?? "Waiting for your payment";
    case "processing":
      if (trade_type === "sell") return "Sending your money";
      return PROCESSING_BY_METHOD[payment_method] ?? "Processing";
    case "completed":
      return "Completed";
    case "failed":
      return trade_type === "sell"
        ? "Failed — refunded to your wallet"
        : "Failed — nothing was charged";
    case "cancelled":
      return "Cancelled — nothing was charged";
    case "expired":
      return "Expired — nothing was charged";
    default:
      return status ? status[0].toUpperCase() + status.slice(1) : "";
  }
}

export function statusLevel(status) {
  if (status === "completed") return "success";
  if (status === "failed") return "error";
  if (status === "pending" || status === "processing") return "pending";
  return "info";
}

// Times are shown in East Africa Time whatever the browser's zone, in the
// server's formats (Django "j M, H:i" and "j M Y, H:i:s"), so a row added
// live reads like the rows the page was rendered with.
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const eatParts = new Intl.DateTimeFormat("en-GB", {
  timeZone: "Africa/Kampala",
  year: "numeric",
  month: "numeric",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});

function eat(iso) {
  if (!iso) return null;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return null;
  const p = Object.fromEntries(eatParts.formatToParts(d).map((x) => [x.type, x.value]));
  return { ...p, day: String(Number(p.day)), month: MONTHS[Number(p.month) - 1] };
}

export function timeText(iso) {
  const t = eat(iso);
  return t ? `${t.day} ${t.month}, ${t.hour}:${t.minute}` : "";
}

export function dateTimeText(iso) {
  const t = eat(iso);
  return t ? `${t.day} ${t.month} ${t.year}, ${t.hour}:${t.minute}:${t.second}` : "";
}

// A rate has at most 18 decimals (NUMERIC(38, 18)): as a percent, 16.
const PERCENT_PLACES = 16;
const percentFormatter = new Intl.NumberFormat("en-US", {
  style: "percent", // scales the decimal string by 100 exactly
  minimumFractionDigits: 0,
  maximumFractionDigits: PERCENT_PLACES,
  roundingMode: "trunc",
  signDisplay: "negative",
  useGrouping: false,
});

/** A fee rate (a decimal fraction) as its exact percent: `"0.025"` → `2.5%`. */
export function percent(value) {
  const text = decimalText(value);
  return text === null ? DASH : percentFormatter.format(text);
}

/** A rounded public figure as published (`0.001 BTC`): cut to the display
 * precision, no padding zeros. */
export function approx(amount, code) {
  const text = decimalText(amount);
  if (text === null) return DASH;
  const cur = upper(code);
  const places = DISPLAY_PRECISION[cur] ?? UNKNOWN_PLACES;
  return `${formatter(0, places).format(text)} ${cur}`.trim();
}
