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

  function collect() {
    const router = {};
    for (const slot of SLOTS) router[slot] = inputs[slot].value.trim();
    router.longContextThreshold = inputs.longContextThreshold.value.trim();
    return { Router: router };
  }

  function show(problems) {
    for (const [slot, el] of Object.entries(messages)) {
      const mine = problems.filter((p) => p.path === `Router.${slot}`);
      el.textContent = mine.map((p) => p.message).join("; ");
      inputs[slot].classList.toggle("invalid", mine.length > 0);
    }
    const others = problems.filter((p) => !(p.path || "").startsWith("Router."));
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

  const save = h("button", { type: "submit", id: "routes-save" }, "Save Router");
  const form = h("form", { class: "card", id: "routes-form" }, h("h2", {}, "Router"), list,
    h("div", { class: "row" }, fields), h("div", { class: "actions" }, save), status);
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
    h("div", { class: "card" }, h("h2", {}, "Fallback lists"),
      data.fallback ? h("pre", {}, JSON.stringify(data.fallback, null, 2))
        : h("p", { class: "muted" }, "None configured (edit them on the Config file page).")),
    h("div", { class: "card" }, h("h2", {}, "Project and session overrides"),
      h("p", { class: "muted" }, "<CCR_HOME>/<project>/config.json and <CCR_HOME>/<project>/<session>.json replace the Router for that work."),
      data.overrides.length ? table([
        { label: "Project", key: "project" },
        { label: "Session", render: (o) => o.session || "(whole project)" },
        { label: "Router", render: (o) => Object.entries(o.router).map(([k, v]) => `${k}: ${v}`).join("; ") },
        { label: "Problems", render: (o) => o.problems.length ? h("span", { class: "error" }, o.problems.join("; ")) : h("span", { class: "ok" }, "none") },
      ], data.overrides) : h("p", { class: "muted" }, "None.")));
}
