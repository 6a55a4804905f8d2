// Roles admin (manage_roles): every role with its permissions; create, change, delete.

import { api } from "../auth-session.js";
import { busy, errorBox, field, h, heading, load, tags } from "../dom.js";

function permissionChecks(legend, permissions, held) {
  return h(
    "fieldset",
    {},
    h("legend", {}, legend),
    h(
      "div",
      { class: "checks" },
      permissions.map((permission) =>
        h(
          "label",
          { title: permission.description },
          h("input", { type: "checkbox", name: "permissions", value: permission.name, checked: held.includes(permission.name) }),
          permission.name,
        ),
      ),
    ),
  );
}

export async function render(view, context) {
  const box = errorBox();
  view.append(heading("Roles"), box);
  const loaded = await load(box, () => Promise.all([api.get("/roles"), api.get("/permissions")]));
  if (!loaded) return;
  const [roles, permissions] = loaded;
  const done = (message) => {
    context.flash(message);
    context.reload();
  };
  view.append(
    h("p", { class: "hint" }, "Routes check permissions, never role names: what a role may do is data, changed here."),
    h("ul", { class: "cards", "aria-label": "Roles" }, roles.map((role) => roleCard(role, permissions, done))),
    createForm(permissions, done),
  );
}

function roleCard(role, permissions, done) {
  const box = errorBox();
  const save = h("button", { type: "submit" }, "Save permissions");
  const form = h("form", {}, permissionChecks(`Permissions of ${role.name}`, permissions, role.permissions), h("div", { class: "actions" }, save));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = new FormData(form).getAll("permissions");
    const saved = await busy(save, box, () => api.put(`/roles/${encodeURIComponent(role.name)}/permissions`, { permissions: chosen }));
    if (saved) done(`Permissions of ${role.name} saved.`);
  });
  const remove = h("button", { type: "button", class: "danger" }, "Delete role");
  remove.setAttribute("aria-label", `Delete role ${role.name}`);
  remove.addEventListener("click", async () => {
    if (!window.confirm(`Delete the role ${role.name}?`)) return;
    const deleted = await busy(remove, box, () => api.delete(`/roles/${encodeURIComponent(role.name)}`));
    if (deleted) done(`Role ${role.name} deleted.`);
  });
  return h(
    "li",
    { class: "card", "data-role": role.name },
    h("h2", {}, role.name),
    role.description ? h("p", { class: "meta" }, role.description) : null,
    tags(role.permissions, "no permission"),
    h("details", {}, h("summary", {}, `Change permissions of ${role.name}`), form),
    h("div", { class: "actions" }, remove),
    box,
  );
}

function createForm(permissions, done) {
  const box = errorBox();
  const name = h("input", { type: "text", name: "name", required: true, maxlength: 64, pattern: "[a-z][a-z0-9_\\-]*" });
  const description = h("input", { type: "text", name: "description", maxlength: 255 });
  const submit = h("button", { type: "submit" }, "Create role");
  const form = h(
    "form",
    { "aria-labelledby": "new-role-heading" },
    field("Name", name, "Lower case letters, digits, - and _; starts with a letter."),
    field("Description", description),
    permissionChecks("Permissions of the new role", permissions, []),
    box,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const json = {
      name: name.value.trim(),
      description: description.value.trim(),
      permissions: new FormData(form).getAll("permissions"),
    };
    if (await busy(submit, box, () => api.post("/roles", json))) done(`Role ${json.name} created.`);
  });
  return h("section", { class: "panel" }, h("h2", { id: "new-role-heading" }, "New role"), form);
}
