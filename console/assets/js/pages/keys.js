// Keys and tokens: the tenant's API keys and (for operators) operator
// tokens. A new secret is shown once; revoking takes effect on every node.
import { get, post, del, seg } from "../api.js";
import { h, clear, table, field, onSubmit, toast, confirmButton, secretBox, when } from "../dom.js";

export async function render(ctx, root) {
  if (ctx.tenant) await tenantKeys(ctx, root);
  if (ctx.isOp) await operatorTokens(ctx, root);
}

async function tenantKeys(ctx, root) {
  const base = "/v1/tenants/" + seg(ctx.tenant) + "/keys";
  const shown = h("div");
  const list = h("div", { id: "keys-list" });
  const form = onSubmit(h("form", { class: "row", id: "key-form" },
    field("Name", h("input", { name: "name", required: true })),
    field("Role", h("select", { name: "role" }, ["read-only", "game-server", "tenant-admin"].map((r) => h("option", { value: r, text: r })))),
    field("Project (optional)", h("input", { name: "project_id" })),
    field("Expires after (hours, optional)", h("input", { name: "ttl_hours", type: "number", min: 1 })),
    h("button", { type: "submit", text: "Create key" })), async (fd) => {
    const body = { name: fd.get("name"), role: fd.get("role") };
    if (fd.get("project_id").trim()) body.project_id = fd.get("project_id").trim();
    if (fd.get("ttl_hours")) body.ttl_seconds = Number(fd.get("ttl_hours")) * 3600;
    const k = await post(base, body);
    clear(shown).append(secretBox("API key " + k.name + " (" + k.id + ")", k.key));
    form.reset();
    await load();
  });
  root.append(h("h2", { text: "API keys of " + ctx.tenant }), form, shown, list);
  async function load() {
    const keys = (await get(base)).keys;
    clear(list).append(table([
      { title: "Id", cell: (k) => h("span", { class: "mono", text: k.id }) },
      { title: "Name", cell: (k) => k.name },
      { title: "Role", cell: (k) => k.role },
      { title: "Project", cell: (k) => k.project_id || "all" },
      { title: "Created", cell: (k) => when(k.created_at) },
      { title: "Expires", cell: (k) => (k.expires_at ? when(k.expires_at) : "never") },
      { title: "Last used", cell: (k) => (k.last_used_at ? when(k.last_used_at) : "never") },
      { title: "", cell: (k) => (k.id === ctx.who.id ? h("span", { class: "small muted", text: "this session" }) :
        confirmButton("Revoke", async () => { await del(base + "/" + seg(k.id)); toast("Revoked " + k.id); await load(); })) },
    ], keys, "No API keys."));
  }
  await load();
}

async function operatorTokens(ctx, root) {
  const base = "/v1/auth/operator-tokens";
  const shown = h("div");
  const list = h("div", { id: "tokens-list" });
  const form = onSubmit(h("form", { class: "row", id: "token-form" },
    field("Name", h("input", { name: "name", required: true })),
    field("Expires after (hours, optional)", h("input", { name: "ttl_hours", type: "number", min: 1 })),
    h("button", { type: "submit", text: "Create operator token" })), async (fd) => {
    const body = { name: fd.get("name") };
    if (fd.get("ttl_hours")) body.ttl_seconds = Number(fd.get("ttl_hours")) * 3600;
    const t = await post(base, body);
    clear(shown).append(secretBox("Operator token " + t.name + " (" + t.id + ")", t.token));
    form.reset();
    await load();
  });
  root.append(h("h2", { text: "Operator tokens" }), form, shown, list);
  async function load() {
    const toks = (await get(base)).tokens;
    clear(list).append(table([
      { title: "Id", cell: (t) => h("span", { class: "mono", text: t.id }) },
      { title: "Name", cell: (t) => t.name },
      { title: "Created", cell: (t) => when(t.created_at) },
      { title: "Expires", cell: (t) => (t.expires_at ? when(t.expires_at) : "never") },
      { title: "", cell: (t) => (t.id === ctx.who.id ? h("span", { class: "small muted", text: "this session" }) :
        confirmButton("Revoke", async () => { await del(base + "/" + seg(t.id)); toast("Revoked " + t.id); await load(); })) },
    ], toks, "No operator tokens."));
  }
  await load();
}
