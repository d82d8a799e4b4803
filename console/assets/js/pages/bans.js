// Bans: the tenant's bans, active or all, with a player filter; ban and
// revoke.
import { get, seg } from "../api.js";
import { h, clear, pagedTable, field } from "../dom.js";
import { banForm, banColumns } from "./banform.js";

export async function render(ctx, root) {
  const active = h("input", { type: "checkbox", id: "bans-active", checked: true });
  const player = h("input", { type: "search", id: "bans-player", placeholder: "player id" });
  const list = h("div", { id: "bans-list" });
  const filters = h("form", { class: "row", role: "search" },
    field("Player", player), h("label", { class: "f" }, "Active only", active), h("button", { type: "submit", class: "secondary", text: "Apply" }));
  if (ctx.canAdmin) root.append(h("h2", { text: "New ban" }), banForm(ctx, { onDone: load }));
  root.append(h("h2", { text: "Bans" }), filters, list);

  async function load() {
    const q = new URLSearchParams();
    if (active.checked) q.set("active", "true");
    if (player.value.trim()) q.set("player_id", player.value.trim());
    const res = await get("/v1/tenants/" + seg(ctx.tenant) + "/bans?" + q);
    clear(list).append(pagedTable(banColumns(ctx, load), res.bans.slice().sort((a, b) => (a.created_at < b.created_at ? 1 : -1)), "No bans match."));
  }
  filters.addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  active.addEventListener("change", load);
  await load();
}
