// Usage: tokens (and cost, where StatusLine.prices has a price) by route, provider, project, day.

import { api } from "../api.js";
import { clear, fmt, h, table } from "../dom.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** A horizontal bar chart of tokens per key (SVG attributes only: no inline styles). */
function chart(rows, title) {
  const top = rows.slice(0, 12);
  const max = Math.max(1, ...top.map((r) => r.tokens));
  const bar = 18;
  const width = 600;
  const label = 190;
  const el = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${top.length * (bar + 6) + 4}`, width, height: top.length * (bar + 6) + 4, role: "img", "aria-label": title });
  top.forEach((r, i) => {
    const y = i * (bar + 6) + 2;
    const w = Math.max(1, ((width - label - 80) * r.tokens) / max);
    el.append(svg("text", { x: 0, y: y + 13 }, r.key.length > 28 ? `${r.key.slice(0, 27)}…` : r.key),
      svg("rect", { x: label, y, width: w, height: bar, rx: 3 }),
      svg("text", { x: label + w + 6, y: y + 13 }, fmt(r.tokens)));
  });
  return el;
}

export async function usagePage(main) {
  const u = await api("GET", "usage");
  const money = (v) => (v === null || v === undefined ? "–" : `$${v.toFixed(4)}`);
  const section = (name, rows) => h("div", { class: "card", "data-testid": `usage-${name}` },
    h("h2", {}, `By ${name}`),
    rows.length ? [chart(rows, `tokens by ${name}`), table([
      { label: name, key: "key" }, { label: "Requests", key: "requests", num: true },
      { label: "Input", key: "input", num: true }, { label: "Output", key: "output", num: true },
      { label: "Cache read", key: "cache_read", num: true },
      { label: "Cost", render: (r) => money(r.cost), num: true },
    ], rows)] : h("p", { class: "muted" }, name === "project" && u.source === "log"
      ? "The request log does not record projects; the usage ledger will." : "No requests yet."));
  const t = u.totals;
  clear(main,
    h("h1", {}, "Usage"),
    u.note ? h("p", { class: "note", "data-testid": "usage-note" }, u.note) : null,
    u.source === "log" && !u.priced ? h("p", { class: "muted" }, "No prices configured: add StatusLine.prices (USD per million tokens per route) to see costs.") : null,
    h("div", { class: "grid" },
      h("div", { class: "stat" }, h("div", { class: "label" }, "Requests"), h("div", { class: "value" }, fmt(t.requests))),
      h("div", { class: "stat" }, h("div", { class: "label" }, "Input tokens"), h("div", { class: "value" }, fmt(t.input))),
      h("div", { class: "stat" }, h("div", { class: "label" }, "Output tokens"), h("div", { class: "value" }, fmt(t.output))),
      h("div", { class: "stat" }, h("div", { class: "label" }, "Cost"), h("div", { class: "value" }, money(t.cost)))),
    section("route", u.route), section("provider", u.provider), section("day", u.day),
    section("project", u.project));
}
