// Dashboard: every bot's row, refreshed when the event bus says something happened.
"use strict";
(() => {
  const { api, esc, money, flash, live, debounce, canAct } = mixbot;
  const body = document.querySelector("#bots tbody");
  function actions(b) {
    if (!canAct()) return "";
    const btn = (cmd, label) => `<button data-bot="${esc(b.bot_id)}" data-cmd="${cmd}">${label}</button>`;
    return `<td class="actions">${btn("start", "Start")}${btn("stop", "Stop")}${btn("pause", "Pause")}${btn("resume", "Resume")}</td>`;
  }
  function row(b) {
    const pos = b.position_qty ? `${b.position_qty} @ ${money(b.position_avg_price)}` : "flat";
    return `<tr data-bot-id="${esc(b.bot_id)}" class="st-${esc((b.status || "").replace(/ /g, "-"))}">
      <td><a href="/bots/${encodeURIComponent(b.bot_id)}">${esc(b.bot_id)}</a></td>
      <td class="status" title="${esc(b.status_detail || b.error || "")}">${esc(b.status)}</td>
      <td>${esc(b.mode)}</td><td>${esc(b.venue)}</td><td>${esc((b.symbols || []).join(", "))}</td>
      <td class="position">${esc(pos)}</td><td class="num">${money(b.today_pnl)}</td>
      <td class="num trades">${esc(b.trades_closed)}</td><td>${esc(b.last_bar_time || "")}</td>
      <td>${esc((b.halts || []).join("; "))}</td>${actions(b)}</tr>`;
  }
  async function refresh() {
    try {
      const data = await api("/bots");
      body.innerHTML = data.bots.map(row).join("");
      const t = data.totals;
      document.getElementById("totals").innerHTML =
        `<td>${t.bots} bots</td><td>${t.running} running</td><td colspan="3"></td>
         <td>${t.open_positions} open</td><td class="num">${money(t.today_pnl)}</td>
         <td colspan="${canAct() ? 4 : 3}">total net ${money(t.realized_pnl_total)}</td>`;
    } catch (e) { flash("cannot load the bots: " + e.message, true); }
  }
  body.addEventListener("click", async ev => {
    const b = ev.target.closest("button[data-cmd]");
    if (!b) return;
    try {
      await api(`/bots/${encodeURIComponent(b.dataset.bot)}/${b.dataset.cmd}`, { method: "POST" });
      flash(`${b.dataset.cmd} sent to ${b.dataset.bot}`);
      setTimeout(refresh, 1500);
    } catch (e) { flash(`${b.dataset.cmd} ${b.dataset.bot}: ${e.message}`, true); }
  });
  // rows are cached by the server for 1 s: read now, and once more when that has passed
  const again = debounce(refresh, 1200);
  const soon = debounce(() => { refresh(); again(); }, 300);
  live("", soon, s => { document.getElementById("live-state").textContent = s; });
  refresh();
  setInterval(refresh, 10000); // heartbeats and bar times move without bus events
})();
