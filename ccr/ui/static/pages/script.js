// The router script: view and edit it, and "try it" on a request through the server's routing.

import { api } from "../api.js";
import { clear, fmt, h, problemList, table } from "../dom.js";

export async function scriptPage(main) {
  const [data, recorded] = await Promise.all([api("GET", "script"), api("GET", "records")]);
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const editor = h("textarea", { id: "script-text", class: "code", spellcheck: "false",
    value: data.text || "def router(req, config):\n    return None\n" });
  const saveResult = h("div", { "data-testid": "script-result" });
  const sample = h("select", { id: "try-sample" },
    h("option", { value: "" }, "Paste a request below, or pick a sample…"),
    Object.keys(data.samples).map((name) => h("option", { value: name }, name)));
  const request = h("textarea", { id: "try-request", class: "code", spellcheck: "false",
    value: JSON.stringify(data.samples["plain turn"], null, 2) });
  const session = h("input", { id: "try-session", value: params.get("session") || "", placeholder: "optional" });
  const sessionInput = h("input", { id: "try-session-input", type: "number", min: "0", placeholder: "optional" });
  const useDraft = h("input", { id: "try-draft", type: "checkbox", checked: !data.path });
  const decision = h("div", { "data-testid": "decision" });
  const then = h("p", { class: "muted", "data-testid": "recorded-decision" });
  const record = h("select", { id: "try-record" },
    h("option", { value: "" }, recorded.records.length ? "…or a recorded request (RECORD)" : "No recorded requests (turn on RECORD to keep some)"),
    recorded.records.map((r) => h("option", { value: r.ref },
      `${(r.time || "").slice(0, 19).replace("T", " ")} · ${r.model || "?"} · ${r.rule || "?"} → ${r.route || "?"} · ${r.preview}`)));
  record.disabled = !recorded.records.length;
  record.addEventListener("change", async () => {
    if (!record.value) return;
    const r = await api("GET", `records/${encodeURIComponent(record.value)}`);
    request.value = JSON.stringify({ method: r.method, path: r.path, headers: r.headers, body: r.body }, null, 2);
    session.value = r.session_id || "";
    const d = r.decision || {};
    then.textContent = `When recorded: rule ${d.rule || "?"} → ${d.route || "?"}${d.reason ? ` (${d.reason})` : ""}`;
  });
  sample.addEventListener("change", () => {
    if (sample.value) request.value = JSON.stringify(data.samples[sample.value], null, 2);
    then.textContent = "";
  });

  async function save() {
    clear(saveResult);
    try {
      const saved = await api("PUT", "script", { text: editor.value });
      clear(saveResult, h("p", { class: "ok" }, `${saved.message}.`, saved.backup ? ` Backup: ${saved.backup}.` : ""));
    } catch (err) {
      clear(saveResult, h("p", { class: "error" }, err.message));
    }
  }

  async function tryIt() {
    let parsed;
    try { parsed = JSON.parse(request.value); } catch (err) {
      clear(decision, h("p", { class: "error" }, `The request is not JSON: ${err.message}`));
      return;
    }
    const body = { request: parsed, session_id: session.value.trim() || null };
    if (sessionInput.value) body.session_input = Number(sessionInput.value);
    if (useDraft.checked) body.draft = editor.value;
    clear(decision, h("p", { class: "muted" }, "Routing…"));
    const r = await api("POST", "script/try", body);
    const rows = [
      ["Route", h("strong", { "data-testid": "decision-route" }, r.route || "–")],
      ["Rule", h("span", { "data-testid": "decision-rule" }, r.rule || "–")],
      ["Why", h("span", { "data-testid": "decision-why" }, r.explanation || "–")],
      ["Script", r.script ? `${r.script}${r.script_ms !== null ? `, ${r.script_ms} ms` : ""}` : "none"],
      ["Tokens", fmt(r.token_count)], ["Session", fmt(r.session_id)], ["Project", fmt(r.project)],
      ["Time", `${r.elapsed_ms} ms`],
    ];
    clear(decision,
      h("div", { class: "table-wrap" }, h("table", {}, h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)))))),
      r.error ? h("p", { class: "error", "data-testid": "decision-error" }, r.error) : null,
      r.script_error ? h("p", { class: "error", "data-testid": "decision-script-error" }, `Script error: ${r.script_error}`) : null,
      r.warnings.length ? problemList(r.warnings.map((w) => ({ message: w }))) : null,
      r.prints ? [h("h2", {}, "Prints"), h("pre", { "data-testid": "decision-prints" }, r.prints)] : null,
      r.rules ? [h("h2", {}, "Every rule, in order"), table([
        { label: "Rule", render: (v) => v.rule === r.rule ? h("strong", {}, v.rule) : v.rule },
        { label: "Route", render: (v) => fmt(v.route) },
        { label: "Reason", render: (v) => v.configured === false ? h("span", { class: "warn" }, v.reason) : v.reason },
      ], r.rules, { "data-testid": "decision-rules" })] : null);
  }

  clear(main,
    h("h1", {}, "Router script"),
    h("div", { class: "split" },
      h("div", { class: "card" },
        h("p", { class: "muted" }, data.path ? `CUSTOM_ROUTER_PATH: ${data.path}` : "No CUSTOM_ROUTER_PATH in the config: you can try a draft here, and set the path on the Config file page to use it."),
        data.load_error ? h("p", { class: "error", "data-testid": "script-load-error" }, data.load_error) : null,
        editor,
        h("div", { class: "actions" }, h("button", { type: "button", id: "script-save", onclick: save, disabled: !data.path }, "Save script")),
        saveResult),
      h("div", { class: "card" },
        h("h2", {}, "Try it"), sample, record, then, request,
        h("div", { class: "row" },
          h("div", {}, h("label", { for: "try-session" }, "Session id"), session),
          h("div", {}, h("label", { for: "try-session-input" }, "Last turn's input tokens"), sessionInput)),
        h("label", {}, useDraft, " route with the script in the editor (unsaved draft)"),
        h("div", { class: "actions" }, h("button", { type: "button", id: "try-run", onclick: () => tryIt().catch((err) => clear(decision, h("p", { class: "error" }, err.message))) }, "Try it")),
        decision)));
}
