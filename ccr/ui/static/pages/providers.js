// Providers and models: keys are write-only here; the list shows "set …abcd" at most.

import { api } from "../api.js";
import { clear, h, problemList, table } from "../dom.js";
import { reloadNote } from "./common.js";

export async function providersPage(main) {
  const data = await api("GET", "providers");
  let editing = null;
  const result = h("div", { "data-testid": "provider-result" });
  const form = h("form", { class: "card", id: "provider-form" });

  function fill(provider) {
    editing = provider ? provider.name : null;
    const transformer = provider && provider.transformer ? JSON.stringify(provider.transformer, null, 2) : "";
    clear(form,
      h("h2", {}, provider ? `Edit ${provider.name}` : "Add a provider"),
      h("div", { class: "row" },
        h("div", {}, h("label", { for: "p-name" }, "Name"),
          h("input", { id: "p-name", value: provider ? provider.name : "", required: true, placeholder: "deepseek" })),
        h("div", {}, h("label", { for: "p-url" }, "Chat completions URL"),
          h("input", { id: "p-url", value: provider ? provider.api_base_url : "", required: true,
            placeholder: "https://api.deepseek.com/chat/completions" }))),
      h("label", { for: "p-key" }, "API key"),
      h("input", { id: "p-key", type: "password", autocomplete: "new-password",
        placeholder: provider && provider.key.kind !== "none"
          ? `${provider.key.text}: leave empty to keep it` : "the key, or $VARIABLE" }),
      provider && provider.key.kind !== "none"
        ? h("label", {}, h("input", { id: "p-clear-key", type: "checkbox" }), " remove the stored key") : null,
      h("label", { for: "p-models" }, "Models (comma separated)"),
      h("input", { id: "p-models", value: provider ? provider.models.join(", ") : "", placeholder: "deepseek-chat, deepseek-reasoner" }),
      h("label", { for: "p-transformer" }, "Transformer (JSON, optional)"),
      h("textarea", { id: "p-transformer", class: "code short", rows: 3, value: transformer,
        placeholder: `{"use": ["deepseek"]}  — known: ${data.transformers.join(", ")}` }),
      h("div", { class: "actions" },
        h("button", { type: "submit", id: "p-save" }, provider ? "Save provider" : "Add provider"),
        provider ? h("button", { type: "button", class: "quiet", onclick: () => fill(null) }, "Cancel") : null),
      result);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = (id) => form.querySelector(id).value;
    let transformer = null;
    const text = value("#p-transformer").trim();
    if (text) {
      try { transformer = JSON.parse(text); } catch (err) {
        clear(result, h("p", { class: "error" }, `Transformer: not JSON (${err.message})`));
        return;
      }
    }
    const body = { name: value("#p-name"), api_base_url: value("#p-url"), models: value("#p-models"),
      api_key: value("#p-key"), transformer };
    const clearKey = form.querySelector("#p-clear-key");
    if (clearKey && clearKey.checked) body.clear_key = true;
    try {
      const saved = editing === null ? await api("POST", "providers", body)
        : await api("PUT", `providers/${encodeURIComponent(editing)}`, body);
      form.querySelector("#p-key").value = "";
      await providersPage(main);
      main.querySelector("[data-testid=provider-result]").replaceChildren(reloadNote(saved));
    } catch (err) {
      clear(result, h("p", { class: "error" }, err.message), problemList(err.problems));
    }
  });

  async function remove(name) {
    if (!confirm(`Remove provider ${name}? (a backup of the config is kept)`)) return;
    try {
      const saved = await api("DELETE", `providers/${encodeURIComponent(name)}`);
      await providersPage(main);
      main.querySelector("[data-testid=provider-result]").replaceChildren(reloadNote(saved));
    } catch (err) {
      clear(result, h("p", { class: "error" }, err.message), problemList(err.problems));
    }
  }

  fill(null);
  clear(main,
    h("h1", {}, "Providers and models"),
    h("p", { class: "muted" }, `Config: ${data.config}`),
    h("div", { class: "card" }, data.providers.length ? table([
      { label: "Name", key: "name" },
      { label: "URL", key: "api_base_url" },
      { label: "Key", render: (p) => h("span", { "data-testid": "key" }, p.key.text) },
      { label: "Models", render: (p) => p.models.join(", ") },
      { label: "Transformer", render: (p) => p.transformer ? JSON.stringify(p.transformer) : "–" },
      { label: "", render: (p) => h("span", { class: "actions" },
        h("button", { type: "button", class: "quiet", onclick: () => { fill(p); form.scrollIntoView(); } }, "Edit"),
        h("button", { type: "button", class: "danger", onclick: () => remove(p.name) }, "Remove")) },
    ], data.providers, { "data-testid": "providers-table" }) : h("p", { class: "muted" }, "No providers yet.")),
    form);
}
