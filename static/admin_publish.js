// "Publish now" on a publish target's admin page: queue a publish, then show its progress and result.
"use strict";

document.querySelectorAll("button[data-publish-url]").forEach((button) => {
  const status = document.getElementById("publish-status");
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const show = (text) => { status.textContent = text; };

  const follow = async (url) => {
    const run = await (await fetch(url, { headers: { Accept: "application/json" } })).json();
    if (run.status === "queued" || run.status === "running") {
      const p = run.progress || {};
      show(`Publishing: ${p.phase || "queued"}${p.total ? ` ${p.done}/${p.total}` : ""}…`);
      setTimeout(() => follow(url), 1000);
      return;
    }
    const c = run.counts;
    const where = run.pull_request || (run.commit || "").slice(0, 12);
    show(`Publish ${run.status}${where ? ` (${where})` : ""}: ${c.plugins} plugins, ${c.skills} skills, ` +
         `${run.errors} errors` + (run.error ? ` — ${run.error}` : ""));
    button.disabled = false;
  };

  button.addEventListener("click", async () => {
    button.disabled = true;
    show("Queued…");
    const response = await fetch(button.dataset.publishUrl, { method: "POST", headers: { "X-CSRFToken": csrf } });
    if (!response.ok) {
      show(`Could not queue a publish (${response.status}).`);
      button.disabled = false;
      return;
    }
    const { url } = await response.json();
    follow(button.dataset.publishUrl + url);
  });
});
