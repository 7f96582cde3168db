// Building the page from data without ever parsing text as HTML: every value is textContent.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "value" || key === "checked") {
      el[key] = value;
    } else if (key === "class") {
      el.className = value;
    } else if (key in el && typeof value !== "string") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function table(columns, rows, attrs = {}) {
  const head = h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : null }, c.label)));
  const body = rows.map((row) => h("tr", {}, columns.map((c) =>
    h("td", { class: c.num ? "num" : null }, c.render ? c.render(row) : fmt(row[c.key])))));
  return h("div", { class: "table-wrap" }, h("table", attrs, h("thead", {}, head),
    h("tbody", {}, body)));
}

export function fmt(value) {
  if (value === null || value === undefined || value === "") return "–";
  if (typeof value === "number") return value.toLocaleString("en-US");
  return String(value);
}

export function duration(seconds) {
  let s = Math.floor(seconds);
  const d = Math.floor(s / 86400); s %= 86400;
  const hr = Math.floor(s / 3600); s %= 3600;
  const m = Math.floor(s / 60); s %= 60;
  if (d) return `${d}d ${hr}h ${m}m`;
  if (hr) return `${hr}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

export function stat(label, value, attrs = {}) {
  return h("div", { class: "stat", ...attrs }, h("div", { class: "label" }, label),
    h("div", { class: "value" }, value));
}

export function problemList(problems) {
  if (!problems || !problems.length) return null;
  return h("ul", { class: "problems", "data-testid": "problems" },
    problems.map((p) => h("li", {}, p.path ? `${p.path}: ${p.message}` : p.message)));
}

export function diffView(text) {
  if (!text) return h("p", { class: "muted", "data-testid": "diff" }, "No changes.");
  return h("pre", { class: "diff", "data-testid": "diff" }, text.split("\n").map((line) => {
    const cls = line.startsWith("+") && !line.startsWith("+++") ? "add"
      : line.startsWith("-") && !line.startsWith("---") ? "del" : null;
    return h("span", { class: cls }, line + "\n");
  }));
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
