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

// Before sending: a chosen folder past the limits is stopped here, with the server's words for it. "Check
// only" answers in place, so the chosen files stay chosen for "Propose".
document.querySelectorAll("form[data-check]").forEach((form) => {
  const target = document.querySelector(form.dataset.check);
  const say = (text) => {
    const line = document.createElement("p");
    line.className = "error";
    line.textContent = text;
    target.replaceChildren(line);
  };
  form.addEventListener("submit", (event) => {
    const folder = form.querySelector("input[type=file][webkitdirectory]");
    const bytes = [...form.querySelectorAll("input[type=file]")]
      .flatMap((input) => [...input.files]).reduce((sum, file) => sum + file.size, 0);
    if (folder && folder.files.length > Number(folder.dataset.maxFiles)) {
      event.preventDefault();
      say(`The folder holds ${folder.files.length} files; a skill may have at most ${folder.dataset.maxFiles}.`);
      return;
    }
    if (bytes > Number(form.dataset.maxBytes)) {
      event.preventDefault();
      say(`The upload is ${bytes.toLocaleString()} bytes; at most ${Number(form.dataset.maxBytes).toLocaleString()} may be sent.`);
      return;
    }
    if (event.submitter?.value !== "check" || form.dataset.plain) return;
    event.preventDefault();
    const button = event.submitter;
    button.disabled = true;
    target.textContent = "Checking…";
    // Not form.action: the buttons named "action" shadow it.
    fetch(form.getAttribute("action") || location.href, {
      method: "POST", body: new FormData(form, button), headers: { "X-Partial": "1" },
    })
      .then(async (response) => {
        if (response.ok) {
          target.innerHTML = await response.text();
        } else if ((response.headers.get("Content-Type") || "").startsWith("text/plain")) {
          say(await response.text()); // a limit the form passed, in the server's words
        } else {
          // A refusal is a page of its own: send the form again as a page, without this script.
          form.dataset.plain = "1";
          button.disabled = false;
          form.requestSubmit(button);
        }
      })
      .catch(() => { say("The check could not reach Skillport; try again."); })
      .finally(() => { button.disabled = false; });
  });
});

// The editor's live preview of SKILL.md, rendered by the server exactly as the skill page renders it.
// It asks after a pause in typing, at most once a second (the server allows each member 60 a minute,
// one at a time); refused for going faster, it shows why and asks again when the answer says.
document.querySelectorAll("textarea[data-preview]").forEach((textarea) => {
  const target = document.querySelector(textarea.dataset.preview);
  let timer;
  let controller;
  let asked = 0;
  let refusedUntil = 0;
  const later = (delay) => {
    clearTimeout(timer);
    timer = setTimeout(refresh, Math.max(delay, asked + 1000 - Date.now(), refusedUntil - Date.now()));
  };
  const refresh = () => {
    const body = new FormData();
    body.append("text", textarea.value);
    controller?.abort();
    controller = new AbortController();
    asked = Date.now();
    fetch(textarea.dataset.previewUrl, {
      method: "POST", body, headers: { "X-CSRFToken": csrfToken(textarea.form) }, signal: controller.signal,
    })
      .then((response) => {
        if (response.status === 429) {
          refusedUntil = Date.now() + 1000 * (Number(response.headers.get("Retry-After")) || 1);
          later(0);
        }
        // A 413 or 429 carries the reason (too long to preview, or too often) in place of the preview.
        return response.ok || response.status === 413 || response.status === 429
          ? response.text() : Promise.reject(response.status);
      })
      .then((html) => { target.innerHTML = html; })
      .catch(() => {});
  };
  textarea.addEventListener("input", () => later(300));
});
