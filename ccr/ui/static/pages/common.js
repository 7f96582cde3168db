// Pieces several pages share.

import { h } from "../dom.js";

/** What a save did: where, the backup, and whether the running server took the new config. */
export function reloadNote(saved) {
  const parts = [h("span", { class: "ok" }, `Saved: ${saved.message || saved.saved}.`)];
  if (saved.backup) parts.push(h("span", { class: "muted" }, ` Backup: ${saved.backup}.`));
  if (saved.dropped_comments) {
    parts.push(h("span", { class: "warn" }, " The file had comments; they are kept only in the backup."));
  }
  const reload = saved.reload;
  if (reload) {
    if (reload.ok === true) parts.push(h("span", { class: "ok", "data-testid": "reload-result" }, " The server reloaded it."));
    else if (reload.ok === false) parts.push(h("span", { class: "error", "data-testid": "reload-result" }, ` The server kept the previous config: ${reload.error}`));
    else if (reload.note) parts.push(h("span", { class: "warn", "data-testid": "reload-result" }, ` ${reload.note}`));
  }
  return h("p", { "data-testid": "saved" }, parts);
}
