// Two-step verification on "My account": its status, turning it on (a QR code, a first code,
// the recovery codes shown once), new recovery codes, and turning it off. And the page of an
// account that must enroll before anything else works (MFA_REQUIRED_PERMISSIONS).

import { api } from "../auth-session.js";
import { busy, errorBox, field, h, heading, load, when } from "../dom.js";

/** The "Two-step verification" panel of My account. */
export function panel(context) {
  const section = h("section", { class: "panel", "aria-labelledby": "mfa-heading", "data-testid": "mfa" });
  showStatus(section, context);
  return section;
}

async function showStatus(section, context) {
  const box = errorBox();
  section.replaceChildren(h("h2", { id: "mfa-heading" }, "Two-step verification"), box);
  const status = await load(box, () => api.get("/users/me/mfa"));
  if (!status) return;
  if (!status.enabled) {
    const start = h("button", { type: "button" }, "Turn on two-step verification");
    start.addEventListener("click", () => enroll(section, () => showStatus(section, context)));
    section.append(
      h("p", { "data-testid": "mfa-status" }, "Off: signing in asks for your password only."),
      h("div", { class: "actions" }, start),
    );
    return;
  }
  section.append(
    h("p", { "data-testid": "mfa-status" }, `On since ${when(status.enabled_at)}: signing in asks for a code from your authenticator app.`),
    h("p", {}, `${status.recovery_codes_left} of 10 recovery codes left.`),
    newCodesButton(section, context),
    turnOffForm(section, context),
  );
}

/** Starts an enrollment and shows the QR code; a first code turns it on. */
async function enroll(section, done) {
  const box = errorBox();
  section.replaceChildren(h("h2", { id: "mfa-heading" }, "Turn on two-step verification"), box);
  const enrollment = await load(box, () => api.post("/users/me/mfa/totp"));
  if (!enrollment) return;
  // The QR code is the server's SVG, shown as an image: never parsed into this page.
  const qr = h("img", {
    src: `data:image/svg+xml;base64,${btoa(enrollment.qr_svg)}`,
    alt: "QR code to scan with your authenticator app",
    class: "qr",
    width: 200,
    height: 200,
  });
  const code = h("input", { type: "text", name: "code", inputmode: "numeric", autocomplete: "one-time-code", required: true, maxlength: 16 });
  const submit = h("button", { type: "submit" }, "Turn on");
  const confirmBox = errorBox();
  const form = h("form", { "aria-label": "Confirm the authenticator" }, field("Code from the app", code), confirmBox, h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let answer = null;
    const confirmed = await busy(submit, confirmBox, async () => {
      answer = await api.post("/users/me/mfa/totp/confirm", { code: code.value.trim() });
    });
    if (confirmed) showRecoveryCodes(section, answer.recovery_codes, "Two-step verification is on.", done);
  });
  section.append(
    h("p", {}, "Scan the QR code with an authenticator app (or type the key below), then enter the code it shows. Other sessions of your account end when it is on."),
    qr,
    h("p", {}, "Key: ", h("code", { "data-testid": "mfa-secret" }, enrollment.secret)),
    form,
  );
  code.focus();
}

/** The recovery codes, once: they are not shown again. */
function showRecoveryCodes(section, codes, title, done) {
  const saved = h("button", { type: "button" }, "I have saved them");
  saved.addEventListener("click", done);
  section.replaceChildren(
    h("h2", { id: "mfa-heading" }, title),
    h("p", {}, "Save these recovery codes somewhere safe. Each signs you in once if you lose your device. They are shown only now."),
    h("ul", { class: "recovery-codes", "data-testid": "recovery-codes" }, codes.map((code) => h("li", {}, h("code", {}, code)))),
    h("div", { class: "actions" }, saved),
  );
  saved.focus();
}

function newCodesButton(section, context) {
  const box = errorBox();
  const button = h("button", { type: "button", class: "secondary" }, "New recovery codes");
  button.addEventListener("click", async () => {
    let answer = null;
    const made = await busy(button, box, async () => {
      answer = await api.post("/users/me/mfa/recovery-codes");
    });
    if (made) showRecoveryCodes(section, answer.recovery_codes, "New recovery codes", () => showStatus(section, context));
  });
  return h("div", { class: "actions" }, button, box);
}

function turnOffForm(section, context) {
  const box = errorBox();
  const code = h("input", { type: "text", name: "code", inputmode: "numeric", autocomplete: "one-time-code", required: true, maxlength: 16 });
  const submit = h("button", { type: "submit", class: "danger" }, "Turn off");
  const form = h("form", { "aria-label": "Turn off two-step verification" }, field("Code from your authenticator app", code), box, h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const off = await busy(submit, box, () => api.delete("/users/me/mfa/totp", { code: code.value.trim() }));
    if (off) {
      context.flash("Two-step verification is off.");
      context.reload();
    }
  });
  return form;
}

/** The page of an account whose permissions require two-step verification before anything
 *  else works (403 mfa_enrollment_required). */
export function enrollmentRequired(view, context) {
  const section = h("section", { class: "panel", "data-testid": "mfa" });
  view.append(
    heading("Turn on two-step verification"),
    h("p", {}, "Your permissions require two-step verification: turn it on to use the console."),
    section,
  );
  const start = h("button", { type: "button" }, "Start");
  start.addEventListener("click", () => enroll(section, () => context.reload()));
  section.append(h("div", { class: "actions" }, start));
}
