// The console: hash routing, the navigation bar, and the session across reloads.

import * as authSession from "./auth-session.js";
import { api } from "./auth-session.js";
import { errorBox, h, heading, showError } from "./dom.js";
import * as articles from "./pages/articles.js";
import * as audit from "./pages/audit.js";
import * as invitation from "./pages/invitation.js";
import * as me from "./pages/me.js";
import * as mfa from "./pages/mfa.js";
import * as recovery from "./pages/recovery.js";
import * as roles from "./pages/roles.js";
import * as sessions from "./pages/sessions.js";
import * as signin from "./pages/signin.js";
import * as tokens from "./pages/tokens.js";
import * as users from "./pages/users.js";
import { askToReauthenticate } from "./step-up.js";
import { verifyBanner } from "./verify-banner.js";

// Who may open a page: `guest` pages are for the signed-out (a signed-in caller goes home);
// `anyone` pages, those that mailed links open, are shown signed in or not; the others need a
// session (`signInFirst`: why the sign-in page comes first, when it does).
const ROUTES = [
  { path: "/signin", page: signin.signIn, guest: true },
  { path: "/register", page: signin.register, guest: true },
  { path: "/forgot-password", page: recovery.forgotPassword, guest: true },
  { path: "/reset-password", page: recovery.resetPassword, anyone: true },
  { path: "/verify-email", page: recovery.verifyEmail, anyone: true, bannerless: true },
  { path: "/accept-invitation", page: invitation.accept, anyone: true },
  { path: "/confirm-email", page: me.confirmEmail, nav: "/me", signInFirst: "Sign in to confirm your new address." },
  { path: "/me", page: me.render },
  { path: "/articles", page: articles.list },
  { path: "/articles/new", page: articles.edit, nav: "/articles" },
  { path: "/articles/:id", page: articles.read, nav: "/articles" },
  { path: "/articles/:id/edit", page: articles.edit, nav: "/articles" },
  { path: "/users", page: users.list },
  { path: "/users/:id", page: users.detail, nav: "/users" },
  { path: "/roles", page: roles.render },
  { path: "/sessions", page: sessions.render },
  { path: "/tokens", page: tokens.render },
  { path: "/audit", page: audit.render },
];

// Links are a courtesy: shown to those who hold the permission; the API checks every call.
const NAV = [
  { path: "/articles", label: "Articles", permission: "read_article" },
  { path: "/users", label: "Users", permission: "read_user" },
  { path: "/roles", label: "Roles", permission: "manage_roles" },
  { path: "/audit", label: "Audit log", permission: "read_audit" },
  { path: "/sessions", label: "My sessions" },
  { path: "/tokens", label: "My tokens" },
  { path: "/me", label: "My account" },
];

let caller = null; // GET /users/me of the signed-in user, reloaded on every navigation
let returnTo = null;
let pendingFlash = "";
let generation = 0;

