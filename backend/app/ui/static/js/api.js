// Talking to the API, and the browser side of authentication.
//
// The access token lives in this module's memory only: never in localStorage, sessionStorage or
// a cookie, so a script injected into the page cannot find it lying around, and it dies with
// the tab. The refresh token is an HttpOnly cookie that JavaScript cannot read at all; the page
// only reads the CSRF cookie and echoes it in `X-CSRF-Token` (a double submit), which a page
// of another origin cannot do. After a reload, POST /auth/refresh turns the cookie into a
// new access token; before the access token expires, the same call renews it.

const BROWSER = { "X-Client": "browser" };

let accessToken = null;
let refreshTimer = null;
let refreshing = null;

export class ApiError extends Error {
  constructor(status, body) {
    const detail = (body && typeof body.detail === "string" && body.detail) ||
      `The request failed (HTTP ${status}).`;
    super(detail);
    this.status = status;
    this.code = (body && body.code) || "error";
    this.detail = detail;
    this.errors = (body && Array.isArray(body.errors) && body.errors) || [];
  }
}

const NETWORK_ERROR = { detail: "The server could not be reached; try again.", code: "network_error" };

function readCookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return decodeURIComponent(value.join("="));
  }
  return "";
}

// Over https the server names it `__Host-csrf_token` (a cookie no other site can set); over
// plain http (`make run`), `csrf_token`. The prefixed one is looked for first: over http no
// page can set it, so it is never an impostor.
function csrfToken() {
  return readCookie("__Host-csrf_token") || readCookie("csrf_token");
}

async function send(method, path, { json, form, query, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = new URLSearchParams(form);
  }
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
    }
    if ([...params].length) url += `?${params}`;
  }
  try {
    return await fetch(url, init);
  } catch {
    throw new ApiError(0, NETWORK_ERROR);
  }
}

/** Reads a response whose body is not needed to its end: a body left unread keeps the request
 *  open (Chromium never sees it finish) and its connection busy. */
async function drain(response) {
  await response.arrayBuffer().catch(() => {});
}

async function parse(response) {
  if (response.status === 204) return null;
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

function keep(tokens) {
  accessToken = tokens.access_token;
  clearTimeout(refreshTimer);
  // Renew a minute before expiry (halfway through, for very short lifetimes).
  const seconds = Math.max(tokens.expires_in - 60, tokens.expires_in / 2, 5);
  refreshTimer = setTimeout(scheduledRefresh, seconds * 1000);
}

function forget() {
  accessToken = null;
  clearTimeout(refreshTimer);
  refreshTimer = null;
}

async function scheduledRefresh() {
  const outcome = await refresh();
  if (outcome === "failed") signedOut();
  else if (outcome === "unreachable") refreshTimer = setTimeout(scheduledRefresh, 15_000);
}

function signedOut() {
  const wasSignedIn = accessToken !== null;
  forget();
  window.dispatchEvent(new CustomEvent("auth:signed-out", { detail: { wasSignedIn } }));
}

async function refreshOnce() {
  let response;
  try {
    response = await send("POST", "/auth/refresh", {
      headers: { ...BROWSER, "X-CSRF-Token": csrfToken() },
    });
  } catch {
    return "unreachable";
  }
  if (!response.ok) {
    await drain(response);
    return "failed"; // the caller signs out
  }
  keep(await response.json());
  return "ok";
}

/** Trade the refresh cookie for a new access token: "ok", "failed" or "unreachable".
 *  One refresh at a time in this tab, and (through Web Locks) across the tabs of this origin:
 *  two tabs presenting the same refresh token at once would look like a stolen token. */
export function refresh() {
  if (!refreshing) {
    const run = () => refreshOnce();
    const locked = navigator.locks ? navigator.locks.request("py-auth-refresh", run) : run();
    refreshing = locked.finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

export function isSignedIn() {
  return accessToken !== null;
}

export async function signIn(email, password) {
  const response = await send("POST", "/auth/login", {
    form: { username: email, password },
    headers: BROWSER,
  });
  keep(await parse(response));
}

export async function register(email, password, fullName) {
  const json = { email, password };
  if (fullName) json.full_name = fullName;
  return parse(await send("POST", "/auth/register", { json }));
}

/** End this browser's session on the server and clear its cookies. */
export async function signOut() {
  try {
    await drain(
      await send("POST", "/auth/logout", {
        headers: { ...BROWSER, "X-CSRF-Token": csrfToken() },
      }),
    );
  } catch {
    // Unreachable server: the token is dropped below all the same.
  }
  forget();
}

/** A call with the access token. On a 401, one refresh and one retry; if the refresh fails
 *  too, the session is over: "auth:signed-out" is dispatched and the error thrown. */
export async function request(method, path, options = {}) {
  const call = () =>
    send(method, path, {
      ...options,
      headers: accessToken ? { Authorization: `Bearer ${accessToken}` } : {},
    });
  let response = await call();
  if (response.status === 401) {
    const outcome = await refresh();
    if (outcome !== "failed") await drain(response); // replaced by the retry, or by an error
    if (outcome === "unreachable") throw new ApiError(0, NETWORK_ERROR);
    if (outcome === "ok") response = await call();
    if (outcome === "failed" || response.status === 401) {
      const error = await parse(response).catch((caught) => caught);
      signedOut();
      throw error instanceof ApiError ? error : new ApiError(401, null);
    }
  }
  return parse(response);
}

export const api = {
  get: (path, query) => request("GET", path, { query }),
  post: (path, json) => request("POST", path, { json }),
  patch: (path, json) => request("PATCH", path, { json }),
  put: (path, json) => request("PUT", path, { json }),
  delete: (path) => request("DELETE", path),
};
