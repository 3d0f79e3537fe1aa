// Live updates for every page: one WebSocket to /ws/trading.
//
// * The session cookie authenticates the socket; a page that holds a JWT may
//   call `live.authenticate(token)`, re-sent after every reconnect.
// * Messages become DOM events on `document`: `price_update`, `trade_update`,
//   `withdrawal_update`, `deposit_update`, `notification`, `announcement`, `activity` (CustomEvent, `detail` is the
//   message's data). Pages subscribe with `document.addEventListener`.
// * A dropped socket reconnects with exponential backoff and full jitter; a
//   quiet "Reconnecting…" shows while it is down. If it stays down, prices and
//   watched trades are polled from the API until the socket is back.
// * `notification` and `trade_update` also raise a toast; `announcement` shows
//   the banner.

import { money, statusLevel, statusText } from "./format.js";

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;
const SHOW_STATE_AFTER_MS = 1500; // a blip shorter than this stays invisible
const POLL_AFTER_FAILURES = 3;
const POLL_INTERVAL_MS = 5000;
const EVENT_TYPES = [
  "price_update",
  "trade_update",
  "withdrawal_update",
  "deposit_update",
  "notification",
  "announcement",
  "activity",
];

const body = document.body;
const authenticated = body.dataset.authenticated === "true";

const state = {
  socket: null,
  token: null,
  failures: 0,
  connected: false,
  reconnectTimer: null,
  stateTimer: null,
  pollTimer: null,
  stopped: false,
  watched: new Map(), // trade id -> last known status
  connects: 0,
};

