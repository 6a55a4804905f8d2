// My tokens: personal access tokens for scripts. Create one (shown once), list them, revoke.
// A token can do what its scopes and my permissions of the moment both allow; it can never
// manage tokens, the password or the email, so this page needs a sign-in, not a token.

import { api } from "../auth-session.js";
import { busy, errorBox, field, h, heading, load, notice, table, tags, when } from "../dom.js";

export async function render(view, context) {
  const box = errorBox();
  view.append(
    heading("My tokens"),
    h(
      "p",
      { class: "hint" },
      "A personal access token lets a script call the API as you, with the permissions you choose. ",
      "Send it as “Authorization: Bearer pya_pat_…”. It is shown once: keep it somewhere safe.",
    ),
    box,
  );
  const listed = await load(box, () => api.get("/users/me/tokens"));
  if (!listed) return;
  const shown = h("div", { "aria-live": "polite", "data-testid": "new-token" });
  view.append(createForm(context.me.permissions, shown, context), shown, tokenList(listed.items, context));
}

function createForm(permissions, shown, context) {
  const box = errorBox();
  const name = h("input", { type: "text", name: "name", required: true, maxlength: 100 });
  const days = h("input", { type: "number", name: "expires_in_days", required: true, min: 1, max: 365, step: 1, value: "30" });
  const checks = permissions.map((permission) =>
    h("label", {}, h("input", { type: "checkbox", name: "scopes", value: permission }), permission),
  );
  const submit = h("button", { type: "submit" }, "Create token");
  const form = h(
    "form",
    { "aria-labelledby": "create-token-heading" },
    field("Name", name, "What the token is for: “deploy script”."),
    field("Expires in (days)", days, "1 to 365 days."),
    h("fieldset", {}, h("legend", {}, "Scopes: what the token may do"), h("div", { class: "checks" }, checks)),
    box,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const scopes = [...form.querySelectorAll("input[name=scopes]:checked")].map((input) => input.value);
    const json = { name: name.value.trim(), scopes, expires_in_days: Number(days.value) };
    let created;
    const ok = await busy(submit, box, async () => {
      created = await api.post("/users/me/tokens", json);
    });
    if (!ok) return;
    form.reset();
    shown.replaceChildren(newToken(created, context));
  });
  return h(
    "section",
    { class: "panel", "aria-labelledby": "create-token-heading" },
    h("h2", { id: "create-token-heading" }, "New token"),
    form,
  );
}

/** The token, this once, and a way back to the (reloaded) list. */
function newToken(created, context) {
  const message = notice();
  message.textContent = `Token “${created.name}” created. Copy it now: it will not be shown again.`;
  const value = h("input", { type: "text", readonly: true, value: created.token, class: "mono", "aria-label": "The new token" });
  const done = h("button", { type: "button", class: "secondary" }, "I have copied it");
  done.addEventListener("click", () => {
    context.flash("Token created.");
    context.reload();
  });
  return h("section", { class: "panel" }, message, value, h("div", { class: "actions" }, done));
}

function tokenList(tokens, context) {
  if (!tokens.length) return h("p", { class: "muted" }, "No token yet.");
  const box = errorBox();
  const rows = tokens.map((token) => {
    const revoke = h("button", { type: "button", class: "danger" }, "Revoke");
    revoke.setAttribute("aria-label", `Revoke the token ${token.name}`);
    revoke.addEventListener("click", async () => {
      if (!window.confirm(`Revoke “${token.name}”? Scripts using it stop working at once.`)) return;
      const revoked = await busy(revoke, box, () => api.delete(`/users/me/tokens/${token.id}`));
      if (!revoked) return;
      context.flash("Token revoked.");
      context.reload();
    });
    return h(
      "tr",
      {},
      h("td", {}, token.name),
      h("td", {}, h("code", {}, `${token.display_prefix}…`)),
      h("td", {}, tags(token.scopes)),
      h("td", {}, when(token.created_at)),
      h("td", {}, token.last_used_at ? when(token.last_used_at) : "never"),
      h("td", {}, when(token.expires_at)),
      h("td", {}, revoke),
    );
  });
  return h(
    "div",
    {},
    box,
    table("My tokens", ["Name", "Token", "Scopes", "Created", "Last used", "Expires", "Action"], rows),
  );
}