function parseHash() {
  const raw = location.hash.replace(/^#/, "");
  const [path, search = ""] = raw.split("?");
  return { path: path || "/", query: new URLSearchParams(search) };
}

function match(path) {
  const segments = path.split("/").filter(Boolean);
  for (const route of ROUTES) {
    const pattern = route.path.split("/").filter(Boolean);
    if (pattern.length !== segments.length) continue;
    const params = {};
    const matches = pattern.every((part, index) => {
      if (!part.startsWith(":")) return part === segments[index];
      if (!/^[1-9][0-9]{0,17}$/.test(segments[index])) return false;
      params[part.slice(1)] = segments[index];
      return true;
    });
    if (matches) return { route, params };
  }
  return null;
}

function can(permission) {
  return Boolean(caller && caller.permissions.includes(permission));
}

/** Whether the caller may act on an object whose owner is `ownerId` (null: nobody's, e.g. an
 *  article whose author was deleted): the API's rule (owned_or_any) — `own` always, and the
 *  object is the caller's own or they also hold `any`, which reaches everyone's. */
function canActOn(ownerId, own, any) {
  if (!can(own)) return false;
  return (ownerId !== null && ownerId !== undefined && ownerId === caller.id) || can(any);
}

function home() {
  return can("read_article") ? "#/articles" : "#/me";
}

/** Go to an address; re-render when it is the current one. */
function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

/** A message for the next page shown (after a redirect: "Article deleted."). */
function flash(text) {
  pendingFlash = text;
}

function renderChrome(activePath, { bannerless = false } = {}) {
  const nav = document.getElementById("nav");
  const account = document.getElementById("account");
  const banner = document.getElementById("banner");
  if (!caller) {
    nav.replaceChildren();
    account.replaceChildren();
    banner.replaceChildren();
    return;
  }
  // Not on the page that verifies the address: it says it all.
  const unverified = bannerless ? null : verifyBanner(caller);
  if (unverified) banner.replaceChildren(unverified);
  else banner.replaceChildren();
  const links = NAV.filter((item) => !item.permission || can(item.permission)).map((item) =>
    h(
      "li",
      {},
      h("a", { href: `#${item.path}`, "aria-current": item.path === activePath ? "page" : null }, item.label),
    ),
  );
  nav.replaceChildren(h("ul", {}, links));
  account.replaceChildren(
    h("span", { class: "who" }, caller.email),
    h("button", { type: "button", class: "secondary", onclick: signOut }, "Sign out"),
  );
}

async function signOut() {
  await authSession.signOut();
  caller = null;
  flash("You are signed out.");
  go("#/signin");
}

async function signedIn() {
  const target = returnTo;
  returnTo = null;
  go(target || "#/");
}

async function route() {
  const current = ++generation;
  const { path, query } = parseHash();
  const viewRoot = document.getElementById("view");
  const found = path === "/" ? null : match(path);

  const rules = found ? found.route : {};
  if (rules.guest && authSession.isSignedIn()) {
    location.replace("#/");
    return;
  }
  if (!rules.guest && !rules.anyone && !authSession.isSignedIn()) {
    if (path !== "/") returnTo = location.hash;
    if (rules.signInFirst) flash(rules.signInFirst);
    location.replace("#/signin");
    return;
  }
  if (!authSession.isSignedIn()) {
    caller = null;
  } else {
    try {
      caller = await api.get("/users/me");
    } catch (error) {
      if (current !== generation || !authSession.isSignedIn()) return; // signed out: handled below
      if (error.code === "mfa_enrollment_required") {
        showEnrollmentRequired(viewRoot);
        return;
      }
      const box = errorBox();
      showError(box, error);
      viewRoot.replaceChildren(h("div", {}, heading("Something went wrong"), box));
      return;
    }
    if (current !== generation) return;
    if (path === "/") {
      location.replace(home());
      return;
    }
  }

  renderChrome(rules.nav || rules.path || null, { bannerless: rules.bannerless });
  const flashNode = document.getElementById("flash");
  flashNode.textContent = pendingFlash;
  pendingFlash = "";

  const view = h("div");
  viewRoot.replaceChildren(view);
  const context = {
    me: caller,
    params: found ? found.params : {},
    query,
    can,
    canActOn,
    go,
    flash,
    signedIn,
    reload: route,
  };
  const rendering = found ? found.route.page(view, context) : notFound(view);
  // The heading is in place as soon as the page starts: focus it so the change is announced.
  const target = view.querySelector("[autofocus]") || view.querySelector("h1");
  if (target) target.focus();
  document.title = `${view.querySelector("h1")?.textContent || "py-auth"} · py-auth console`;
  try {
    await rendering;
  } catch (error) {
    const box = errorBox();
    showError(box, error);
    view.append(box);
  }
}

/** Nothing works until the account has a second factor: only enrolling, and signing out. */
function showEnrollmentRequired(viewRoot) {
  caller = null;
  renderChrome(null);
  document.getElementById("account").replaceChildren(
    h("button", { type: "button", class: "secondary", onclick: signOut }, "Sign out"),
  );
  const view = h("div");
  viewRoot.replaceChildren(view);
  mfa.enrollmentRequired(view, { reload: route });
}

function notFound(view) {
  view.append(heading("Page not found"), h("p", {}, h("a", { href: "#/" }, "Go to the start page")));
}

window.addEventListener("auth:signed-out", (event) => {
  caller = null;
  if (event.detail.wasSignedIn) flash("Your session has ended. Sign in again.");
  const { path } = parseHash();
  const found = match(path);
  if (found && !found.route.guest && !found.route.anyone) returnTo = location.hash;
  go("#/signin");
});

async function start() {
  document.querySelector(".skip-link").addEventListener("click", (event) => {
    event.preventDefault(); // the hash is the router's: focus the content instead
    document.getElementById("main").focus();
  });
  // After a reload the access token is gone (it lived in memory): the cookie brings one back.
  const outcome = await authSession.refresh();
  if (outcome === "unreachable") {
    const box = errorBox();
    showError(box, { detail: "The server could not be reached." });
    document.getElementById("view").replaceChildren(
      heading("py-auth console"),
      box,
      h("button", { type: "button", onclick: () => location.reload() }, "Try again"),
    );
    return;
  }
  // The actions that need a recent sign-in ask for the password again, then go on.
  authSession.setStepUpPrompt((reauthenticate) =>
    askToReauthenticate(reauthenticate, { withCode: Boolean(caller && caller.mfa_enabled) }),
  );
  window.addEventListener("hashchange", route);
  route();
}

start();
