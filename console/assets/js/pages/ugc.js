// UGC moderation: a project's items with filters (state, visibility,
// text), one item's versions and reports count, and the moderation
// actions (approve, reject with a reason, hide). Titles, descriptions,
// reasons and file names are typed by players: text only.
import { get, post, seg } from "../api.js";
import { h, clear, table, badge, field, toast, when, bytes, onSubmit } from "../dom.js";
import { projectPicker, denied } from "../project.js";

const kind = (s) => (s === "approved" ? "ok" : s === "rejected" || s === "hidden" ? "bad" : s === "pending" ? "warn" : "");

export async function render(ctx, root) {
  const pick = await projectPicker(ctx, (p) => ctx.navigate("#/ugc?project=" + encodeURIComponent(p)));
  if (pick.empty) { root.append(h("p", { class: "muted", text: "This tenant has no projects yet (Tenants & projects)." })); return; }
  const base = "/v1/tenants/" + seg(ctx.tenant) + "/projects/" + seg(pick.value) + "/ugc/items";
  const item = ctx.params.get("item");
  try {
    if (item) await itemDetail(ctx, root, base, pick.value, item);
    else await itemList(ctx, root, base, pick);
  } catch (e) {
    if (!denied(e, root, "read this project's UGC")) throw e;
  }
}

async function itemList(ctx, root, base, pick) {
  const p = ctx.params;
  const state = h("select", { name: "state", id: "ugc-state" }, ["", "draft", "pending", "approved", "rejected", "hidden"].map((s) =>
    h("option", { value: s, text: s || "any state", selected: s === (p.get("state") || "") })));
  const vis = h("select", { name: "visibility", id: "ugc-visibility" }, ["", "public", "unlisted", "private"].map((s) =>
    h("option", { value: s, text: s || "any visibility", selected: s === (p.get("visibility") || "") })));
  const q = h("input", { type: "search", name: "q", id: "ugc-q", value: p.get("q") || "", placeholder: "title, description" });
  const form = onSubmit(h("form", { class: "row", id: "ugc-filter" }, pick.el, field("State", state), field("Visibility", vis), field("Search", q),
    h("button", { type: "submit", text: "Filter" })), async () => {
    const qs = new URLSearchParams({ project: pick.value });
    for (const [k, el] of [["state", state], ["visibility", vis], ["q", q]]) if (el.value.trim()) qs.set(k, el.value.trim());
    ctx.navigate("#/ugc?" + qs);
  });
  const list = h("div", { id: "ugc-list" });
  root.append(form, list);
  const api = new URLSearchParams({ limit: "50" });
  for (const k of ["state", "visibility", "q"]) if (p.get(k)) api.set(k, p.get(k));
  let cursor = "";
  const more = h("button", { type: "button", class: "secondary", id: "ugc-more", text: "More", hidden: true });
  const rows = [];
  const draw = () => clear(list).append(table([
    { title: "Title", cell: (it) => h("a", { class: "ugc-title", href: "#/ugc?project=" + encodeURIComponent(pick.value) + "&item=" + encodeURIComponent(it.id), text: it.title || it.id }) },
    { title: "Owner", cell: (it) => h("span", { class: "mono", text: it.owner }) },
    { title: "State", cell: (it) => badge(it.state, kind(it.state)) },
    { title: "Visibility", cell: (it) => it.visibility },
    { title: "Reports", cell: (it) => (it.reports ? badge(String(it.reports), "bad") : "0") },
    { title: "Downloads", cell: (it) => String(it.downloads) },
    { title: "Updated", cell: (it) => when(it.updated_at) },
  ], rows, "No items match."), more);
  async function load() {
    if (cursor) api.set("cursor", cursor);
    const res = await get(base + "?" + api);
    rows.push(...res.items);
    cursor = res.next_cursor || "";
    more.hidden = !cursor;
    draw();
  }
  more.addEventListener("click", () => load().catch((e) => toast(e.message, true)));
  await load();
}

async function itemDetail(ctx, root, base, project, id) {
  const box = h("div", { id: "ugc-item" });
  root.append(h("p", {}, h("a", { href: "#/ugc?project=" + encodeURIComponent(project), text: "← all items" })), box);
  async function load() {
    const it = await get(base + "/" + seg(id));
    const vs = (await get(base + "/" + seg(id) + "/versions")).versions;
    clear(box).append(
      h("h2", { class: "ugc-item-title", text: it.title || it.id }),
      h("p", { class: "ugc-desc", text: it.description || "" }),
      h("div", { class: "row" }, badge(it.state, kind(it.state)), badge(it.visibility), badge(it.reports + (it.reports === 1 ? " report" : " reports"), it.reports ? "bad" : ""),
        h("span", { class: "small muted", text: "owner " + it.owner + " · " + it.downloads + " downloads · id " + it.id })),
      it.reason ? h("p", {}, "Moderation reason: ", h("span", { class: "ugc-reason", text: it.reason })) : null,
      h("div", {}, (it.tags || []).map((t) => h("span", { class: "chip", text: t })),
        Object.entries(it.metadata || {}).map(([k, v]) => h("span", { class: "chip", text: k + "=" + v }))),
      ctx.canAdmin ? moderation(it) : null,
      h("h2", { text: "Versions" }),
      table([
        { title: "#", cell: (v) => String(v.seq) },
        { title: "File", cell: (v) => h("span", { class: "mono", text: v.filename }) },
        { title: "Type", cell: (v) => v.content_type },
        { title: "Size", cell: (v) => bytes(v.size) },
        { title: "State", cell: (v) => badge(v.state, v.state === "published" ? "ok" : v.state === "rejected" ? "bad" : "") },
        { title: "Live", cell: (v) => (v.id === it.live_version ? badge("live", "ok") : "") },
        { title: "sha256", cell: (v) => h("span", { class: "mono small", text: (v.sha256 || "").slice(0, 16) + "…" }) },
        { title: "Created", cell: (v) => when(v.created_at) },
        { title: "Reason", cell: (v) => v.reason || "" },
      ], vs, "No versions uploaded."));
  }
  function moderation(it) {
    const reason = h("input", { id: "ugc-reason-input", name: "reason", maxlength: 500, placeholder: "shown to the owner" });
    const act = (action) => async () => {
      if (action === "reject" && !reason.value.trim()) { toast("A rejection needs a reason.", true); reason.focus(); return; }
      const body = { action };
      if (reason.value.trim()) body.reason = reason.value.trim();
      await post(base + "/" + seg(it.id) + "/moderation", body);
      toast(action + " recorded for " + it.id);
      await load();
    };
    const btn = (label, action, cls) => h("button", { type: "button", class: cls, id: "ugc-" + action, text: label,
      onclick: () => act(action)().catch((e) => toast(e.message, true)) });
    return h("div", { class: "panel", id: "ugc-moderation" }, h("strong", { text: "Moderation" }),
      h("div", { class: "row" }, field("Reason (required to reject)", reason),
        btn("Approve", "approve", ""), btn("Reject", "reject", "danger"), btn("Hide", "hide", "secondary")));
  }
  await load();
}
