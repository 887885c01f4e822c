// Config editor: validates as you type with the server's validator (the messages of
// `mixbot validate`, at their line), suggests schema keys (Ctrl+Space), shows the diff
// against the saved file, saves (atomic write + backup) and offers a restart.
"use strict";
(async () => {
  const { api, esc, flash, debounce } = mixbot;
  const page = document.getElementById("editor-page");
  const id = page.dataset.botId;
  const base = `/bots/${encodeURIComponent(id)}`;
  const ta = document.getElementById("config-text");
  const gutter = document.getElementById("gutter");
  let saved = "", bad = new Set(), keys = [];

  function drawGutter() {
    const n = ta.value.split("\n").length;
    let out = "";
    for (let i = 1; i <= n; i++) out += (bad.has(i) ? "\u25cf" : " ") + String(i).padStart(4) + "\n";
    gutter.textContent = out;
    gutter.scrollTop = ta.scrollTop;
  }
  function show(res) {
    bad = new Set(res.problems.filter(p => p.line).map(p => p.line));
    const v = document.getElementById("validity");
    const errors = res.problems.filter(p => p.severity === "error").length;
    v.textContent = res.ok ? (res.problems.length ? "valid, with warnings" : "valid") : `${errors} error(s)`;
    v.className = res.ok ? "ok" : "error";
    document.getElementById("problems").innerHTML = res.problems.map(p =>
      `<li class="${esc(p.severity)}" data-line="${esc(p.line || "")}">` +
      `<a href="#" data-line="${esc(p.line || "")}">line ${esc(p.line || "?")}:${esc(p.column || 1)}</a> ` +
      `${esc(p.severity)}: ${esc(p.path)}: ${esc(p.message)}${p.hint ? " (" + esc(p.hint) + ")" : ""}</li>`).join("");
    drawGutter();
  }
  const check = debounce(async () => {
    if (!mixbot.canAct()) { // validation is an operator's call (it reads the server's files)
      document.getElementById("validity").textContent = "read-only (viewer)";
      return;
    }
    try { show(await api(base + "/config/validate", { method: "POST", body: { text: ta.value } })); }
    catch (e) { flash("cannot validate: " + e.message, true); }
  }, 250);
  function goLine(line) {
    const lines = ta.value.split("\n");
    let pos = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
    ta.focus(); ta.setSelectionRange(pos, pos + (lines[line - 1] || "").length);
    ta.scrollTop = Math.max(0, (line - 5) * 18);
  }
  document.getElementById("problems").addEventListener("click", ev => {
    const a = ev.target.closest("a[data-line]");
    if (a && a.dataset.line) { ev.preventDefault(); goLine(Number(a.dataset.line)); }
  });
  function diff(a, b) { // line diff (LCS), enough for a config file
    const x = a.split("\n"), y = b.split("\n"), n = x.length, m = y.length;
    const L = Array.from({ length: n + 1 }, () => new Int32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--)
      L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    const out = []; let i = 0, j = 0;
    while (i < n && j < m) {
      if (x[i] === y[j]) { i++; j++; }
      else if (L[i + 1][j] >= L[i][j + 1]) out.push(`-${i + 1}: ${x[i++]}`);
      else out.push(`+${j + 1}: ${y[j++]}`);
    }
    while (i < n) out.push(`-${i + 1}: ${x[i++]}`);
    while (j < m) out.push(`+${j + 1}: ${y[j++]}`);
    return out.length ? out.join("\n") : "no changes";
  }
  // key completion: the property names of the bot schema
  function collect(schema, acc) {
    if (!schema || typeof schema !== "object") return acc;
    for (const [k, v] of Object.entries(schema.properties || {})) { acc.add(k); collect(v, acc); }
    for (const part of ["items", "additionalProperties"]) collect(schema[part], acc);
    for (const part of ["oneOf", "anyOf", "allOf"]) (schema[part] || []).forEach(s => collect(s, acc));
    Object.values(schema.$defs || schema.definitions || {}).forEach(s => collect(s, acc));
    return acc;
  }
  function suggest() {
    const pos = ta.selectionStart, before = ta.value.slice(0, pos);
    const m = before.match(/"([A-Za-z_]*)$/);
    const prefix = m ? m[1] : "";
    const hits = keys.filter(k => k.startsWith(prefix)).slice(0, 12);
    const box = document.getElementById("suggest");
    box.innerHTML = hits.map(k => `<button type="button" data-key="${esc(k)}">${esc(k)}</button>`).join("");
    box.hidden = !hits.length;
    box.dataset.prefix = prefix;
  }
  document.getElementById("suggest").addEventListener("click", ev => {
    const b = ev.target.closest("button[data-key]");
    if (!b) return;
    const box = document.getElementById("suggest"), pos = ta.selectionStart;
    const cut = pos - box.dataset.prefix.length;
    const ins = b.dataset.key + '": ';
    ta.value = ta.value.slice(0, cut) + ins + ta.value.slice(pos);
    ta.setSelectionRange(cut + ins.length, cut + ins.length);
    box.hidden = true; ta.focus(); check();
  });
  ta.addEventListener("keydown", ev => {
    if (ev.ctrlKey && ev.code === "Space") { ev.preventDefault(); suggest(); }
    if (ev.key === "Escape") document.getElementById("suggest").hidden = true;
  });
  ta.addEventListener("input", () => { drawGutter(); check(); });
  ta.addEventListener("scroll", () => { gutter.scrollTop = ta.scrollTop; });

  const cfg = await api(base + "/config");
  saved = cfg.text; ta.value = saved; drawGutter(); check();
  try {
    const schema = await (await fetch("/schema/bot.schema.json")).json();
    keys = [...collect(schema, new Set())].sort();
    document.getElementById("keys").innerHTML = keys.map(k => `<option value="${esc(k)}">`).join("");
  } catch (e) { keys = []; }

  const diffBox = document.getElementById("diff");
  const showDiff = document.getElementById("show-diff");
  if (showDiff) showDiff.addEventListener("click", () => {
    diffBox.hidden = false; diffBox.textContent = diff(saved, ta.value);
  });
  const save = document.getElementById("save");
  if (save) save.addEventListener("click", async () => {
    try {
      const r = await api(base + "/config", { method: "PUT", body: { text: ta.value } });
      saved = ta.value; flash(`saved ${r.file}` + (r.backup ? ` (backup ${r.backup})` : ""));
      document.getElementById("restart-offer").hidden = !r.running;
      diffBox.hidden = true;
    } catch (e) {
      if (e.data && e.data.detail && e.data.detail.problems) show({ ok: false, problems: e.data.detail.problems });
      flash("not saved: " + e.message, true);
    }
  });
  const restart = document.getElementById("restart");
  if (restart) restart.addEventListener("click", async () => {
    try {
      await api(base + "/stop", { method: "POST" });
      for (let i = 0; i < 60; i++) {
        const st = await api(base);
        if (!st.row.running) break;
        await new Promise(res => setTimeout(res, 500));
      }
      await api(base + "/start", { method: "POST" });
      flash("restarted with the new config"); document.getElementById("restart-offer").hidden = true;
    } catch (e) { flash("restart: " + e.message, true); }
  });
})();
