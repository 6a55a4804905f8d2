// The table of a user's sessions (sign-ins), shown by two pages: My sessions and a user's page
// in the Users admin. It lives here so that no page imports another.

import { h, table, when } from "./dom.js";

/** `actionFor(session)`, when given, fills a last column (a sign-out button on My sessions). */
export function sessionTable(caption, sessions, actionFor) {
  const rows = sessions.map((item) =>
    h(
      "tr",
      {},
      h("td", {}, when(item.created_at), item.current ? [" ", h("span", { class: "badge" }, "this session")] : null),
      h("td", {}, when(item.last_used_at)),
      h("td", {}, item.ip || ""),
      h("td", { class: "wrap" }, item.user_agent || ""),
      h("td", {}, when(item.expires_at)),
      actionFor ? h("td", {}, actionFor(item)) : null,
    ),
  );
  const headers = ["Signed in", "Last used", "IP", "Browser", "Expires"];
  if (actionFor) headers.push("Action");
  return table(caption, headers, rows);
}
