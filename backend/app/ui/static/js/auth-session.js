// The signed-in session in the browser: sign in, refresh, sign out, and the calls that carry
// the access token (`api`), retried once after a refresh.
//
// The access token lives in this module's memory only: never in localStorage, sessionStorage or
// a cookie, so a script injected into the page cannot find it lying around, and it dies with
// the tab. The refresh token is an HttpOnly cookie that JavaScript cannot read at all; the calls
// that use it echo the CSRF cookie (http.js). After a reload, POST /auth/refresh turns the cookie
// into a new access token; before the access token expires, the same call renews it.

import { ApiError, drain, networkError, parse, send } from "./http.js";

// Tells the API to keep the refresh token in an HttpOnly cookie rather than in the body.
const BROWSER = { "X-Client": "browser" };

let accessToken = null;
let refreshTimer = null;
let refreshing = null;

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
    response = await send("POST", "/auth/refresh", { headers: BROWSER, csrf: true });
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

/** Sign in with the password. Resolves to null when signed in, or, for an account with
 *  two-step verification, to the challenge of the second step ({ mfaToken }), which
 *  `verifySecondFactor` completes: the password alone gives no session. */
export async function signIn(email, password) {
  const response = await send("POST", "/auth/login", {
    form: { username: email, password },
    headers: BROWSER,
  });
  if (response.status === 403) {
    const refusal = await parse(response).catch((error) => error);
    if (refusal.code === "mfa_required") return { mfaToken: refusal.mfaToken };
    throw refusal;
  }
  keep(await parse(response));
  return null;
}

/** The second step of a sign-in: `factor` is { code } or { recovery_code }. */
export async function verifySecondFactor(mfaToken, factor) {
  const response = await send("POST", "/auth/mfa/verify", {
    json: { mfa_token: mfaToken, ...factor },
    headers: BROWSER,
  });
  keep(await parse(response));
}

// Asks the person to prove who they are again (password, and a code when the account has
// two-step verification): app.js installs a dialog. Resolves to { password, code? } or null.
let stepUpPrompt = null;

export function setStepUpPrompt(prompt) {
  stepUpPrompt = prompt;
}

/** POST /auth/reauthenticate: a fresh access token in this session, for the actions that need
 *  a recent sign-in. The refresh cookie is unchanged. */
async function reauthenticate({ password, code }) {
  const json = code ? { password, code } : { password };
  const response = await send("POST", "/auth/reauthenticate", {
    json,
    headers: { Authorization: `Bearer ${accessToken}` },
  });
  keep(await parse(response));
}

async function stepUpCode(response) {
  if (response.status !== 401) return null;
  const body = await response.clone().json().catch(() => null);
  return body && body.code === "insufficient_user_authentication" ? body : null;
}

export async function register(email, password, fullName) {
  const json = { email, password };
  if (fullName) json.full_name = fullName;
  return parse(await send("POST", "/auth/register", { json }));
}

/** End this browser's session on the server and clear its cookies. */
export async function signOut() {
  try {
    await drain(await send("POST", "/auth/logout", { headers: BROWSER, csrf: true }));
  } catch {
    // Unreachable server: the token is dropped below all the same.
  }
  forget();
}

/** A call with the access token. On a 401, one refresh and one retry; if the refresh fails
 *  too, the session is over: "auth:signed-out" is dispatched and the error thrown. */
async function request(method, path, options = {}) {
  const call = () =>
    send(method, path, {
      ...options,
      headers: accessToken ? { Authorization: `Bearer ${accessToken}` } : {},
    });
  let response = await call();
  if (stepUpPrompt && (await stepUpCode(response))) {
    // A sign-in too old for this action: prove it again (the dialog retries a wrong password
    // itself), then send the call once more. Cancelling leaves the refusal as it is.
    const proven = await stepUpPrompt(reauthenticate);
    if (!proven) return parse(response);
    await drain(response);
    response = await call();
  }
  if (response.status === 401 && !(await stepUpCode(response))) {
    const outcome = await refresh();
    if (outcome !== "failed") await drain(response); // replaced by the retry, or by an error
    if (outcome === "unreachable") throw networkError();
    if (outcome === "ok") response = await call();
    if (outcome === "failed" || response.status === 401) {
      const error = await parse(response).catch((caught) => caught);
      signedOut();
      throw error instanceof ApiError ? error : new ApiError(401, null);
    }
  }
  return parse(response);
}

/** The API as the signed-in user: each call resolves to the JSON body or throws an ApiError. */
export const api = {
  get: (path, query) => request("GET", path, { query }),
  post: (path, json) => request("POST", path, { json }),
  patch: (path, json) => request("PATCH", path, { json }),
  put: (path, json) => request("PUT", path, { json }),
  delete: (path, json) => request("DELETE", path, { json }),
};
