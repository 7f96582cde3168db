// Overview: is the server well, what config runs, and how each provider is doing.

import { api } from "../api.js";
import { clear, duration, fmt, h, stat, table } from "../dom.js";

export async function overviewPage(main) {
  async function render() {
    const o = await api("GET", "overview");
    const reload = o.reload_error
      ? h("div", { class: "card" }, h("h2", {}, "Last reload failed (the previous config still runs)"),
        h("pre", { class: "error", "data-testid": "reload-error" }, o.reload_error))
      : h("p", { class: "ok", "data-testid": "reload-ok" },
        o.reloads ? `Last reload succeeded (${o.reloads} since start).` : "Running the config it started with.");
    const script = o.router_script
      ? (o.router_script.load_error
        ? h("span", { class: "error" }, `${o.router_script.path}: ${o.router_script.load_error}`)
        : h("span", { class: "ok" }, `${o.router_script.path}: loaded`))
      : h("span", { class: "muted" }, "none (CUSTOM_ROUTER_PATH is not set)");
    clear(main,
      h("h1", {}, "Overview"),
      h("div", { class: "grid", "data-testid": "overview-stats" },
        stat("State", h("span", { class: "ok" }, "running")),
        stat("Version", o.version), stat("Uptime", duration(o.uptime_s)),
        stat("Requests", fmt(o.requests), { "data-testid": "stat-requests" }),
        stat("Errors", fmt(o.errors)), stat("PID", o.pid),
        stat("Client keys", o.client_key ? "required" : "none (loopback only)"),
        stat("Request log", o.log_enabled ? "on" : "off")),
      h("div", { class: "card" }, h("h2", {}, "Config"),
        h("p", {}, o.config || "built-in defaults (no config file)"), reload),
      h("div", { class: "card" }, h("h2", {}, "Providers"),
        o.providers.length ? table([
          { label: "Provider", key: "name" },
          { label: "Models", render: (p) => p.models.join(", ") },
          { label: "Health", render: (p) => health(p.health) },
        ], o.providers) : h("p", { class: "muted" }, "No providers yet: add one on the Providers page.")),
      h("div", { class: "card" }, h("h2", {}, "Router script"), h("p", {}, script),
        o.sandboxes && o.sandboxes.length ? table(Object.keys(o.sandboxes[0]).map((key) => ({ label: key, key })),
          o.sandboxes, { "data-testid": "sandboxes" }) : null,
        h("h2", {}, "Custom transformers"),
        o.transformers.length ? table([
          { label: "Name", key: "name" }, { label: "File", key: "path" },
          { label: "State", render: (t) => t.load_error ? h("span", { class: "error" }, t.load_error) : h("span", { class: "ok" }, "loaded") },
        ], o.transformers) : h("p", { class: "muted" }, "none")),
    );
  }
  await render();
  const timer = setInterval(() => render().catch(() => {}), 5000);
  return () => clearInterval(timer);
}

function health(value) {
  if (!value) return h("span", { class: "muted" }, "not tracked");
  const bad = (value.state && value.state !== "ok") || value.healthy === false || value.cooldown_s > 0;
  return h("span", { class: `badge ${bad ? "bad" : "ok"}` },
    Object.entries(value).map(([k, v]) => `${k}: ${v}`).join(", "));
}
