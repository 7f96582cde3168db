// Requests: a live tail of the request log (polled with a cursor), filtered on the server.

import { api } from "../api.js";
import { clear, fmt, h } from "../dom.js";

const COLUMNS = [
  ["time", "Time"], ["route", "Route"], ["rule", "Rule"], ["reason", "Why"], ["status", "Status"],
  ["tokens", "Tokens"], ["input", "In"], ["output", "Out"], ["ms", "ms"],
  ["fallback_from", "Fell back from"], ["attempts", "Tries"], ["client", "Client"],
  ["session", "Session"],
];
const MAX_ROWS = 500;

export async function requestsPage(main) {
  const filters = {};
  const inputs = ["session", "route", "client"].map((name) => {
    filters[name] = h("input", { id: `filter-${name}`, placeholder: name });
    return h("div", {}, h("label", { for: `filter-${name}` }, name), filters[name]);
  });
  filters.status = h("select", { id: "filter-status" }, ["", "ok", "error", "2xx", "4xx", "5xx"].map((s) =>
    h("option", { value: s }, s || "any")));
  const body = h("tbody", { id: "requests-body" });
  const info = h("p", { class: "muted", "data-testid": "requests-info" });
  const paused = h("input", { type: "checkbox", id: "requests-pause" });
  let cursor = null;
  let rows = [];

  function render() {
    clear(body, rows.slice().reverse().map((r) => h("tr", { "data-route": r.route || "" },
      COLUMNS.map(([key]) => {
        let value = r[key];
        if (key === "time") value = (value || "").replace("T", " ");
        const cell = h("td", { class: typeof value === "number" ? "num" : null }, fmt(value));
        if (key === "status" && r.status >= 400) cell.classList.add("error");
        if (key === "status" && r.error) cell.title = r.error;
        if (key === "session" && r.session) {
          clear(cell, h("a", { href: `#script?session=${encodeURIComponent(r.session)}`, title: "try a request as this session" }, r.session.slice(0, 12)));
        }
        return cell;
      }))));
  }

  async function poll(reset) {
    if (reset) { cursor = null; rows = []; }
    const query = new URLSearchParams({ limit: "200" });
    for (const [name, el] of Object.entries(filters)) if (el.value.trim()) query.set(name, el.value.trim());
    if (cursor) query.set("cursor", cursor);
    const answer = await api("GET", `requests?${query}`);
    cursor = answer.cursor;
    if (answer.rows.length) {
      rows = rows.concat(answer.rows).slice(-MAX_ROWS);
      render();
    }
    info.textContent = answer.cursor ? `Reading ${answer.file}` : `No log yet at ${answer.file}${answer.logging ? "" : " (LOG is false in the config)"}`;
  }
  for (const el of Object.values(filters)) {
    el.addEventListener("change", () => poll(true).then(render));
    el.addEventListener("keyup", (e) => { if (e.key === "Enter") poll(true).then(render); });
  }

  clear(main,
    h("h1", {}, "Requests"),
    h("div", { class: "card" },
      h("div", { class: "row" }, inputs, h("div", {}, h("label", { for: "filter-status" }, "status"), filters.status)),
      h("label", {}, paused, " pause")),
    info,
    h("div", { class: "card table-wrap" }, h("table", { "data-testid": "requests-table" },
      h("thead", {}, h("tr", {}, COLUMNS.map(([, label]) => h("th", {}, label)))), body)));
  await poll(true);
  render();
  const timer = setInterval(() => { if (!paused.checked) poll(false).catch(() => {}); }, 1000);
  return () => clearInterval(timer);
}
