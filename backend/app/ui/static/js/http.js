// HTTP to the API: building a request, reading its JSON, turning a refusal into an ApiError,
// and the CSRF header. It knows nothing of tokens or of who is signed in: that is
// auth-session.js.

export class ApiError extends Error {
  constructor(status, body) {
    const detail = (body && typeof body.detail === "string" && body.detail) ||
      `The request failed (HTTP ${status}).`;
    super(detail);
    this.status = status;
    this.code = (body && body.code) || "error";
    this.detail = detail;
    this.errors = (body && Array.isArray(body.errors) && body.errors) || [];
    // The second step of a sign-in names its challenge (403 mfa_required at /auth/login).
    this.mfaToken = (body && body.mfa_token) || null;
  }
}

const NETWORK_ERROR = { detail: "The server could not be reached; try again.", code: "network_error" };

/** The error of a request that got no answer at all. */
export function networkError() {
  return new ApiError(0, NETWORK_ERROR);
}

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

/** Sends a request and returns the Response, whatever its status; throws only when the server
 *  cannot be reached. `csrf: true` echoes the CSRF cookie in `X-CSRF-Token` (a double submit,
 *  which a page of another origin cannot do), as the calls that use the refresh cookie need. */
export async function send(method, path, { json, form, query, headers = {}, csrf = false } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  if (csrf) init.headers["X-CSRF-Token"] = csrfToken();
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
    throw networkError();
  }
}

/** Reads a response whose body is not needed to its end: a body left unread keeps the request
 *  open (Chromium never sees it finish) and its connection busy. */
export async function drain(response) {
  await response.arrayBuffer().catch(() => {});
}

/** The response's JSON body (null for a 204 or an empty body); an ApiError when it is a refusal. */
export async function parse(response) {
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

/** A POST that needs no session (a forgotten password, the token of a mailed link): resolves to
 *  the JSON body (null for a 204), or throws an ApiError. */
export async function postWithoutSession(path, json) {
  return parse(await send("POST", path, { json }));
}
