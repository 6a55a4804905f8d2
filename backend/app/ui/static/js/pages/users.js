// Users admin: the list with its filters (read_user) and invitations (create_user), and one
// user: roles, activation, lockout, a reset mail and sessions (update_user), deletion
// (delete_user).

import { api } from "../auth-session.js";
import { append, busy, errorBox, field, h, hashWith, heading, load, notice, offsetOf, pager, table, tags, when } from "../dom.js";
import { sessionTable } from "../session-table.js";

const PAGE_SIZE = 20;
const BUILT_IN_ROLES = ["viewer", "editor", "admin"];

/** Role names to offer: every role for those who may list them, else the built-in ones. */
async function roleNames(context) {
  if (!context.can("manage_roles")) return BUILT_IN_ROLES;
  try {
    return (await api.get("/roles")).map((role) => role.name);
  } catch {
    return BUILT_IN_ROLES;
  }
}

/** How a user is named: their email when the caller may see it (read_user_private), else their
 * name, else their id. */
function label(user) {
  return user.email || user.full_name || `User #${user.id}`;
}

function status(user) {
  return user.is_active ? h("span", { class: "badge" }, "active") : h("span", { class: "badge off" }, "inactive");
}

export async function list(view, context) {
  const query = context.query;
  const offset = offsetOf(query);
  const email = query.get("email") || "";
  const role = query.get("role") || "";
  const box = errorBox();

  // Searching by email needs the right to see emails; the others filter by role only.
  const seesEmails = context.can("read_user_private");
  const emailInput = h("input", { type: "search", name: "email", value: email, maxlength: 320 });
  const roleInput = h("select", { name: "role" }, h("option", { value: "" }, "Any role"));
  const filters = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter users" },
    seesEmails ? field("Email contains", emailInput) : null,
    field("Role", roleInput),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Filter"), h("a", { href: "#/users" }, "Clear")),
  );
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    context.go(hashWith("/users", { email: seesEmails ? emailInput.value.trim() : "", role: roleInput.value }));
  });
  view.append(heading("Users"), filters, box);

  const loaded = await load(box, () =>
    Promise.all([api.get("/users", { email, role, limit: PAGE_SIZE, offset }), roleNames(context)]),
  );
  if (!loaded) return;
  const [page, names] = loaded;
  for (const name of new Set([...names, role].filter(Boolean))) {
    roleInput.append(h("option", { value: name }, name));
  }
  roleInput.value = role;
  const invite = context.can("create_user") ? invitePanel(names) : null;
  if (!page.items.length) {
    append(view, h("p", { class: "muted" }, "No user matches."), invite);
    return;
  }
  const rows = page.items.map((user) =>
    h(
      "tr",
      {},
      h("td", { class: "wrap" }, h("a", { href: `#/users/${user.id}` }, label(user))),
      h("td", {}, user.full_name || ""),
      h("td", {}, tags(user.roles)),
      h("td", {}, status(user)),
      h("td", {}, when(user.created_at)),
    ),
  );
  append(
    view,
    table("Users", [seesEmails ? "Email" : "User", "Name", "Roles", "Status", "Created"], rows),
    pager(page, (next) => hashWith("/users", { email, role, offset: next }), "users"),
    invite,
  );
}

/** Invite someone: a mail with a link to open their account, with these roles. */
function invitePanel(names) {
  const box = errorBox();
  const result = notice();
  const email = h("input", { type: "email", name: "email", autocomplete: "off", required: true, maxlength: 320 });
  const boxes = names.map((name) => h("label", {}, h("input", { type: "checkbox", name: "roles", value: name }), name));
  const submit = h("button", { type: "submit" }, "Send the invitation");
  const form = h(
    "form",
    { "aria-labelledby": "invite-heading" },
    field("Email of the person to invite", email),
    h(
      "fieldset",
      {},
      h("legend", {}, "Their roles"),
      h("p", { class: "hint" }, "None ticked: the default role. You can give only roles whose permissions you hold."),
      h("div", { class: "checks" }, boxes),
    ),
    box,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const roles = new FormData(form).getAll("roles");
    let answer = null;
    const sent = await busy(submit, box, async () => {
      answer = await api.post("/users/invitations", { email: email.value, roles });
    });
    if (sent) {
      form.reset();
      result.textContent = answer.detail;
    }
  });
  return h("section", { class: "panel" }, h("h2", { id: "invite-heading" }, "Invite someone"), form, result);
}

export async function detail(view, context) {
  const id = context.params.id;
  const box = errorBox();
  const title = heading("User");
  view.append(title, box);
  const loaded = await load(box, () => Promise.all([api.get(`/users/${id}`), roleNames(context)]));
  if (!loaded) return;
  const [user, names] = loaded;
  title.textContent = label(user);
  document.title = `${label(user)} · py-auth console`;
  const done = (message) => {
    context.flash(message);
    context.reload();
  };

  view.append(
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Name"),
      h("dd", {}, user.full_name || h("span", { class: "muted" }, "not set")),
      h("dt", {}, "Roles"),
      h("dd", { "data-testid": "user-roles" }, tags(user.roles)),
      h("dt", {}, "Status"),
      h("dd", {}, status(user)),
      h("dt", {}, "Created"),
      h("dd", {}, when(user.created_at)),
    ),
  );

  if (context.can("update_user")) view.append(rolesForm(user, names, done), accountActions(user, done));
  // Another user's sessions (IP addresses, browsers) need read_user_private.
  if (context.can("read_user_private")) view.append(await sessionsPanel(user, context, done));
  if (context.can("delete_user")) view.append(deletePanel(user, context));
  view.append(h("p", {}, h("a", { href: "#/users" }, "← All users")));
}

