// New bot: copy an example config under a new bot id, then open the editor.
"use strict";
(async () => {
  const { api, esc, flash } = mixbot;
  const sel = document.getElementById("example");
  const ex = await api("/examples");
  sel.innerHTML = ex.map(e => `<option value="${esc(e.name)}">${esc(e.name)} · ${esc(e.description)}</option>`).join("");
  document.getElementById("new-bot").addEventListener("submit", async ev => {
    ev.preventDefault();
    const botId = document.getElementById("new-bot-id").value.trim();
    try {
      await api("/bots", { method: "POST", body: { example: sel.value, bot_id: botId } });
      location.href = `/bots/${encodeURIComponent(botId)}/edit`;
    } catch (e) { flash("not created: " + e.message, true); }
  });
})();
