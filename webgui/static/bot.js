// Bot page: candlestick chart with trade markers and SL/TP lines, equity and drawdown,
// position, orders, trades (sortable, filterable), audit trail and log; live via the bus.
"use strict";
(() => {
  const { api, esc, money, flash, live, debounce } = mixbot;
  const root = document.getElementById("bot");
  const id = root.dataset.botId;
  const base = `/bots/${encodeURIComponent(id)}`;
  let trades = [], sortKey = "exit_time", sortDir = -1;
  const layout = (extra) => Object.assign({ margin: { l: 50, r: 20, t: 10, b: 30 },
    showlegend: true, legend: { orientation: "h" } }, extra);

  async function chart() {
    const c = await api(base + "/chart");
    document.getElementById("chart-note").textContent = c.note || "";
    const b = c.bars;
    const traces = [{ type: "candlestick", name: "bars", x: b.time, open: b.open, high: b.high,
      low: b.low, close: b.close }];
    for (const kind of ["entry", "exit"]) {
      const m = c.markers.filter(x => x.kind === kind);
      traces.push({ type: "scatter", mode: "markers", name: kind === "entry" ? "entries" : "exits", x: m.map(x => x.time),
        y: m.map(x => x.price), text: m.map(x => x.text), hoverinfo: "text",
        marker: { size: 11, symbol: kind === "entry" ? "triangle-up" : "triangle-down",
                  color: kind === "entry" ? "#1565c0" : "#ef6c00" } });
    }
    const colors = { stop_loss: "#c62828", take_profit: "#2e7d32", entry: "#555" };
    const shapes = c.lines.map(l => ({ type: "line", xref: "paper", x0: 0, x1: 1, y0: l.price,
      y1: l.price, line: { color: colors[l.kind] || "#999", dash: "dash", width: 1 } }));
    const annotations = c.lines.map(l => ({ xref: "paper", x: 1, y: l.price, xanchor: "right",
      text: `${l.kind} ${money(l.price)}`, showarrow: false, font: { size: 10 } }));
    Plotly.react("chart", traces, layout({ shapes, annotations,
      xaxis: { rangeslider: { visible: false }, type: "category", nticks: 8 } }),
      { displaylogo: false, responsive: true });
    document.getElementById("chart").dataset.markers = String(c.markers.length);
  }
  async function equity() {
    const e = await api(base + "/equity");
    Plotly.react("equity", [
      { type: "scatter", name: "equity (INR)", x: e.map(p => p.time), y: e.map(p => p.value) },
      { type: "scatter", name: "drawdown %", x: e.map(p => p.time), y: e.map(p => -p.drawdown_pct),
        yaxis: "y2", fill: "tozeroy", line: { color: "#c62828", width: 1 } }],
      layout({ yaxis: { domain: [0.34, 1], title: "INR" },
               yaxis2: { domain: [0, 0.26], title: "drawdown %" } }),
      { displaylogo: false, responsive: true });
  }
  function fill(sel, rows, cols) {
    document.querySelector(sel + " tbody").innerHTML = rows.map(r =>
      "<tr>" + cols.map(c => `<td>${esc(typeof c === "function" ? c(r) : r[c])}</td>`).join("") + "</tr>").join("");
  }
  function drawTrades() {
    const q = document.getElementById("trade-filter").value.toLowerCase();
    const rows = trades.filter(t => !q || Object.values(t).join(" ").toLowerCase().includes(q))
      .sort((a, b) => (a[sortKey] > b[sortKey] ? 1 : a[sortKey] < b[sortKey] ? -1 : 0) * sortDir);
    fill("#trades", rows, ["entry_time", "exit_time", "side", "qty", r => money(r.entry_price),
      r => money(r.exit_price), r => money(r.pnl_net), "exit_reason"]);
  }
  async function tables() {
    const [st, orders, tr, audit, log] = await Promise.all([api(base), api(base + "/orders"),
      api(base + "/trades"), api(base + "/audit"), api(base + "/log")]);
    const badge = document.getElementById("bot-status");
    badge.textContent = st.row.status; badge.title = st.row.status_detail || "";
    fill("#positions", st.status.positions, ["symbol", "qty", r => money(r.avg_price)]);
    fill("#orders", orders, ["tag", "role", "side", "order_type", "qty_requested",
      r => money(r.price_requested), "status"]);
    trades = tr; drawTrades();
    document.getElementById("audit").innerHTML = audit.slice(-40).reverse().map(a =>
      `<li><span class="muted">${esc(a.at)}</span> <b>${esc(a.kind)}</b> ${esc(a.message)}</li>`).join("");
    document.getElementById("log").textContent = log.lines.slice(-80).join("\n");
  }
  async function refresh() {
    try { await Promise.all([tables(), chart(), equity()]); }
    catch (e) { flash("cannot load the bot: " + e.message, true); }
  }
  document.getElementById("trade-filter").addEventListener("input", drawTrades);
  document.querySelectorAll("#trades th[data-key]").forEach(th => th.addEventListener("click", () => {
    sortDir = sortKey === th.dataset.key ? -sortDir : 1; sortKey = th.dataset.key; drawTrades();
  }));
  const acts = document.getElementById("bot-actions");
  if (acts) {
    acts.addEventListener("click", async ev => {
      const b = ev.target.closest("button[data-cmd]");
      if (!b) return;
      try { await api(`${base}/${b.dataset.cmd}`, { method: "POST" }); flash(`${b.dataset.cmd} sent`); }
      catch (e) { flash(`${b.dataset.cmd}: ${e.message}`, true); }
    });
    const confirmBox = document.getElementById("panic-confirm");
    const panic = document.getElementById("panic");
    confirmBox.addEventListener("input", () => { panic.disabled = confirmBox.value.trim() !== id; });
    panic.addEventListener("click", async () => {
      try {
        const r = await api(base + "/panic", { method: "POST", body: { confirm: confirmBox.value.trim() } });
        flash(`panic sent (${r.result || "queued"})`); confirmBox.value = ""; panic.disabled = true;
      } catch (e) { flash("panic: " + e.message, true); }
    });
  }
  live("?bot_id=" + encodeURIComponent(id), debounce(refresh, 300));
  refresh();
  setInterval(tables, 10000);
})();
