// Routes: the Router slots (checked by the server's loader as you type), fallbacks, overrides.

import { api } from "../api.js";
import { clear, debounce, h, problemList, table } from "../dom.js";
import { reloadNote } from "./common.js";

const SLOTS = ["default", "background", "think", "longContext", "webSearch", "image"];

export async function routesPage(main) {
  const data = await api("GET", "routes");
  const status = h("div", { "data-testid": "routes-status" });
  const inputs = {};
  const messages = {};
  const list = h("datalist", { id: "route-options" }, data.routes.map((r) => h("option", { value: r })));

  const fallbackInputs = {};
  const fallbackMessages = {};
  const fallbackKeys = data.fallback_keys.filter((k) => SLOTS.includes(k) || data.fallback[k]);

  function collect() {
    const router = {};
    for (const slot of SLOTS) router[slot] = inputs[slot].value.trim();
    router.longContextThreshold = inputs.longContextThreshold.value.trim();
    const fallback = {};
    for (const key of fallbackKeys) fallback[key] = fallbackInputs[key].value.trim();
    return { Router: router, fallback };
  }

  function mark(prefix, els, msgs, problems) {
    for (const [key, el] of Object.entries(msgs)) {
      const mine = problems.filter((p) => p.path === `${prefix}.${key}` || (p.path || "").startsWith(`${prefix}.${key}[`));
      el.textContent = mine.map((p) => p.message).join("; ");
      els[key].classList.toggle("invalid", mine.length > 0);
    }
  }

  function show(problems) {
    mark("Router", inputs, messages, problems);
    mark("fallback", fallbackInputs, fallbackMessages, problems);
    const others = problems.filter((p) => !(p.path || "").startsWith("Router.") && !(p.path || "").startsWith("fallback."));
    clear(status, others.length ? [h("p", { class: "error" }, "Other problems in the config:"), problemList(others)] : null);
  }

  const check = debounce(async () => {
    try {
      const answer = await api("POST", "routes/check", collect());
      show(answer.problems || []);
      save.disabled = !answer.ok;
    } catch (err) {
      clear(status, h("p", { class: "error" }, err.message));
    }
  }, 250);

  const fields = [...SLOTS, "longContextThreshold"].map((slot) => {
    inputs[slot] = h("input", {
      id: `slot-${slot}`, list: slot === "longContextThreshold" ? null : "route-options",
      value: data.router[slot] === null || data.router[slot] === undefined ? "" : String(data.router[slot]),
      placeholder: slot === "longContextThreshold" ? "60000" : "provider,model", oninput: check,
    });
    messages[slot] = h("div", { class: "error", "data-testid": `slot-error-${slot}` });
    return h("div", {}, h("label", { for: `slot-${slot}` }, slot), inputs[slot], messages[slot]);
  });

  const fallbackFields = fallbackKeys.map((key) => {
    fallbackInputs[key] = h("input", { id: `fallback-${key}`, value: (data.fallback[key] || []).join(", "),
      placeholder: "provider,model …", oninput: check });
    fallbackMessages[key] = h("div", { class: "error", "data-testid": `fallback-error-${key}` });
    return h("div", {}, h("label", { for: `fallback-${key}` }, key), fallbackInputs[key], fallbackMessages[key]);
  });

  const save = h("button", { type: "submit", id: "routes-save" }, "Save routes");
  const form = h("form", { class: "card", id: "routes-form" }, h("h2", {}, "Router"), list,
    h("div", { class: "row" }, fields),
    h("h2", {}, "Fallback lists"),
    h("p", { class: "muted" }, "Tried in order when a rule's route fails before anything reached the client (a rule without its own list uses default's)."),
    h("div", { class: "row" }, fallbackFields),
    h("div", { class: "actions" }, save), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const saved = await api("PUT", "routes", collect());
      show([]);
      clear(status, reloadNote(saved));
    } catch (err) {
      show(err.problems || []);
      clear(status, h("p", { class: "error" }, err.message));
    }
  });

  clear(main,
    h("h1", {}, "Routes"),
    form,
    overridesCard(data, main));
}

