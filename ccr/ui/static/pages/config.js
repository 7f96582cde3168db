// The config file: the file's own text (keys shown as placeholders), checked as you type,
// a diff against the disk before saving, and the backups to look at or restore.

import { api } from "../api.js";
import { clear, debounce, diffView, h, problemList, table } from "../dom.js";
import { reloadNote } from "./common.js";

export async function configPage(main) {
  const data = await api("GET", "config");
  let version = data.version;
  const editor = h("textarea", { id: "config-text", class: "code", spellcheck: "false", value: data.text });
  const state = h("div", { "data-testid": "config-status" });
  const diff = h("div", {});
  const result = h("div", { "data-testid": "config-result" });

  async function check(withDiff) {
    const answer = await api("POST", "config/check", { text: editor.value, version });
    editor.classList.toggle("invalid", !answer.ok);
    clear(state, answer.ok ? h("p", { class: "ok", "data-testid": "config-valid" }, "Valid: the server would load this.")
      : [h("p", { class: "error", "data-testid": "config-invalid" },
        answer.problems && answer.problems.length ? "Not valid: the server would not load this." : answer.message),
        problemList(answer.problems)]);
    if (withDiff) clear(diff, h("h2", {}, "Changes against the file on disk"), diffView(answer.diff));
    return answer;
  }
  editor.addEventListener("input", debounce(() => check(false).catch(() => {}), 300));

  async function save() {
    clear(result);
    try {
      const saved = await api("PUT", "config", { text: editor.value, version });
      const fresh = await api("GET", "config");
      version = fresh.version;
      editor.value = fresh.text;
      renderBackups(fresh.backups);
      clear(diff);
      clear(result, reloadNote(saved));
    } catch (err) {
      clear(result, h("p", { class: "error", "data-testid": "save-error" },
        err.problems.length ? "Not saved (the file is unchanged):" : `Not saved (the file is unchanged): ${err.message}`),
        problemList(err.problems));
    }
  }

  const backups = h("div", {});
  function renderBackups(list) {
    clear(backups, list.length ? table([
      { label: "Backup", key: "name" },
      { label: "Saved", render: (b) => new Date(b.mtime * 1000).toLocaleString() },
      { label: "", render: (b) => h("span", { class: "actions" },
        h("button", { type: "button", class: "quiet", onclick: () => view(b.name) }, "View diff"),
        h("button", { type: "button", class: "danger", onclick: () => restore(b.name) }, "Restore")) },
    ], list) : h("p", { class: "muted" }, "No backups yet (each save keeps the previous file)."));
  }
  async function view(name) {
    const b = await api("GET", `config/backups/${encodeURIComponent(name)}`);
    clear(diff, h("h2", {}, `${name} compared with the file on disk`), diffView(b.diff));
  }
  async function restore(name) {
    if (!confirm(`Restore ${name}? The current file is backed up first.`)) return;
    try {
      const saved = await api("POST", "config/restore", { name });
      await configPage(main);
      main.querySelector("[data-testid=config-result]").replaceChildren(reloadNote(saved));
    } catch (err) {
      clear(result, h("p", { class: "error" }, `Not restored: ${err.message}`), problemList(err.problems));
    }
  }
  renderBackups(data.backups);

  clear(main,
    h("h1", {}, "Config file"),
    h("p", { class: "muted" }, `${data.path}${data.exists ? "" : " (does not exist yet: saving creates it)"}. `,
      "Keys appear as ***secret N …abcd*** placeholders: leave them as they are to keep a key, or replace the whole string with a new key or $VARIABLE."),
    h("div", { class: "card" }, editor, state,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "quiet", id: "config-diff", onclick: () => check(true) }, "Check and show diff"),
        h("button", { type: "button", id: "config-save", onclick: save }, "Save"),
        h("button", { type: "button", class: "quiet", id: "config-reload", onclick: () => configPage(main) }, "Reload from disk")),
      result, diff),
    h("div", { class: "card" }, h("h2", {}, "Backups"), backups));
  await check(false);
}
