// "Sync now" on a marketplace's admin page: queue a sync, then show its progress and result.
"use strict";

document.querySelectorAll("button[data-sync-url]").forEach((button) => {
  const status = document.getElementById("sync-status");
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const show = (text) => { status.textContent = text; };

  const follow = async (url) => {
    const run = await (await fetch(url, { headers: { Accept: "application/json" } })).json();
    if (run.status === "running") {
      const p = run.progress || {};
      show(`Syncing: ${p.phase || "starting"}${p.total ? ` ${p.done}/${p.total}` : ""}…`);
      setTimeout(() => follow(url), 1000);
      return;
    }
    const c = run.counts;
    show(`Sync ${run.status} at ${(run.commit || "").slice(0, 12)}: ${c.plugins} plugins, ${c.skills} skills ` +
         `(${c.added} added, ${c.updated} updated, ${c.removed} removed), ${run.errors} errors` +
         (run.error ? ` — ${run.error}` : ""));
    button.disabled = false;
  };

  button.addEventListener("click", async () => {
    button.disabled = true;
    show("Queued…");
    const response = await fetch(button.dataset.syncUrl, { method: "POST", headers: { "X-CSRFToken": csrf } });
    if (!response.ok) {
      show(`Could not queue a sync (${response.status}).`);
      button.disabled = false;
      return;
    }
    const { url } = await response.json();
    follow(button.dataset.syncUrl + url);
  });
});
