// Roles admin (manage_roles): every role with its permissions; create, change, delete. Then
// the policy those permissions make (GET /authz/policy): which role may call which route, and
// why a given user would be allowed or refused one (POST /authz/explain).

import { api } from "../auth-session.js";
import { busy, errorBox, field, h, heading, load, table, tags } from "../dom.js";

// How the policy's decisions read in a cell, and the class that colours them (app.css).
// `text` in a cell of the matrix (its legend says what "own" means), `long` in an explanation.
const DECISIONS = {
  allowed: { text: "allowed", long: "allowed", class: "decision allowed" },
  own_only: { text: "own", long: "own objects only", class: "decision own" },
  denied: { text: "denied", long: "denied", class: "decision denied" },
};
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];

function permissionChecks(legend, permissions, held) {
  return h(
    "fieldset",
    {},
    h("legend", {}, legend),
    h(
      "div",
      { class: "checks" },
      permissions.map((permission) =>
        h(
          "label",
          { title: permission.description },
          h("input", { type: "checkbox", name: "permissions", value: permission.name, checked: held.includes(permission.name) }),
          permission.name,
        ),
      ),
    ),
  );
}

export async function render(view, context) {
  const box = errorBox();
  view.append(heading("Roles"), box);
  const loaded = await load(box, () =>
    Promise.all([api.get("/roles"), api.get("/permissions"), api.get("/authz/policy")]),
  );
  if (!loaded) return;
  const [roles, permissions, policy] = loaded;
  const done = (message) => {
    context.flash(message);
    context.reload();
  };
  view.append(
    h("p", { class: "hint" }, "Routes check permissions, never role names: what a role may do is data, changed here."),
    h("ul", { class: "cards", "aria-label": "Roles" }, roles.map((role) => roleCard(role, permissions, done))),
    createForm(permissions, done),
    policyMatrix(policy),
    explainForm(),
  );
}

/** Roles x routes that need a permission: a table whose cells say allowed, own (the caller's
 *  own objects only) or denied, with each route's row header and each role's column header. */
function policyMatrix(policy) {
  const roles = Object.keys(policy.roles).sort();
  const rows = policy.routes
    .filter((route) => policy.matrix[`${route.method} ${route.path}`])
    .map((route) => {
      const decisions = policy.matrix[`${route.method} ${route.path}`];
      return h(
        "tr",
        {},
        h("th", { scope: "row" }, h("code", {}, `${route.method} ${route.path}`)),
        h("td", {}, requirement(route)),
        roles.map((role) => {
          const decision = DECISIONS[decisions[role]] || { text: decisions[role] || "", class: "decision" };
          return h("td", { class: decision.class }, decision.text);
        }),
      );
    });
  return h(
    "section",
    { class: "panel", "aria-labelledby": "policy-heading" },
    h("h2", { id: "policy-heading" }, "Who may call what"),
    h(
      "p",
      { class: "hint" },
      "Each role's decision on each route that needs a permission, read from the code and the roles above. ",
      "allowed: yes, on every object; own: on the caller's own objects only (the permission after “anyone's” reaches everyone's); ",
      "denied: refused with 403. Routes open to anyone, or to any signed-in user, are left out.",
    ),
    table("Roles and routes: the decision of each role on each route", ["Route", "Requires", ...roles], rows),
  );
}

function requirement(route) {
  const names = route.permissions.join(", ");
  return route.ownership ? `${names}; anyone's: ${route.ownership.any}` : names;
}

