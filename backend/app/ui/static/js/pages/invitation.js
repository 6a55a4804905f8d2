// #/accept-invitation?token=...: the invited person opens their account (name and password),
// then is signed in. Opening the link changes nothing; submitting the form uses its token.

import { signIn, signOut } from "../auth-session.js";
import { busy, errorBox, field, h, heading, linkToken, newPasswordInput } from "../dom.js";
import { postWithoutSession } from "../http.js";

export function accept(view, context) {
  const box = errorBox();
  view.append(heading("Accept your invitation"));
  const token = linkToken(context, box);
  if (!token) {
    view.append(box);
    return;
  }
  const fullName = h("input", { type: "text", name: "full_name", autocomplete: "name", maxlength: 200, autofocus: true });
  const password = newPasswordInput("password");
  const submit = h("button", { type: "submit" }, "Create my account");
  const form = h(
    "form",
    { "aria-label": "Accept your invitation" },
    field("Full name (optional)", fullName),
    field("Password", password, "8 to 128 characters; a passphrase of a few words works well."),
    box,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let user = null;
    const accepted = await busy(submit, box, async () => {
      const name = fullName.value.trim();
      user = await postWithoutSession("/auth/accept-invitation", { token, password: password.value, full_name: name || null });
    });
    if (!accepted) return;
    // The link is used: from here on, a failure must not offer to submit it again.
    if (context.me) await signOut();
    try {
      await signIn(user.email, password.value);
    } catch {
      context.flash("Your account is ready: sign in.");
      context.go("#/signin");
      return;
    }
    context.flash("Welcome! Your account is ready.");
    context.signedIn();
  });
  view.append(
    h("p", {}, "You are invited to open an account, with the roles chosen for you. Choose your password to accept."),
    form,
  );
}
