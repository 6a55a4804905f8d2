// The dialog that asks for the password again (and a code, for an account with two-step
// verification) when an action needs a recent sign-in: the API answered 401
// insufficient_user_authentication (RFC 9470), and auth-session.js retries the action after.

import { busy, errorBox, field, h } from "./dom.js";

/** Shows the dialog; `reauthenticate({ password, code })` is tried on submit, and a refusal is
 *  shown in the dialog for another try. Resolves to true once proven, false when cancelled. */
export function askToReauthenticate(reauthenticate, { withCode }) {
  return new Promise((resolve) => {
    const box = errorBox();
    const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true, autofocus: true });
    const code = withCode
      ? h("input", { type: "text", name: "code", inputmode: "numeric", autocomplete: "one-time-code", required: true, maxlength: 16 })
      : null;
    const submit = h("button", { type: "submit" }, "Confirm");
    const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
    const form = h(
      "form",
      { method: "dialog", "aria-labelledby": "step-up-heading" },
      h("h2", { id: "step-up-heading" }, "Confirm it is you"),
      h("p", {}, "This change needs a recent sign-in. Enter your password to go on."),
      field("Password", password),
      code && field("Code from your authenticator app", code),
      box,
      h("div", { class: "actions" }, submit, cancel),
    );
    const dialog = h("dialog", { class: "step-up" }, form);
    const close = (proven) => {
      dialog.close();
      dialog.remove();
      resolve(proven);
    };
    cancel.addEventListener("click", () => close(false));
    dialog.addEventListener("cancel", () => close(false));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const proof = { password: password.value, code: code ? code.value.trim() : undefined };
      if (await busy(submit, box, () => reauthenticate(proof))) close(true);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
