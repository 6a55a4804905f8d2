// My account: what GET /users/me says about the caller; the name, the email address and the
// password. And #/confirm-email, which the confirmation mail of a new address opens.

import { api, signOut } from "../auth-session.js";
import * as mfa from "./mfa.js";
import { busy, errorBox, field, formValues, h, heading, mailedLinkPage, newPasswordInput, notice, tags, when } from "../dom.js";

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
    emailForm(),
    passwordForm(context),
    mfa.panel(context),
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

function emailForm() {
  const box = errorBox();
  const result = notice();
  const address = h("input", { type: "email", name: "new_email", autocomplete: "email", required: true, maxlength: 320 });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit" }, "Send a confirmation link");
  const form = h(
    "form",
    { "aria-labelledby": "email-heading" },
    field("New email", address, "A link goes to the new address; your address changes when you open it there. Until then, sign in with the current one."),
    field("Your password", password),
    box,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let answer = null;
    const sent = await busy(submit, box, async () => {
      answer = await api.post("/users/me/email", { new_email: address.value, password: password.value });
    });
    if (sent) {
      form.reset();
      result.textContent = answer.detail;
    }
  });
  return h("section", { class: "panel" }, h("h2", { id: "email-heading" }, "Email address"), form, result);
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

/** #/confirm-email?token=...: the signed-in account takes the address the link was mailed to. */
export function confirmEmail(view, context) {
  mailedLinkPage(view, context, {
    title: "Confirm your new address",
    label: "Confirm my new address",
    explanation: h(
      "p",
      {},
      `The account ${context.me.email} takes the address this link was mailed to, and its sessions elsewhere end. `,
      "Only the account that asked for the change can confirm it.",
    ),
    send: (token) => api.post("/users/me/email/confirm", { token }),
    done: (user) => {
      context.flash(`Your address is now ${user.email}.`);
      context.go("#/me");
    },
  });
}