function overridesCard(data, main) {
  const result = h("div", { "data-testid": "override-result" });
  const fields = {};
  const errors = {};
  const project = h("input", { id: "ov-project", placeholder: "-home-me-myproject (the folder under ~/.claude/projects)" });
  const session = h("input", { id: "ov-session", placeholder: "optional: one session id" });
  const check = debounce(async () => {
    try {
      const answer = await api("POST", "overrides/check", { Router: collect() });
      for (const [slot, el] of Object.entries(errors)) {
        const mine = (answer.problems || []).filter((p) => p.path === `Router.${slot}`);
        el.textContent = mine.map((p) => p.message).join("; ");
        fields[slot].classList.toggle("invalid", mine.length > 0);
      }
    } catch (err) {
      clear(result, h("p", { class: "error" }, err.message));
    }
  }, 250);
  const slots = [...SLOTS, "longContextThreshold"].map((slot) => {
    fields[slot] = h("input", { id: `ov-${slot}`, list: slot === "longContextThreshold" ? null : "route-options",
      placeholder: slot === "longContextThreshold" ? "60000" : "provider,model", oninput: check });
    errors[slot] = h("div", { class: "error", "data-testid": `ov-error-${slot}` });
    return h("div", {}, h("label", { for: `ov-${slot}` }, slot), fields[slot], errors[slot]);
  });
  function collect() {
    const router = {};
    for (const [slot, el] of Object.entries(fields)) router[slot] = el.value.trim();
    return router;
  }
  function edit(o) {
    project.value = o.project;
    session.value = o.session || "";
    for (const [slot, el] of Object.entries(fields)) el.value = o.router[slot] === undefined ? "" : String(o.router[slot]);
    check();
    form.scrollIntoView();
  }
  async function write(method, path, body) {
    try {
      const saved = await api(method, path, body);
      await routesPage(main);
      main.querySelector("[data-testid=override-result]").replaceChildren(
        h("p", { class: "ok" }, `${saved.message}.`, saved.backup ? ` Backup: ${saved.backup}.` : ""));
    } catch (err) {
      clear(result, h("p", { class: "error" }, err.message), problemList(err.problems));
    }
  }
  const form = h("form", { id: "override-form" },
    h("h2", {}, "Add or change an override"),
    h("div", { class: "row" }, h("div", {}, h("label", { for: "ov-project" }, "Project"), project),
      h("div", {}, h("label", { for: "ov-session" }, "Session"), session)),
    h("p", { class: "muted" }, "An override replaces the whole Router for that project or session: empty slots are not set."),
    h("div", { class: "row" }, slots),
    h("div", { class: "actions" }, h("button", { type: "submit", id: "ov-save" }, "Save override")),
    result);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    write("PUT", "overrides", { project: project.value.trim(), session: session.value.trim() || null, Router: collect() });
  });
  return h("div", { class: "card" }, h("h2", {}, "Project and session overrides"),
    h("p", { class: "muted" }, "<CCR_HOME>/<project>/config.json and <CCR_HOME>/<project>/<session>.json replace the Router for that work (picked up within a few seconds)."),
    data.overrides.length ? table([
      { label: "Project", key: "project" },
      { label: "Session", render: (o) => o.session || "(whole project)" },
      { label: "Router", render: (o) => Object.entries(o.router).map(([k, v]) => `${k}: ${v}`).join("; ") },
      { label: "Problems", render: (o) => o.problems.length ? h("span", { class: "error" }, o.problems.join("; ")) : h("span", { class: "ok" }, "none") },
      { label: "", render: (o) => h("span", { class: "actions" },
        h("button", { type: "button", class: "quiet", onclick: () => edit(o) }, "Edit"),
        h("button", { type: "button", class: "danger", onclick: () => {
          if (confirm(`Remove this override? (a backup is kept)`)) write("POST", "overrides/remove", { project: o.project, session: o.session });
        } }, "Remove")) },
    ], data.overrides, { "data-testid": "overrides-table" }) : h("p", { class: "muted" }, "None."),
    form);
}
