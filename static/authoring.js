// The proposal pages' enhancements: a package upload and the editor work without this file; a folder
// upload needs it, because Django keeps only each file's last name and the paths must come apart.
"use strict";

const csrfToken = (form) => form.querySelector("input[name=csrfmiddlewaretoken]").value;

// What a sync never reads into a skill (marketplace/snapshot.py is_junk, and macOS's __MACOSX/):
// left out before sending, so a folder with a .git or node_modules does not blow the file limit.
const JUNK_DIRS = new Set(["__pycache__", "node_modules", ".git"]);
const isJunk = (path) => {
  const parts = path.split("/");
  const name = parts[parts.length - 1];
  return parts[0] === "__MACOSX" || parts.slice(0, -1).some((part) => JUNK_DIRS.has(part))
    || name === ".DS_Store" || name.endsWith(".pyc");
};

// A chosen folder: its litter dropped, each file's path inside the folder sent beside it.
document.querySelectorAll("input[type=file][webkitdirectory]").forEach((input) => {
  const paths = document.querySelector(input.dataset.paths);
  const summary = document.querySelector(input.dataset.summary);
  const maxFiles = Number(input.dataset.maxFiles) || Infinity;
  input.addEventListener("change", () => {
    const kept = new DataTransfer();
    let bytes = 0;
    let skipped = 0;
    for (const file of input.files) {
      // webkitRelativePath starts with the chosen folder's name; the server strips it.
      if (isJunk(file.webkitRelativePath.split("/").slice(1).join("/"))) {
        skipped += 1;
      } else {
        kept.items.add(file);
        bytes += file.size;
      }
    }
    const names = [...kept.files].map((file) => file.webkitRelativePath);
    input.files = kept.files;
    paths.value = JSON.stringify(names);
    const others = input.form.querySelector("input[type=file]:not([webkitdirectory])");
    if (others && names.length) others.value = "";
    const folder = names.length ? names[0].split("/")[0] : "";
    summary.textContent = names.length
      ? `${folder}: ${names.length} file${names.length === 1 ? "" : "s"}, ${Math.ceil(bytes / 1024)} KB`
        + (skipped ? ` (${skipped} left out: build output and litter)` : "")
        + (names.length > maxFiles ? `. That is more than the ${maxFiles} files a skill may have.` : "")
      : "";
    const skill = input.form.querySelector("input[name=skill]");
    if (skill && !skill.value && folder) skill.placeholder = folder;
  });
  // Choosing a package replaces a chosen folder.
  input.form.querySelector("input[type=file]:not([webkitdirectory])")?.addEventListener("change", (event) => {
    if (event.target.files.length) {
      input.value = "";
      paths.value = "";
      summary.textContent = "";
    }
  });
});

// "Check only" answers in place, so the chosen files stay chosen for "Propose".
document.querySelectorAll("form[data-check]").forEach((form) => {
  const target = document.querySelector(form.dataset.check);
  form.addEventListener("submit", (event) => {
    if (event.submitter?.value !== "check") return;
    event.preventDefault();
    event.submitter.disabled = true;
    target.textContent = "Checking…";
    // Not form.action: the buttons named "action" shadow it.
    fetch(form.getAttribute("action") || location.href, {
      method: "POST", body: new FormData(form, event.submitter), headers: { "X-Partial": "1" },
    })
      .then((response) => response.text())
      .then((html) => { target.innerHTML = html; })
      .catch(() => { target.textContent = "The check could not reach Skillport; try again."; })
      .finally(() => { event.submitter.disabled = false; });
  });
});

// The editor's live preview of SKILL.md, rendered by the server exactly as the skill page renders it.
document.querySelectorAll("textarea[data-preview]").forEach((textarea) => {
  const target = document.querySelector(textarea.dataset.preview);
  let timer;
  let controller;
  const refresh = () => {
    const body = new FormData();
    body.append("text", textarea.value);
    controller?.abort();
    controller = new AbortController();
    fetch(textarea.dataset.previewUrl, {
      method: "POST", body, headers: { "X-CSRFToken": csrfToken(textarea.form) }, signal: controller.signal,
    })
      // A 413 carries the reason (too long to preview) in place of the preview.
      .then((response) => (response.ok || response.status === 413 ? response.text() : Promise.reject(response.status)))
      .then((html) => { target.innerHTML = html; })
      .catch(() => {});
  };
  textarea.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 300); });
});
