// mixbot web GUI: shared helpers (no framework). Every write sends the X-CSRFToken header.
"use strict";
const mixbot = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
  async function api(path, opts = {}) {
    const init = { method: opts.method || "GET", headers: { Accept: "application/json" },
                   credentials: "same-origin" };
    if (init.method !== "GET") init.headers["X-CSRFToken"] = csrf();
    if (opts.body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(opts.body);
    }
    const resp = await fetch("/api/v1" + path, init);
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      const err = new Error((data && data.message) || resp.statusText);
      err.status = resp.status; err.data = data; throw err;
    }
    return data;
  }
  function esc(v) {
    return String(v === null || v === undefined ? "" : v).replace(/[&<>"']/g,
      c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }
  function money(v) { return v === null || v === undefined ? "" : Number(v).toFixed(2); }
  function flash(text, bad) {
    const el = document.getElementById("flash");
    el.textContent = text; el.hidden = false; el.className = bad ? "flash bad" : "flash";
    clearTimeout(flash.t); flash.t = setTimeout(() => { el.hidden = true; }, 6000);
  }
  // Live updates from the event bus (server-sent events); calls onEvent(type, event).
  function live(query, onEvent, onState) {
    const src = new EventSource("/api/v1/stream" + (query || ""));
    src.onopen = () => onState && onState("live");
    src.onerror = () => onState && onState(src.readyState === EventSource.CLOSED
      ? "disconnected (logged out?): reload the page" : "reconnecting…");
    const types = ["trade_entry", "trade_exit", "order_rejected", "order_partially_filled",
      "halted", "error", "feed_state", "status", "bot_started", "bot_stopped",
      "outside_position", "daily_summary", "token_expiring"];
    types.forEach(t => src.addEventListener(t, ev => onEvent(t, JSON.parse(ev.data))));
    return src;
  }
  function debounce(fn, ms) {
    let t = null;
    return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
  }
  const canAct = () => document.body.dataset.role === "operator";
  return { api, esc, money, flash, live, debounce, canAct };
})();
