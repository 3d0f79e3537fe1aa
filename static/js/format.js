// Money and status display, in step with ledger/money.py `fmt` and
// trading/templatetags/site_tags.py `status_text` (DESIGN 9).
// Amounts arrive as decimal strings; Intl formats a string exactly (no float
// on the way) and `roundingMode: "trunc"` rounds down like `quantize`.

const PRECISION = { BTC: 8, ETH: 18, SOL: 9, TRX: 6, USD: 2, UGX: 0 };
const FIAT = new Set(["USD", "UGX"]);
const formatters = new Map();

function formatter(precision) {
  if (!formatters.has(precision)) {
    formatters.set(
      precision,
      new Intl.NumberFormat("en-US", {
        minimumFractionDigits: precision,
        maximumFractionDigits: precision,
        roundingMode: "trunc",
        useGrouping: true,
      }),
    );
  }
  return formatters.get(precision);
}

export function number(amount, code) {
  if (amount === null || amount === undefined || amount === "") return "—";
  const precision = PRECISION[code] ?? 2;
  return formatter(precision).format(String(amount));
}

export function money(amount, code) {
  if (amount === null || amount === undefined || amount === "") return "—";
  const text = number(amount, code);
  if (code === "USD") return text.startsWith("-") ? `-$${text.slice(1)}` : `$${text}`;
  if (FIAT.has(code)) return `${code} ${text}`;
  return `${text} ${code}`;
}

export function isCrypto(code) {
  return code in PRECISION && !FIAT.has(code);
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

export function timeText(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return d.toLocaleString("en-GB", {
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
  });
}

const approxFormatter = new Intl.NumberFormat("en-US", { maximumFractionDigits: 18 });

/** A rounded public amount as published: separators, no padding zeros. */
export function approx(amount, code) {
  if (amount === null || amount === undefined || amount === "") return "—";
  return `${approxFormatter.format(String(amount))} ${code}`;
}