/** "Why was this user refused?": POST /authz/explain for a user, a method and a path. */
function explainForm() {
  const box = errorBox();
  const userId = h("input", { type: "number", name: "user_id", required: true, min: 1, step: 1, inputmode: "numeric" });
  const method = h("select", { name: "method" }, METHODS.map((name) => h("option", { value: name }, name)));
  const path = h("input", { type: "text", name: "path", required: true, maxlength: 2048, placeholder: "/articles/1" });
  const submit = h("button", { type: "submit" }, "Explain");
  // Announced when it changes; not role=status, which the page's flash message already has.
  const result = h("div", { "aria-live": "polite", "data-testid": "explanation" });
  const form = h(
    "form",
    { "aria-labelledby": "explain-heading" },
    h(
      "div",
      { class: "filters" },
      field("User id", userId),
      field("Method", method),
      field("Path", path, "A path as called, with its ids: /articles/7."),
    ),
    box,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    result.replaceChildren();
    const json = { user_id: Number(userId.value), method: method.value, path: path.value.trim() };
    let explained; // busy() says only whether it worked: the answer comes from here
    const ok = await busy(submit, box, async () => {
      explained = await api.post("/authz/explain", json);
    });
    if (ok) result.replaceChildren(explanation(explained));
  });
  return h(
    "section",
    { class: "panel", "aria-labelledby": "explain-heading" },
    h("h2", { id: "explain-heading" }, "Why was a user refused?"),
    h("p", { class: "hint" }, "What this user would get at this route now, and why: the rule the API applies to the real call."),
    form,
    result,
  );
}

function explanation(explained) {
  const decision = DECISIONS[explained.decision] || { long: explained.decision, class: "decision" };
  const fact = (term, value) => [h("dt", {}, term), h("dd", {}, value)];
  return h(
    "dl",
    { class: "facts" },
    fact("Route", h("code", {}, `${explained.method} ${explained.route}`)),
    fact("Decision", h("span", { class: decision.class, "data-testid": "explain-decision" }, decision.long)),
    fact("Reason", explained.reason),
    fact("Required", tags(explained.required, "no permission")),
    fact("Held", tags(explained.held, "none of them")),
    fact("Missing", tags(explained.missing, "nothing")),
    explained.ownership ? fact("Anyone's objects need", h("code", {}, explained.ownership.any)) : null,
  );
}

function roleCard(role, permissions, done) {
  const box = errorBox();
  const save = h("button", { type: "submit" }, "Save permissions");
  const form = h("form", {}, permissionChecks(`Permissions of ${role.name}`, permissions, role.permissions), h("div", { class: "actions" }, save));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = new FormData(form).getAll("permissions");
    const saved = await busy(save, box, () => api.put(`/roles/${encodeURIComponent(role.name)}/permissions`, { permissions: chosen }));
    if (saved) done(`Permissions of ${role.name} saved.`);
  });
  const remove = h("button", { type: "button", class: "danger" }, "Delete role");
  remove.setAttribute("aria-label", `Delete role ${role.name}`);
  remove.addEventListener("click", async () => {
    if (!window.confirm(`Delete the role ${role.name}?`)) return;
    const deleted = await busy(remove, box, () => api.delete(`/roles/${encodeURIComponent(role.name)}`));
    if (deleted) done(`Role ${role.name} deleted.`);
  });
  return h(
    "li",
    { class: "card", "data-role": role.name },
    h("h2", {}, role.name),
    role.description ? h("p", { class: "meta" }, role.description) : null,
    tags(role.permissions, "no permission"),
    h("details", {}, h("summary", {}, `Change permissions of ${role.name}`), form),
    h("div", { class: "actions" }, remove),
    box,
  );
}

function createForm(permissions, done) {
  const box = errorBox();
  const name = h("input", { type: "text", name: "name", required: true, maxlength: 64, pattern: "[a-z][a-z0-9_\\-]*" });
  const description = h("input", { type: "text", name: "description", maxlength: 255 });
  const submit = h("button", { type: "submit" }, "Create role");
  const form = h(
    "form",
    { "aria-labelledby": "new-role-heading" },
    field("Name", name, "Lower case letters, digits, - and _; starts with a letter."),
    field("Description", description),
    permissionChecks("Permissions of the new role", permissions, []),
    box,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const json = {
      name: name.value.trim(),
      description: description.value.trim(),
      permissions: new FormData(form).getAll("permissions"),
    };
    if (await busy(submit, box, () => api.post("/roles", json))) done(`Role ${json.name} created.`);
  });
  return h("section", { class: "panel" }, h("h2", { id: "new-role-heading" }, "New role"), form);
}
