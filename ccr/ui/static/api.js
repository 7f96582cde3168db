// The console's API client: the session cookie travels by itself; every change carries the
// CSRF token the login answer gave (kept in this tab's sessionStorage, never in a cookie).

const CSRF_KEY = "ccr-console-csrf";

export class ApiFailure extends Error {
  constructor(status, body) {
    const message = body && body.error ? body.error.message : `request failed (${status})`;
    super(message);
    this.status = status;
    this.problems = (body && body.problems) || [];
  }
}

let onUnauthorized = () => {};

export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

export function setCsrf(token) {
  if (token) sessionStorage.setItem(CSRF_KEY, token);
  else sessionStorage.removeItem(CSRF_KEY);
}

export async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET") headers["x-csrf-token"] = sessionStorage.getItem(CSRF_KEY) || "";
  const response = await fetch(`api/${path}`, {
    method, headers, credentials: "same-origin", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch { data = null; }
  if (response.status === 401 && path !== "login") onUnauthorized();
  if (!response.ok) throw new ApiFailure(response.status, data);
  return data;
}

export async function login(token) {
  const data = await api("POST", "login", { token });
  setCsrf(data.csrf);
  return data;
}

export async function resume() {
  const data = await api("GET", "session");
  setCsrf(data.csrf);
  return data;
}
