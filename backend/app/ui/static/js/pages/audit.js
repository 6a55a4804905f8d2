// Audit log (read_audit): GET /audit-events with its filters, newest first.

import { api } from "../auth-session.js";
import { append, errorBox, field, h, hashWith, heading, load, offsetOf, pager, table, when } from "../dom.js";

const PAGE_SIZE = 25;
// The `event` values the API accepts (app/audit_log/writer.py: Event).
const EVENTS = [
  "user_registered",
  "user_created",
  "login_succeeded",
  "login_failed",
  "refresh_token_reused",
  "logout",
  "logout_all",
  "session_revoked",
  "password_changed",
  "user_updated",
  "user_deactivated",
  "user_deleted",
  "role_created",
  "role_permissions_changed",
  "role_deleted",
  "lockout_lifted",
  "permission_denied",
  "password_reset_requested",
  "password_reset_sent",
  "password_reset",
  "email_verification_sent",
  "email_verified",
  "email_change_requested",
  "email_changed",
  "user_invited",
  "invitation_accepted",
  "mfa_enrollment_started",
  "mfa_enabled",
  "mfa_disabled",
  "mfa_reset",
  "recovery_codes_regenerated",
];

/** A datetime-local value ("2026-11-25T14:30") is local time: send it as UTC. */
function toUtc(local) {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? local : date.toISOString();
}

function userLink(id, context) {
  if (id === null || id === undefined) return "";
  return context.can("read_user") ? h("a", { href: `#/users/${id}` }, `#${id}`) : `#${id}`;
}

export async function render(view, context) {
  const query = context.query;
  const filters = {
    event: query.get("event") || "",
    user_id: query.get("user_id") || "",
    since: query.get("since") || "",
    until: query.get("until") || "",
  };
  const offset = offsetOf(query);
  const box = errorBox();

  const event = h("select", { name: "event" }, h("option", { value: "" }, "Any event"), EVENTS.map((name) => h("option", { value: name }, name)));
  event.value = filters.event;
  const userId = h("input", { type: "number", name: "user_id", min: 1, value: filters.user_id, inputmode: "numeric" });
  const since = h("input", { type: "datetime-local", name: "since", value: filters.since });
  const until = h("input", { type: "datetime-local", name: "until", value: filters.until });
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter audit events" },
    field("Event", event),
    field("User id (actor or subject)", userId),
    field("From", since),
    field("Before", until),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Filter"), h("a", { href: "#/audit" }, "Clear")),
  );
  form.addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    context.go(hashWith("/audit", { event: event.value, user_id: userId.value, since: since.value, until: until.value }));
  });
  view.append(heading("Audit log"), form, box);

  const page = await load(box, () =>
    api.get("/audit-events", {
      event: filters.event,
      user_id: filters.user_id,
      since: toUtc(filters.since),
      until: toUtc(filters.until),
      limit: PAGE_SIZE,
      offset,
    }),
  );
  if (!page) return;
  if (!page.items.length) {
    view.append(h("p", { class: "muted" }, "No event matches."));
    return;
  }
  const rows = page.items.map((item) =>
    h(
      "tr",
      {},
      h("td", {}, when(item.occurred_at)),
      h("td", {}, h("code", {}, item.event)),
      h("td", {}, userLink(item.actor_user_id, context)),
      h("td", {}, userLink(item.subject_user_id, context)),
      h("td", {}, item.ip || ""),
      h("td", { class: "wrap" }, Object.keys(item.details).length ? h("code", {}, JSON.stringify(item.details)) : ""),
    ),
  );
  append(
    view,
    table("Audit events", ["When", "Event", "Actor", "Subject", "IP", "Details"], rows),
    pager(page, (next) => hashWith("/audit", { ...filters, offset: next }), "events"),
  );
}
