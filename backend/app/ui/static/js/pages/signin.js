// Sign in and register (a forgotten password is pages/recovery.js).

import * as authSession from "../auth-session.js";
import { busy, errorBox, field, formValues, h, heading, newPasswordInput } from "../dom.js";

export function signIn(view, context) {
  const box = errorBox();
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true, autofocus: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    { "aria-label": "Sign in" },
    field("Email", email),
    field("Password", password),
    box,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const done = await busy(submit, box, () => authSession.signIn(values.email, values.password));
    if (done) context.signedIn();
    else password.select();
  });
  view.append(
    heading("Sign in"),
    form,
    h("p", {}, h("a", { href: "#/forgot-password" }, "Forgot your password?")),
    h("p", {}, "No account yet? ", h("a", { href: "#/register" }, "Create one")),
  );
}

export function register(view, context) {
  const box = errorBox();
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true, autofocus: true });
  const fullName = h("input", { type: "text", name: "full_name", autocomplete: "name", maxlength: 200 });
  const password = newPasswordInput("password");
  const submit = h("button", { type: "submit" }, "Create account");
  const form = h(
    "form",
    { "aria-label": "Create an account" },
    field("Email", email),
    field("Full name (optional)", fullName),
    field("Password", password, "8 to 128 characters; a passphrase of a few words works well."),
    box,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const done = await busy(submit, box, async () => {
      await authSession.register(values.email, values.password, values.full_name.trim());
      await authSession.signIn(values.email, values.password);
    });
    if (done) {
      context.flash("Welcome! Your account is ready.");
      context.signedIn();
    }
  });
  view.append(
    heading("Create an account"),
    form,
    h("p", {}, "Already registered? ", h("a", { href: "#/signin" }, "Sign in")),
  );
}
