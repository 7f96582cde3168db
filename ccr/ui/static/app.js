// The console shell: login, navigation between pages (#name), and one page at a time.

import { api, login, resume, setCsrf, whenUnauthorized } from "./api.js";
import { clear, h } from "./dom.js";
import { overviewPage } from "./pages/overview.js";
import { providersPage } from "./pages/providers.js";
import { routesPage } from "./pages/routes.js";
import { configPage } from "./pages/config.js";
import { scriptPage } from "./pages/script.js";
import { requestsPage } from "./pages/requests.js";
import { usagePage } from "./pages/usage.js";

const PAGES = {
  overview: overviewPage, providers: providersPage, routes: routesPage, config: configPage,
  script: scriptPage, requests: requestsPage, usage: usagePage,
};

const $ = (id) => document.getElementById(id);
let stopCurrent = null;

function showLogin(message) {
  if (stopCurrent) { stopCurrent(); stopCurrent = null; }
  $("shell").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("token").focus();
}

async function showPage() {
  const name = (location.hash || "#overview").slice(1).split("?")[0];
  const page = PAGES[name] ? name : "overview";
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("active", link.dataset.page === page);
  }
  if (stopCurrent) { stopCurrent(); stopCurrent = null; }
  const main = $("page");
  clear(main, h("p", { class: "muted" }, "Loading…"));
  try {
    stopCurrent = (await PAGES[page](main)) || null;
  } catch (err) {
    if (err.status !== 401) clear(main, h("p", { class: "error" }, String(err.message || err)));
  }
  main.dataset.page = page;
}

function enter() {
  $("login").hidden = true;
  $("shell").hidden = false;
  showPage();
}

async function start() {
  whenUnauthorized(() => showLogin("Your session ended: log in again."));
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("login-error").textContent = "";
    try {
      await login($("token").value.trim());
      $("token").value = "";
      enter();
    } catch (err) {
      $("login-error").textContent = err.message;
    }
  });
  $("logout").addEventListener("click", async () => {
    try { await api("POST", "logout", {}); } catch { /* logged out either way */ }
    setCsrf(null);
    showLogin("Logged out.");
  });
  window.addEventListener("hashchange", () => { if (!$("shell").hidden) showPage(); });
  // `ccr ui` opens the console with the token in the fragment (never sent to the server).
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token")) {
    const token = fragment.get("token");
    history.replaceState(null, "", location.pathname + "#overview");
    try { await login(token); enter(); return; } catch (err) { showLogin(err.message); return; }
  }
  try {
    await resume();
    enter();
  } catch {
    showLogin("");
  }
}

start();
