// Small DOM helpers. Text always goes in as text nodes, never through innerHTML, so whatever
// the API returns (a title, an email, a user agent) cannot inject markup into the page.

/** h("a", {href: "#/x", class: "button"}, "text", child, [more]) */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "class") {
      element.className = value;
    } else if (name === "value" || name === "checked" || name === "selected") {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, ...children);
  return element;
}

/** Adds children to an element, as text or nodes, skipping null, undefined and false (what a
 *  page puts where the caller may not see something). Element.append would write them out:
 *  a viewer would read "null" where an editor has buttons. */
export function append(element, ...children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(element, ...child);
    else element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** The page's heading: focused after each navigation, so screen readers announce the page. */
export function heading(text) {
  return h("h1", { tabindex: "-1" }, text);
}

/** An error box: hidden until showError fills it; role=alert makes it announced. */
export function errorBox() {
  return h("div", { class: "error", role: "alert", hidden: true });
}

/** Shows the API's own message (`detail`) and, for a 422, what was wrong with each field. */
export function showError(box, error) {
  const detail = (error && error.detail) || (error && error.message) || String(error);
  const items = ((error && error.errors) || [])
    .filter((item) => item && item.msg && item.msg !== detail)
    .map((item) => h("li", {}, `${fieldName(item.loc)}${item.msg}`));
  box.replaceChildren(h("p", { class: "error-detail" }, detail));
  if (items.length) box.append(h("ul", {}, items));
  box.hidden = false;
}

function fieldName(loc) {
  const parts = (loc || []).filter((part) => part !== "body" && part !== "query");
  return parts.length ? `${parts.join(".").replaceAll("_", " ")}: ` : "";
}

/** Where a page says what an action did ("The invitation is on its way."): announced when it
 *  changes, but not role=status, which the console's flash message already has. */
export function notice() {
  return h("p", { class: "notice", "aria-live": "polite" });
}

/** The token of the mailed link that opened the page (`#/reset-password?token=...`). When the
 *  address has none (a link cut short by a mail client), `box` says so and it is null. */
export function linkToken(context, box) {
  const token = context.query.get("token");
  if (!token) {
    showError(box, { detail: "This link is incomplete: open the whole link from the mail, or ask for a new one." });
  }
  return token || null;
}

/**
 * A page for a mailed link whose one step is a button (verify, confirm): opening the link
 * changes nothing, so a mail scanner that follows it cannot use the token up. `send(token)`
 * posts it; `done(result)` runs once it was accepted.
 */
export function mailedLinkPage(view, context, { title, label, explanation, send, done }) {
  const box = errorBox();
  view.append(heading(title));
  const token = linkToken(context, box);
  if (!token) {
    view.append(box);
    return;
  }
  const button = h("button", { type: "button" }, label);
  button.addEventListener("click", async () => {
    let result = null;
    const sent = await busy(button, box, async () => {
      result = await send(token);
    });
    if (sent) done(result);
  });
  view.append(explanation, h("div", { class: "actions" }, button), box);
}

export function clearError(box) {
  box.hidden = true;
  box.replaceChildren();
}

/** A labelled field: the label names the control, so every input has an accessible name. */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  let hintNode = null;
  if (hint) {
    hintNode = h("span", { class: "hint", id: `${id}-hint` }, hint);
    control.setAttribute("aria-describedby", hintNode.id);
  }
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintNode);
}

/** The input of a new password, with the policy's default bounds for the browser to check
 * first (PASSWORD_MIN_LENGTH, 8, to 128 characters); the API checks the policy itself. */
export function newPasswordInput(name) {
  return h("input", {
    type: "password",
    name,
    autocomplete: "new-password",
    required: true,
    minlength: 8,
    maxlength: 128,
  });
}

/** Runs an action for a form or button: disables it meanwhile and shows a refusal in `box`.
 *  Resolves to true when the action succeeded, false when it threw (its error is then shown).
 *  A boolean, not the action's result: a DELETE answers 204, null, and would read as a failure.
 *  An action whose result is needed keeps it itself. */
export async function busy(control, box, action) {
  if (box) clearError(box);
  control.disabled = true;
  control.setAttribute("aria-busy", "true");
  try {
    await action();
    return true;
  } catch (error) {
    if (box) showError(box, error);
    return false;
  } finally {
    control.disabled = false;
    control.removeAttribute("aria-busy");
  }
}

/** Loads what a page shows: resolves to what `read` resolves to, or to null when it throws, its
 *  error then shown in `box` (the page stops there). For reads, whose answers are never null. */
export async function load(box, read) {
  try {
    return await read();
  } catch (error) {
    showError(box, error);
    return null;
  }
}

export function formValues(form) {
  return Object.fromEntries(new FormData(form).entries());
}

const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return h("time", { datetime: iso }, Number.isNaN(date.getTime()) ? iso : DATE_TIME.format(date));
}

export function tags(names, empty = "none") {
  if (!names || !names.length) return h("span", { class: "muted" }, empty);
  return h("ul", { class: "tags" }, names.map((name) => h("li", { class: "tag" }, name)));
}

export function table(caption, headers, rows) {
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, rows),
    ),
  );
}

/** "Previous / 21–40 articles / Next" as links, so paging is part of the address and history.
 * The API says whether more follow (has_more), not how many there are: no "of N". */
export function pager(page, hrefFor, noun) {
  const { items, limit, offset, has_more: hasMore } = page;
  if (!items.length && offset === 0) return null;
  const first = offset + 1;
  const last = offset + items.length;
  const previous = offset > 0 ? h("a", { href: hrefFor(Math.max(0, offset - limit)), rel: "prev" }, "← Previous") : null;
  const next = hasMore ? h("a", { href: hrefFor(offset + limit), rel: "next" }, "Next →") : null;
  return h(
    "nav",
    { class: "pager", "aria-label": `Pages of ${noun}` },
    previous,
    items.length ? h("span", {}, `${first}–${last} ${noun}`) : null,
    next,
  );
}

/** A hash address with its query, dropping empty values. */
export function hashWith(path, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "" && value !== 0) params.set(key, String(value));
  }
  const text = params.toString();
  return `#${path}${text ? `?${text}` : ""}`;
}

export function offsetOf(query) {
  const value = Number.parseInt(query.get("offset") || "0", 10);
  return Number.isFinite(value) && value > 0 ? value : 0;
}
