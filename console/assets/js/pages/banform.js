// The ban form shared by the players and bans pages.
import { post, seg } from "../api.js";
import { h, field, onSubmit, toast } from "../dom.js";

const DURATIONS = [["3600", "1 hour"], ["86400", "1 day"], ["604800", "7 days"], ["2592000", "30 days"], ["0", "permanent"]];

export function banForm(ctx, { player = "", onDone }) {
  const form = h("form", { class: "row", id: "ban-form", "aria-label": "Ban a player" },
    field("Player id", h("input", { name: "player_id", id: "ban-player", required: true, value: player })),
    field("Reason", h("input", { name: "reason", id: "ban-reason", required: true, maxlength: 512 })),
    field("Duration", h("select", { name: "duration", id: "ban-duration" },
      DURATIONS.map(([v, t]) => h("option", { value: v, text: t })))),
    field("Project (optional)", h("input", { name: "project_id", id: "ban-project" })),
    h("button", { type: "submit", id: "ban-submit", text: "Ban player" }));
  return onSubmit(form, async (fd) => {
    const body = { player_id: fd.get("player_id").trim(), reason: fd.get("reason") };
    const d = Number(fd.get("duration"));
    if (d > 0) body.duration_seconds = d;
    if (fd.get("project_id").trim()) body.project_id = fd.get("project_id").trim();
    const ban = await post("/v1/tenants/" + seg(ctx.tenant) + "/bans", body);
    toast("Banned " + ban.player_id + " (" + ban.id + ")");
    form.querySelector("[name=reason]").value = "";
    if (onDone) await onDone(ban);
  });
}

export function banColumns(ctx, reload) {
  return [
    { title: "Player", cell: (b) => h("a", { href: "#/players?id=" + encodeURIComponent(b.player_id), text: b.player_id }) },
    { title: "Reason", cell: (b) => h("span", { class: "ban-reason", text: b.reason }) },
    { title: "Project", cell: (b) => b.project_id || "all" },
    { title: "Created", cls: "nowrap", cell: (b) => new Date(b.created_at).toLocaleString() },
    { title: "By", cell: (b) => h("span", { class: "mono small", text: b.created_by }) },
    { title: "Expires", cls: "nowrap", cell: (b) => (b.expires_at ? new Date(b.expires_at).toLocaleString() : "never") },
    { title: "State", cell: (b) => state(b) },
    { title: "", cell: (b) => (ctx.canAdmin && !b.revoked_at && !expired(b) ? revokeButton(ctx, b, reload) : "") },
  ];
}

function expired(b) { return b.expires_at && new Date(b.expires_at) < new Date(); }

function state(b) {
  if (b.revoked_at) return h("span", { class: "badge", text: "revoked" });
  if (expired(b)) return h("span", { class: "badge", text: "expired" });
  return h("span", { class: "badge bad", text: "active" });
}

function revokeButton(ctx, b, reload) {
  const btn = h("button", { type: "button", class: "danger", text: "Revoke" });
  btn.addEventListener("click", async () => {
    btn.disabled = true;
    try {
      await (await import("../api.js")).del("/v1/tenants/" + seg(ctx.tenant) + "/bans/" + seg(b.id));
      toast("Revoked " + b.id);
      await reload();
    } catch (e) { toast(e.message, true); btn.disabled = false; }
  });
  return btn;
}