function emit(type, detail) {
  document.dispatchEvent(new CustomEvent(type, { detail }));
}

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${body.dataset.wsPath || "/ws/trading"}`;
}

function showState(text) {
  const el = document.getElementById("live-state");
  if (!el) return;
  if (text) {
    el.textContent = text;
    el.hidden = false;
  } else {
    el.hidden = true;
  }
  body.dataset.live = text ? "down" : "up";
}

function dataOf(message) {
  // Accept {type, data: {...}}, {type, payload: {...}} or a flat {type, ...}.
  if (message.data && typeof message.data === "object") return message.data;
  if (message.payload && typeof message.payload === "object") return message.payload;
  const { type: _type, ...rest } = message;
  return rest;
}

function handle(message) {
  if (!message || typeof message !== "object") return;
  const type = message.type;
  if (!EVENT_TYPES.includes(type)) return;
  const detail = dataOf(message);
  if (type === "trade_update" && detail.trade_id !== undefined) {
    state.watched.set(String(detail.trade_id), detail.status);
  }
  emit(type, detail);
}

function connect() {
  if (state.stopped) return;
  clearTimeout(state.reconnectTimer);
  let socket;
  try {
    socket = new WebSocket(socketUrl());
  } catch {
    scheduleReconnect();
    return;
  }
  state.socket = socket;
  socket.addEventListener("open", () => {
    state.connected = true;
    state.failures = 0;
    state.connects += 1;
    clearTimeout(state.stateTimer);
    showState(null);
    stopPolling();
    if (state.token) socket.send(JSON.stringify({ type: "authenticate", token: state.token }));
    emit("live:connected", { connects: state.connects });
    // Whatever changed while we were away: one poll brings the page up to date.
    if (state.connects > 1) pollOnce();
  });
  socket.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    handle(message);
  });
  socket.addEventListener("close", () => {
    if (state.socket !== socket) return;
    state.connected = false;
    state.socket = null;
    emit("live:disconnected", {});
    scheduleReconnect();
  });
  // An error is always followed by close; nothing to do here.
  socket.addEventListener("error", () => {});
}

function scheduleReconnect() {
  if (state.stopped) return;
  state.failures += 1;
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (state.failures - 1));
  const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2)); // jitter
  clearTimeout(state.stateTimer);
  state.stateTimer = setTimeout(() => {
    if (!state.connected) showState("Reconnecting…");
  }, SHOW_STATE_AFTER_MS);
  if (state.failures >= POLL_AFTER_FAILURES) startPolling();
  state.reconnectTimer = setTimeout(connect, delay);
}

// ---- Polling fallback ------------------------------------------------------

async function getJson(url) {
  const response = await fetch(url, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

async function pollPrices() {
  if (!document.querySelector("[data-price]")) return;
  let data;
  try {
    data = await getJson("/api/trading/prices");
  } catch {
    return;
  }
  const rows = Array.isArray(data) ? data : (data.prices ?? data.results ?? []);
  for (const row of rows) {
    handle({ type: "price_update", data: { ...row, crypto: row.crypto ?? row.crypto_currency, fiat: row.fiat ?? row.fiat_currency } });
  }
}

async function pollTrades() {
  if (!authenticated) return;
  for (const [id, known] of state.watched) {
    let trade;
    try {
      trade = await getJson(`/api/trading/trades/${encodeURIComponent(id)}`);
    } catch {
      continue;
    }
    const detail = { ...trade, trade_id: trade.trade_id ?? trade.id ?? id };
    if (detail.status !== known) {
      detail.previous_status = known;
      handle({ type: "trade_update", data: detail });
    }
  }
}

function pollOnce() {
  pollPrices();
  pollTrades();
}

function startPolling() {
  if (state.pollTimer) return;
  body.dataset.polling = "true";
  pollOnce();
  state.pollTimer = setInterval(pollOnce, POLL_INTERVAL_MS);
}

function stopPolling() {
  if (!state.pollTimer) return;
  clearInterval(state.pollTimer);
  state.pollTimer = null;
  body.dataset.polling = "false";
}

// ---- Toasts and the announcement banner ----------------------------------

export function toast({ title, body: text = "", level = "info", timeout = 6000 }) {
  const region = document.getElementById("toasts");
  if (!region) return;
  const el = document.createElement("div");
  el.className = `toast ${level}`;
  const strong = document.createElement("strong");
  strong.textContent = title;
  el.append(strong);
  if (text) {
    const p = document.createElement("span");
    p.textContent = text;
    el.append(p);
  }
  region.append(el);
  setTimeout(() => el.remove(), timeout);
}

function tradeToast(trade) {
  if (!trade.status || trade.status === trade.previous_status) return;
  const verb = trade.trade_type === "sell" ? "Sell" : "Buy";
  const amount = trade.crypto_amount ? ` · ${money(trade.crypto_amount, trade.crypto_currency)}` : "";
  toast({
    title: `${verb} ${trade.crypto_currency ?? ""}${amount}`.trim(),
    body: statusText(trade),
    level: statusLevel(trade.status),
  });
}

function showAnnouncement(data) {
  const banner = document.getElementById("announcement");
  const text = document.getElementById("announcement-text");
  if (!banner || !text) return;
  const message = [data.title, data.body ?? data.message].filter(Boolean).join(" — ");
  if (!message) return;
  text.textContent = message;
  banner.hidden = false;
}

document.addEventListener("notification", (event) => {
  const d = event.detail;
  toast({ title: d.title ?? "DT Exchange", body: d.body ?? "", level: d.level ?? "info" });
});
document.addEventListener("trade_update", (event) => tradeToast(event.detail));
document.addEventListener("announcement", (event) => showAnnouncement(event.detail));
document.getElementById("announcement-close")?.addEventListener("click", () => {
  document.getElementById("announcement").hidden = true;
});

// ---- Public surface --------------------------------------------------------

export const live = {
  /** Send a JWT after each (re)connect; the session cookie is enough on the site. */
  authenticate(token) {
    state.token = token;
    if (state.connected) state.socket.send(JSON.stringify({ type: "authenticate", token }));
  },
  /** Follow a trade: its updates are polled while the socket is down. */
  watchTrade(id, status) {
    state.watched.set(String(id), status);
  },
  get connected() {
    return state.connected;
  },
  get connects() {
    return state.connects;
  },
  get polling() {
    return Boolean(state.pollTimer);
  },
};
window.dtxLive = live;

connect();
