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
      placeholder: "provider,model provider,model", oninput: check });
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
    h("div", { class: "card" }, h("h2", {}, "Project and session overrides"),
      h("p", { class: "muted" }, "<CCR_HOME>/<project>/config.json and <CCR_HOME>/<project>/<session>.json replace the Router for that work."),
      data.overrides.length ? table([
        { label: "Project", key: "project" },
        { label: "Session", render: (o) => o.session || "(whole project)" },
        { label: "Router", render: (o) => Object.entries(o.router).map(([k, v]) => `${k}: ${v}`).join("; ") },
        { label: "Problems", render: (o) => o.problems.length ? h("span", { class: "error" }, o.problems.join("; ")) : h("span", { class: "ok" }, "none") },
      ], data.overrides) : h("p", { class: "muted" }, "None.")));
}
