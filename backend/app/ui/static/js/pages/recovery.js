// A forgotten password and a proof of address: the pages that ask for a mail, and those that
// the mailed links open. Opening a link changes nothing (a mail scanner follows links too):
// its token is posted only when the person submits the page.

import { signOut } from "../auth-session.js";
import { busy, errorBox, field, h, heading, linkToken, mailedLinkPage, newPasswordInput, notice } from "../dom.js";
import { postWithoutSession } from "../http.js";

export function forgotPassword(view) {
  const box = errorBox();
  const result = notice();
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true, maxlength: 320, autofocus: true });
  const submit = h("button", { type: "submit" }, "Send me a reset link");
  const form = h(
    "form",
    { "aria-label": "Forgot your password?" },
    field("Email", email, "The address you sign in with: if it has an account, a link to choose a new password is mailed to it."),
    box,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let answer = null;
    const sent = await busy(submit, box, async () => {
      answer = await postWithoutSession("/auth/forgot-password", { email: email.value });
    });
    if (sent) result.textContent = answer.detail;
  });
  view.append(heading("Forgot your password?"), form, result, h("p", {}, h("a", { href: "#/signin" }, "Back to sign in")));
}

/** #/reset-password?token=...: a new password, with the token of a reset mail. */
export function resetPassword(view, context) {
  const box = errorBox();
  const again = h("p", {}, "Link expired or used? ", h("a", { href: "#/forgot-password" }, "Ask for a new one"));
  view.append(heading("Choose a new password"));
  const token = linkToken(context, box);
  if (!token) {
    view.append(box, again);
    return;
  }
  const password = newPasswordInput("password");
  password.autofocus = true;
  const submit = h("button", { type: "submit" }, "Set the new password");
  const form = h(
    "form",
    { "aria-label": "Reset your password" },
    field("New password", password, "8 to 128 characters. Setting it signs the account out everywhere."),
    box,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const changed = await busy(submit, box, () => postWithoutSession("/auth/reset-password", { token, password: password.value }));
    if (!changed) return;
    // Whoever is signed in here, the next step is signing in with the new password.
    if (context.me) await signOut();
    context.flash("Your password is changed. Sign in with it.");
    context.go("#/signin");
  });
  view.append(form, again);
}

/** #/verify-email?token=...: a button that proves the address, with the token of its mail. */
export function verifyEmail(view, context) {
  mailedLinkPage(view, context, {
    title: "Verify your email address",
    label: "Verify my address",
    explanation: h("p", {}, "The link you opened was mailed to your address: confirm that it reached you."),
    send: (token) => postWithoutSession("/auth/verify", { token }),
    done: (user) => {
      context.flash(`Your address ${user.email} is verified.`);
      context.go(context.me ? "#/" : "#/signin");
    },
  });
}
