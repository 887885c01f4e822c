// Backtests: start a job, follow its progress bar, then show metrics against buy-and-hold,
// the equity / drawdown chart and the trades.
"use strict";
(() => {
  const { api, esc, money, flash } = mixbot;
  const fmt = v => (v === null || v === undefined ? "" : typeof v !== "number" ? esc(v) : Number.isInteger(v) ? String(v) : v.toFixed(2));
  async function jobs() {
    const js = await api("/backtests");
    document.querySelector("#bt-jobs tbody").innerHTML = js.map(j =>
      `<tr><td><a href="#" data-job="${esc(j.id)}">${esc(j.id)}</a></td><td>${esc(j.bot_id)}</td>
       <td>${esc(j.state)}</td><td>${j.pct.toFixed(0)} %</td><td>${esc(j.started_at)}</td></tr>`).join("");
  }
  async function result(jobId) {
    const r = await api(`/backtests/${encodeURIComponent(jobId)}/result`);
    document.getElementById("bt-result").hidden = false;
    document.getElementById("bt-job").textContent = jobId;
    const m = r.metrics, bh = r.buy_and_hold;
    const rows = [["Total return (%)", m.total_return_pct, bh.total_return_pct],
      ["Max drawdown (%)", m.max_drawdown_pct, bh.max_drawdown_pct], ["Sharpe", m.sharpe, bh.sharpe],
      ["Final value (INR)", m.final_value, bh.final_value], ["Trades", m.n_trades, ""],
      ["Win rate (%)", m.win_rate_pct, ""], ["Profit factor", m.profit_factor, ""]];
    document.querySelector("#bt-metrics tbody").innerHTML = rows.map(x =>
      `<tr><td>${x[0]}</td><td class="num">${fmt(x[1])}</td><td class="num">${fmt(x[2])}</td></tr>`).join("");
    const e = r.equity;
    Plotly.react("bt-equity", [
      { type: "scatter", name: "strategy (INR)", x: e.map(p => p.time), y: e.map(p => p.value) },
      { type: "scatter", name: "buy and hold (INR)", x: e.map(p => p.time), y: e.map(p => p.buy_and_hold) },
      { type: "scatter", name: "drawdown %", x: e.map(p => p.time), y: e.map(p => -p.drawdown_pct),
        yaxis: "y2", fill: "tozeroy", line: { color: "#c62828", width: 1 } }],
      { margin: { l: 60, r: 50, t: 10, b: 30 }, legend: { orientation: "h" },
        yaxis: { domain: [0.34, 1], title: "INR" },
        yaxis2: { domain: [0, 0.26], title: "drawdown %" } }, { displaylogo: false, responsive: true });
    document.querySelector("#bt-trades tbody").innerHTML = r.trades.map(t =>
      `<tr><td>${esc(t.entry_time)}</td><td>${esc(t.exit_time)}</td><td>${esc(t.side)}</td>
       <td>${esc(t.qty)}</td><td class="num">${money(t.pnl_net)}</td><td>${esc(t.exit_reason)}</td></tr>`).join("");
  }
  async function follow(jobId) {
    const box = document.getElementById("bt-progress");
    box.hidden = false;
    for (;;) {
      const j = await api(`/backtests/${encodeURIComponent(jobId)}`);
      document.getElementById("bt-bar").value = j.pct;
      document.getElementById("bt-pct").textContent = `${j.state} ${j.pct.toFixed(0)} %`;
      if (j.state !== "running") {
        jobs();
        if (j.state === "done") return result(jobId);
        return flash(`backtest ${j.state}: ${j.error || ""}`, true);
      }
      await new Promise(res => setTimeout(res, 700));
    }
  }
  const form = document.getElementById("bt-form");
  if (form) form.addEventListener("submit", async ev => {
    ev.preventDefault();
    const body = { bot_id: document.getElementById("bt-bot").value };
    const f = document.getElementById("bt-from").value, t = document.getElementById("bt-to").value;
    if (f) body.from = f;
    if (t) body.to = t;
    try { const j = await api("/backtests", { method: "POST", body }); follow(j.id); }
    catch (e) { flash("backtest not started: " + e.message, true); }
  });
  document.querySelector("#bt-jobs tbody").addEventListener("click", ev => {
    const a = ev.target.closest("a[data-job]");
    if (a) { ev.preventDefault(); result(a.dataset.job).catch(e => flash(e.message, true)); }
  });
  jobs();
})();
