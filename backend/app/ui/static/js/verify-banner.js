// The banner of a signed-in user whose address is not verified yet: the link is in their mail,
// and they can have it sent again.

import { busy, errorBox, h, notice } from "./dom.js";
import { postWithoutSession } from "./http.js";

/** The banner for this caller (GET /users/me), or null when their address is verified. */
export function verifyBanner(caller) {
  if (caller.email_verified !== false) return null;
  const box = errorBox();
  const result = notice();
  const again = h("button", { type: "button", class: "secondary" }, "Send the link again");
  again.addEventListener("click", async () => {
    let answer = null;
    const sent = await busy(again, box, async () => {
      answer = await postWithoutSession("/auth/request-verify-token", { email: caller.email });
    });
    if (sent) result.textContent = answer.detail;
  });
  return h(
    "section",
    { class: "banner", "aria-label": "Email verification" },
    h("p", {}, `Your address ${caller.email} is not verified yet: open the link in the mail we sent to it.`),
    h("div", { class: "actions" }, again),
    result,
    box,
  );
}