function rolesForm(user, names, done) {
  const box = errorBox();
  const boxes = [...new Set([...names, ...user.roles])].map((name) =>
    h("label", {}, h("input", { type: "checkbox", name: "roles", value: name, checked: user.roles.includes(name) }), name),
  );
  const submit = h("button", { type: "submit" }, "Save roles");
  const form = h(
    "form",
    {},
    h("fieldset", {}, h("legend", {}, `Roles of ${label(user)}`), h("div", { class: "checks" }, boxes)),
    box,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const roles = new FormData(form).getAll("roles");
    if (await busy(submit, box, () => api.patch(`/users/${user.id}`, { roles }))) done("Roles saved.");
  });
  return h("section", { class: "panel" }, h("h2", {}, "Roles"), form);
}

function accountActions(user, done) {
  const box = errorBox();
  const toggle = h("button", { type: "button", class: user.is_active ? "danger" : "" }, user.is_active ? "Deactivate" : "Activate");
  toggle.addEventListener("click", async () => {
    if (user.is_active && !window.confirm(`Deactivate ${label(user)}? Their sessions end at once.`)) return;
    const saved = await busy(toggle, box, () => api.patch(`/users/${user.id}`, { is_active: !user.is_active }));
    if (saved) done(user.is_active ? "Account deactivated." : "Account activated.");
  });
  const unlock = h("button", { type: "button", class: "secondary" }, "Unlock sign-in");
  unlock.addEventListener("click", async () => {
    const unlocked = await busy(unlock, box, () => api.post(`/users/${user.id}/unlock`));
    if (unlocked) done("Sign-in lockout lifted: failed attempts are forgotten.");
  });
  const reset = h("button", { type: "button", class: "secondary" }, "Send a password reset link");
  reset.addEventListener("click", async () => {
    let answer = null;
    const sent = await busy(reset, box, async () => {
      answer = await api.post(`/users/${user.id}/password-reset`);
    });
    if (sent) done(answer.detail);
  });
  return h(
    "section",
    { class: "panel" },
    h("h2", {}, "Account"),
    h(
      "p",
      { class: "hint" },
      "Unlock lifts the lockout that repeated failed sign-ins put on this email. ",
      "A reset link goes to the user's own address, for them to choose a new password: nobody else sees it.",
    ),
    h("div", { class: "actions" }, toggle, unlock, reset),
    box,
    mfaResetForm(user, done),
  );
}

/** Turn a user's two-step verification off when they lost their device: the reason goes in the
 *  audit log, their sessions end, and they are told by mail. */
function mfaResetForm(user, done) {
  const box = errorBox();
  const reason = h("input", { type: "text", name: "reason", required: true, minlength: 3, maxlength: 500 });
  const submit = h("button", { type: "submit", class: "secondary" }, "Reset two-step verification");
  const form = h(
    "form",
    { "aria-label": "Reset two-step verification" },
    field("Reason (kept in the audit log)", reason, "For a user who lost their authenticator: they sign in with the password alone, then turn it on again."),
    box,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const reset = await busy(submit, box, () => api.post(`/users/${user.id}/mfa/reset`, { reason: reason.value.trim() }));
    if (reset) done("Two-step verification reset: the user's sessions ended and they were told by mail.");
  });
  return form;
}

async function sessionsPanel(user, context, done) {
  const box = errorBox();
  const panel = h("section", { class: "panel" }, h("h2", {}, "Sessions"), box);
  const listed = await load(box, () => api.get(`/users/${user.id}/sessions`));
  if (!listed) return panel;
  const sessions = listed.items;
  if (!sessions.length) panel.append(h("p", { class: "muted" }, "No active session."));
  else panel.append(sessionTable(`Sessions of ${label(user)}`, sessions));
  if (context.can("update_user") && sessions.length) {
    const end = h("button", { type: "button", class: "danger" }, "End all sessions");
    end.addEventListener("click", async () => {
      if (!window.confirm(`End every session of ${label(user)}?`)) return;
      const ended = await busy(end, box, () => api.delete(`/users/${user.id}/sessions`));
      if (ended) done("Every session of the user has ended.");
    });
    panel.append(h("div", { class: "actions" }, end));
  }
  return panel;
}

function deletePanel(user, context) {
  const box = errorBox();
  const button = h("button", { type: "button", class: "danger" }, "Delete user");
  button.addEventListener("click", async () => {
    if (!window.confirm(`Delete ${label(user)}? Their articles stay, without an author.`)) return;
    const deleted = await busy(button, box, () => api.delete(`/users/${user.id}`));
    if (deleted) {
      context.flash(`${label(user)} deleted.`);
      context.go("#/users");
    }
  });
  return h("section", { class: "panel" }, h("h2", {}, "Delete"), h("div", { class: "actions" }, button), box);
}
