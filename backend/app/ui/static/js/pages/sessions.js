// My sessions: every live sign-in of mine; sign out one, or everywhere.

import { api, signOut } from "../auth-session.js";
import { busy, errorBox, h, heading, load } from "../dom.js";
import { sessionTable } from "../session-table.js";

export async function render(view, context) {
  const box = errorBox();
  view.append(
    heading("My sessions"),
    h("p", { class: "hint" }, "Each sign-in is a session, in this browser or elsewhere. Signing one out ends it at once."),
    box,
  );
  const listed = await load(box, () => api.get("/auth/sessions"));
  if (!listed) return;
  const sessions = listed.items;

  const endHere = async (message) => {
    await signOut();
    context.flash(message);
    context.go("#/signin");
  };

  const signOutOne = (item) => {
    const button = h("button", { type: "button", class: "secondary" }, "Sign out");
    button.setAttribute("aria-label", item.current ? "Sign out this session" : `Sign out the session from ${item.ip || "an unknown address"}`);
    button.addEventListener("click", async () => {
      const ended = await busy(button, box, () => api.delete(`/auth/sessions/${item.id}`));
      if (!ended) return;
      if (item.current) await endHere("You are signed out.");
      else {
        context.flash("Session signed out.");
        context.reload();
      }
    });
    return button;
  };

  const everywhere = h("button", { type: "button", class: "danger" }, "Sign out everywhere");
  everywhere.addEventListener("click", async () => {
    if (!window.confirm("Sign out every session, this one included?")) return;
    const ended = await busy(everywhere, box, () => api.post("/auth/logout-all"));
    if (ended) await endHere("You are signed out everywhere.");
  });

  view.append(
    sessions.length ? sessionTable("My sessions", sessions, signOutOne) : h("p", { class: "muted" }, "No active session."),
    h("div", { class: "actions" }, everywhere),
  );
}
