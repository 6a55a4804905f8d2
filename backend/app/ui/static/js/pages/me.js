// My account: what GET /users/me says about the caller; the name and the password.

import { api, signOut } from "../auth-session.js";
import { busy, errorBox, field, formValues, h, heading, newPasswordInput, tags, when } from "../dom.js";

export function render(view, context) {
  const me = context.me;
  view.append(
    heading("My account"),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Email"),
      h("dd", { "data-testid": "me-email" }, me.email),
      h("dt", {}, "Name"),
      h("dd", {}, me.full_name || h("span", { class: "muted" }, "not set")),
      h("dt", {}, "Roles"),
      h("dd", { "data-testid": "me-roles" }, tags(me.roles)),
      h("dt", {}, "Permissions"),
      h("dd", { "data-testid": "me-permissions" }, tags(me.permissions)),
      h("dt", {}, "Member since"),
      h("dd", {}, when(me.created_at)),
    ),
    h(
      "p",
      { class: "hint" },
      "Roles and permissions are read from the database on every request: a change by an admin applies at once.",
    ),
    nameForm(me, context),
    passwordForm(context),
  );
}

function nameForm(me, context) {
  const box = errorBox();
  const input = h("input", { type: "text", name: "full_name", maxlength: 200, value: me.full_name || "", autocomplete: "name" });
  const submit = h("button", { type: "submit" }, "Save name");
  const form = h("form", { "aria-labelledby": "name-heading" }, field("Full name", input), box, h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = input.value.trim();
    const saved = await busy(submit, box, () => api.patch("/users/me", { full_name: name || null }));
    if (saved) {
      context.flash("Name saved.");
      context.reload();
    }
  });
  return h("section", { class: "panel" }, h("h2", { id: "name-heading" }, "Name"), form);
}

function passwordForm(context) {
  const box = errorBox();
  const current = h("input", { type: "password", name: "current_password", autocomplete: "current-password", required: true });
  const next = newPasswordInput("new_password");
  const submit = h("button", { type: "submit" }, "Change password");
  const form = h(
    "form",
    { "aria-labelledby": "password-heading" },
    field("Current password", current),
    field("New password", next, "Changing it signs you out everywhere, this browser included."),
    box,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const changed = await busy(submit, box, () => api.post("/users/me/password", values));
    if (changed) {
      await signOut();
      context.flash("Password changed. Sign in with the new one.");
      context.go("#/signin");
    }
  });
  return h("section", { class: "panel" }, h("h2", { id: "password-heading" }, "Password"), form);
}
