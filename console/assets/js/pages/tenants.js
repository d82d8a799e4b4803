// Tenants and projects: operators create and delete tenants; operators
// and tenant admins create projects.
import { get, post, del, seg } from "../api.js";
import { h, clear, table, field, onSubmit, toast, confirmButton, when } from "../dom.js";

export async function render(ctx, root) {
  if (ctx.isOp) await tenants(ctx, root);
  if (ctx.tenant) await projects(ctx, root);
}

async function tenants(ctx, root) {
  const list = h("div", { id: "tenants-list" });
  const form = onSubmit(h("form", { class: "row", id: "tenant-form" },
    field("Tenant name", h("input", { name: "name", required: true, pattern: "[a-z0-9][a-z0-9\\-]*" })),
    h("button", { type: "submit", text: "Create tenant" })), async (fd) => {
    const t = await post("/v1/tenants", { name: fd.get("name").trim() });
    toast("Created tenant " + t.name);
    form.reset();
    await ctx.reloadTenants();
    await load();
  });
  root.append(h("h2", { text: "Tenants" }), form, list);
  async function load() {
    const ts = (await get("/v1/tenants")).tenants;
    clear(list).append(table([
      { title: "Name", cell: (t) => t.name },
      { title: "Created", cell: (t) => when(t.created_at) },
      { title: "By", cell: (t) => h("span", { class: "mono", text: t.created_by || "" }) },
      { title: "", cell: (t) => confirmButton("Delete", async () => {
        await del("/v1/tenants/" + seg(t.name));
        toast("Deleted tenant " + t.name);
        await ctx.reloadTenants();
        await load();
      }) },
    ], ts, "No tenants yet: create one to start."));
  }
  await load();
}

async function projects(ctx, root) {
  const base = "/v1/tenants/" + seg(ctx.tenant) + "/projects";
  const list = h("div", { id: "projects-list" });
  const form = onSubmit(h("form", { class: "row", id: "project-form" },
    field("Project name", h("input", { name: "name", required: true })),
    h("button", { type: "submit", text: "Create project" })), async (fd) => {
    const p = await post(base, { name: fd.get("name").trim() });
    toast("Created project " + p.name);
    form.reset();
    await load();
  });
  root.append(h("h2", { text: "Projects of " + ctx.tenant }), ctx.canAdmin ? form : null, list);
  async function load() {
    const ps = (await get(base)).projects;
    clear(list).append(table([
      { title: "Name", cell: (p) => p.name },
      { title: "Created", cell: (p) => when(p.created_at) },
      { title: "By", cell: (p) => h("span", { class: "mono", text: p.created_by || "" }) },
    ], ps, "No projects."));
  }
  await load();
}
