// Progressive enhancement only: every page works without this file.
"use strict";

// Live search: refresh the results as the user types or changes a filter.
document.querySelectorAll("form[data-live-search]").forEach((form) => {
  const target = document.querySelector(form.dataset.liveSearch);
  let timer, controller, shown = new URLSearchParams(new FormData(form)).toString();
  const refresh = () => {
    clearTimeout(timer);
    const query = new URLSearchParams(new FormData(form)).toString();
    // The box losing focus fires "change" after typing already asked: when that is a click on a result, asking
    // again would replace the URL as the result's page loads, and the browser would stay here.
    if (query === shown) return;
    shown = query;
    controller?.abort();
    controller = new AbortController();
    fetch(`${form.action}?${query}`, { headers: { "X-Partial": "1" }, signal: controller.signal })
      // A 400 carries the reason (a search past the limits, say) in place of the results.
      .then((response) => (response.ok || response.status === 400 ? response.text() : Promise.reject(response.status)))
      .then((html) => {
        target.innerHTML = html;
        history.replaceState(null, "", `?${query}`);
      })
      .catch(() => {});
  };
  form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 250); });
  form.addEventListener("change", refresh);
});

// Copy buttons beside install commands.
document.querySelectorAll("button[data-copy]").forEach((button) => {
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(button.dataset.copy);
      button.textContent = "Copied";
    } catch {
      // No clipboard here (a plain-http address other than localhost, or permission refused): select the
      // text beside the button, so a keystroke copies it.
      const text = button.parentElement.querySelector("code");
      if (text) getSelection().selectAllChildren(text);
      button.textContent = "Selected: press Ctrl+C";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  });
});
