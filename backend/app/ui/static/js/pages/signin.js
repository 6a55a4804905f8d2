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
    let challenge = null;
    const done = await busy(submit, box, async () => {
      challenge = await authSession.signIn(values.email, values.password);
    });
    if (!done) password.select();
    else if (challenge) view.replaceChildren(...secondStep(challenge.mfaToken, context));
    else context.signedIn();
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

/** The second step of a sign-in, for an account with two-step verification: a code from the
 *  authenticator app, or one of the recovery codes. */
function secondStep(mfaToken, context) {
  const box = errorBox();
  const code = h("input", { type: "text", name: "code", inputmode: "numeric", autocomplete: "one-time-code", required: true, maxlength: 16, autofocus: true });
  const recovery = h("input", { type: "text", name: "recovery_code", autocomplete: "off", maxlength: 32 });
  const recoveryField = field("Recovery code", recovery, "One of the codes you saved when you turned two-step verification on; each works once.");
  recoveryField.hidden = true;
  const codeField = field("Code from your authenticator app", code);
  const toggle = h("button", { type: "button", class: "link" }, "Use a recovery code instead");
  toggle.addEventListener("click", () => {
    const useRecovery = recoveryField.hidden;
    recoveryField.hidden = !useRecovery;
    codeField.hidden = useRecovery;
    code.required = !useRecovery;
    recovery.required = useRecovery;
    toggle.textContent = useRecovery ? "Use a code from the app instead" : "Use a recovery code instead";
    (useRecovery ? recovery : code).focus();
  });
  const submit = h("button", { type: "submit" }, "Verify");
  const form = h("form", { "aria-label": "Second step" }, codeField, recoveryField, box, h("div", { class: "actions" }, submit, toggle));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const factor = recoveryField.hidden ? { code: code.value.trim() } : { recovery_code: recovery.value.trim() };
    let refusal = null;
    const done = await busy(submit, box, () =>
      authSession.verifySecondFactor(mfaToken, factor).catch((error) => {
        refusal = error;
        throw error;
      }),
    );
    if (done) context.signedIn();
    else if (refusal && refusal.code === "invalid_mfa_token") {
      // Expired, or out of attempts: only a new sign-in gives a new challenge.
      submit.replaceWith(h("button", { type: "button", onclick: () => context.reload() }, "Sign in again"));
    }
  });
  return [heading("Two-step verification"), h("p", {}, "Enter the 6-digit code your authenticator app shows."), form];
}
