// Players: look one player up: the ban check, their bans, ban them,
// revoke bans, revoke their sessions.
import { get, del, seg } from "../api.js";
import { h, clear, pagedTable, field, badge, toast, confirmButton } from "../dom.js";
import { banForm, banColumns } from "./banform.js";

export async function render(ctx, root) {
  const input = h("input", { type: "search", id: "player-id", name: "player", required: true, value: ctx.params.get("id") || "" });
  const form = h("form", { class: "row", role: "search" }, field("Player id", input), h("button", { type: "submit", text: "Look up" }));
  const out = h("div", { id: "player-result" });
  root.append(form, out);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    ctx.navigate("#/players?id=" + encodeURIComponent(input.value.trim()));
  });
  const player = input.value.trim();
  if (!player) {
    out.append(h("p", { class: "muted", text: "Type a player id to see their ban status and history." }));
    return;
  }
  await show(ctx, out, player);
}

async function show(ctx, out, player) {
  const base = "/v1/tenants/" + seg(ctx.tenant);
  const reload = () => show(ctx, out, player);
  const check = await get(base + "/players/" + seg(player) + "/ban");
  const bans = ctx.canRead ? (await get(base + "/bans?player_id=" + encodeURIComponent(player))).bans : null;
  clear(out).append(
    h("div", { class: "cards" },
      h("div", { class: "card" }, h("div", { class: "k", text: "Player" }), h("div", { class: "v", text: player })),
      h("div", { class: "card" }, h("div", { class: "k", text: "Ban check" }),
        h("div", { class: "v" }, check.banned ? badge("banned", "bad") : badge("not banned", "ok")))));
  if (ctx.canAdmin) {
    out.append(h("h2", { text: "Ban this player" }), banForm(ctx, { player, onDone: reload }),
      h("h2", { text: "Sessions" }),
      h("p", { class: "small muted", text: "The API does not list sessions (they are signed tokens, never stored). Revoking ends every session this player holds in the tenant, on every node." }),
      confirmButton("Revoke all sessions", async () => {
        await del(base + "/players/" + seg(player) + "/sessions");
        toast("Revoked the sessions of " + player);
      }));
  }
  if (bans) out.append(h("h2", { text: "Bans" }), pagedTable(banColumns(ctx, reload), bans, "No bans for this player."));
}
