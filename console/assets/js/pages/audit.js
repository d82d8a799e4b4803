// Audit log: the tenant's (or, for operators, the whole cluster's) audit
// entries, newest first, filtered by actor, action and text.
import { get, seg } from "../api.js";
import { h, clear, pagedTable, field } from "../dom.js";

export async function render(ctx, root) {
  const scope = h("select", { id: "audit-scope" },
    ctx.tenant && ctx.canRead ? h("option", { value: "tenant", text: "tenant " + ctx.tenant }) : null,
    ctx.isOp ? h("option", { value: "cluster", text: "whole cluster" }) : null);
  const actor = h("input", { type: "search", id: "audit-actor", placeholder: "operator:… or apikey:…" });
  const action = h("input", { type: "search", id: "audit-action", placeholder: "e.g. ban.create" });
  const text = h("input", { type: "search", id: "audit-text", placeholder: "target or detail" });
  const limit = h("select", { id: "audit-limit" }, ["100", "500", "1000"].map((v) => h("option", { value: v, text: v })));
  const list = h("div", { id: "audit-list" });
  const form = h("form", { class: "row", role: "search" }, field("Scope", scope), field("Actor", actor),
    field("Action", action), field("Text", text), field("Latest", limit), h("button", { type: "submit", text: "Apply" }));
  root.append(form, list);
  let entries = [];

  async function load() {
    const path = scope.value === "cluster" ? "/v1/audit" : "/v1/tenants/" + seg(ctx.tenant) + "/audit";
    entries = (await get(path + "?limit=" + limit.value)).entries.slice().sort((a, b) => b.index - a.index);
    draw();
  }
  function draw() {
    const a = actor.value.trim().toLowerCase(), act = action.value.trim().toLowerCase(), t = text.value.trim().toLowerCase();
    const shown = entries.filter((e) =>
      (!a || String(e.actor).toLowerCase().includes(a)) &&
      (!act || String(e.action).toLowerCase().includes(act)) &&
      (!t || (String(e.target) + " " + String(e.detail || "")).toLowerCase().includes(t)));
    clear(list).append(pagedTable([
      { title: "Index", cell: (e) => e.index },
      { title: "Time", cls: "nowrap", cell: (e) => new Date(e.time).toLocaleString() },
      { title: "Actor", cell: (e) => h("span", { class: "mono", text: e.actor }) },
      { title: "Action", cell: (e) => e.action },
      { title: "Tenant", cell: (e) => e.tenant || "—" },
      { title: "Target", cell: (e) => e.target || "—" },
      { title: "Detail", cell: (e) => e.detail || "" },
    ], shown, "No entries match."));
  }
  form.addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  for (const el of [actor, action, text]) el.addEventListener("input", draw);
  scope.addEventListener("change", load);
  await load();
}
