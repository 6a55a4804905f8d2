// Articles: the list (paged), one article, and the form to create or edit one. The buttons
// appear only where the caller may act: Edit and Delete on their own articles with
// update_article / delete_article, on anyone's with update_any_article / delete_any_article
// too. The API refuses the others anyway (403 not_owner).

import { api } from "../auth-session.js";
import { append, busy, errorBox, field, h, hashWith, heading, load, offsetOf, pager, when } from "../dom.js";

const PAGE_SIZE = 10;

function byline(article) {
  const author = article.author ? article.author.full_name || `user ${article.author.id}` : "a deleted account";
  return h("p", { class: "meta" }, `By ${author} · `, when(article.created_at));
}

function excerpt(text) {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 160 ? `${flat.slice(0, 159)}…` : flat;
}

function deleteButton(article, context, box, onDeleted) {
  const button = h("button", { type: "button", class: "danger" }, "Delete");
  button.setAttribute("aria-label", `Delete “${article.title}”`);
  button.addEventListener("click", async () => {
    if (!window.confirm(`Delete the article “${article.title}”? This cannot be undone.`)) return;
    const deleted = await busy(button, box, () => api.delete(`/articles/${article.id}`));
    if (deleted) onDeleted();
  });
  return button;
}

export async function list(view, context) {
  const offset = offsetOf(context.query);
  const box = errorBox();
  append(
    view,
    heading("Articles"),
    context.can("create_article")
      ? h("div", { class: "actions" }, h("a", { class: "button", href: "#/articles/new" }, "New article"))
      : null,
    box,
  );
  const page = await load(box, () => api.get("/articles", { limit: PAGE_SIZE, offset }));
  if (!page) return;
  if (!page.items.length) {
    view.append(h("p", { class: "muted" }, offset ? "No more articles." : "No articles yet."));
  }
  const items = page.items.map((article) =>
    h(
      "li",
      { class: "card" },
      h("h2", {}, h("a", { href: `#/articles/${article.id}` }, article.title)),
      byline(article),
      article.body ? h("p", { class: "excerpt" }, excerpt(article.body)) : null,
      actions(article, context, box, () => {
        context.flash("Article deleted.");
        context.reload();
      }),
    ),
  );
  append(
    view,
    h("ul", { class: "cards", "aria-label": "Articles" }, items),
    pager(page, (next) => hashWith("/articles", { offset: next }), "articles"),
  );
}

function actions(article, context, box, onDeleted) {
  const author = article.author ? article.author.id : null; // null: a deleted account, nobody's own
  const edit = context.canActOn(author, "update_article", "update_any_article")
    ? h("a", { class: "button secondary", href: `#/articles/${article.id}/edit`, "aria-label": `Edit “${article.title}”` }, "Edit")
    : null;
  const remove = context.canActOn(author, "delete_article", "delete_any_article")
    ? deleteButton(article, context, box, onDeleted)
    : null;
  return edit || remove ? h("div", { class: "actions" }, edit, remove) : null;
}

export async function read(view, context) {
  const box = errorBox();
  const title = heading("Article");
  view.append(title, box);
  const article = await load(box, () => api.get(`/articles/${context.params.id}`));
  if (!article) return;
  title.textContent = article.title;
  document.title = `${article.title} · py-auth console`;
  append(
    view,
    byline(article),
    article.updated_at !== article.created_at ? h("p", { class: "meta" }, "Updated ", when(article.updated_at)) : null,
    h("div", { class: "article-body" }, article.body || h("span", { class: "muted" }, "(no text)")),
    actions(article, context, box, () => {
      context.flash("Article deleted.");
      context.go("#/articles");
    }),
    h("p", {}, h("a", { href: "#/articles" }, "← All articles")),
  );
}

export async function edit(view, context) {
  const id = context.params.id;
  const box = errorBox();
  view.append(heading(id ? "Edit article" : "New article"));
  const title = h("input", { type: "text", name: "title", required: true, maxlength: 200 });
  const body = h("textarea", { name: "body", maxlength: 50000, rows: 12 });
  if (id) {
    const article = await load(box, () => api.get(`/articles/${id}`));
    if (!article) {
      view.append(box); // no form to hold the box: it goes under the heading
      return;
    }
    title.value = article.title;
    body.value = article.body;
  }
  const submit = h("button", { type: "submit" }, id ? "Save changes" : "Create article");
  const cancel = h("a", { class: "button secondary", href: id ? `#/articles/${id}` : "#/articles" }, "Cancel");
  const form = h(
    "form",
    { "aria-label": id ? "Edit article" : "New article" },
    field("Title", title),
    field("Text", body),
    box,
    h("div", { class: "actions" }, submit, cancel),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const json = { title: title.value, body: body.value };
    let saved; // busy() says only whether it worked: the new article's id comes from here
    const ok = await busy(submit, box, async () => {
      saved = await (id ? api.patch(`/articles/${id}`, json) : api.post("/articles", json));
    });
    if (ok) {
      context.flash(id ? "Article saved." : "Article created.");
      context.go(`#/articles/${saved.id}`);
    }
  });
  view.append(form);
}
