// Webhooks: the tenant's webhooks, creating one (its signing secret is
// shown once), enabling and disabling, and a webhook's deliveries with
// redeliver. URLs, descriptions and error texts are shown as text.
import { get, post, request, del, seg } from "../api.js";
import { h, clear, table, badge, field, toast, confirmButton, secretBox, when, onSubmit } from "../dom.js";
import { denied } from "../project.js";

export async function render(ctx, root) {
  const base = "/v1/tenants/" + seg(ctx.tenant) + "/webhooks";
  const id = ctx.params.get("webhook");
  try {
    if (id) await deliveries(ctx, root, base, id);
    else await list(ctx, root, base);
  } catch (e) {
    if (!denied(e, root, "manage webhooks (tenant-admin keys and operators only)")) throw e;
  }
}

async function list(ctx, root, base) {
  const res = await get(base);
  const shown = h("div", { id: "webhook-secret" });
  const listBox = h("div", { id: "webhooks-list" });
  const events = h("fieldset", { class: "events" }, h("legend", { text: "Events" }),
    res.event_types.map((t) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "events", value: t }), " " + t)));
  const form = onSubmit(h("form", { id: "webhook-form", class: "panel" },
    h("div", { class: "row" },
      field("Receiver URL", h("input", { name: "url", id: "webhook-url", type: "url", required: true, size: 40, placeholder: "https://hooks.example.com/cass" })),
      field("Description", h("input", { name: "description", id: "webhook-description", maxlength: 200 }))),
    events,
    h("button", { type: "submit", id: "webhook-create", text: "Create webhook" })), async (fd) => {
    const body = { url: fd.get("url").trim(), events: fd.getAll("events"), description: fd.get("description").trim() };
    if (!body.events.length) { toast("Pick at least one event type.", true); return; }
    const w = await post(base, body);
    const box = secretBox("Signing secret of " + w.id, w.secret);
    box.append(h("div", { class: "small warn-text", text: "Receivers check X-Cass-Signature with it (docs/webhooks.md). Anyone with it can forge deliveries." }));
    clear(shown).append(box);
    form.reset();
    await load();
  });
  root.append(form, shown, listBox);
  async function load(data) {
    const ws = (data || (await get(base))).webhooks;
    clear(listBox).append(table([
      { title: "Webhook", cell: (w) => h("a", { class: "mono", href: "#/webhooks?webhook=" + encodeURIComponent(w.id), text: w.id }) },
      { title: "URL", cell: (w) => h("span", { class: "mono webhook-url", text: w.url }) },
      { title: "Description", cell: (w) => h("span", { class: "webhook-desc", text: w.description || "" }) },
      { title: "Events", cls: "events", cell: (w) => (w.events || []).map((e) => h("span", { class: "chip", text: e })) },
      { title: "State", cell: (w) => [badge(w.enabled ? "enabled" : "disabled", w.enabled ? "ok" : "bad"),
        w.disabled_reason ? h("div", { class: "small muted", text: w.disabled_reason }) : null] },
      { title: "Deliveries", cell: (w) => [h("div", { text: w.delivered + " delivered" }),
        h("div", { class: "small muted", text: w.pending + " pending · " + w.failures + " failures" })] },
      { title: "", cls: "actions", cell: (w) => [
        h("button", { type: "button", class: "secondary webhook-toggle", text: w.enabled ? "Disable" : "Enable", onclick: async () => {
          try { await request("PATCH", base + "/" + seg(w.id), { enabled: !w.enabled }); toast((w.enabled ? "Disabled " : "Enabled ") + w.id); await load(); } catch (e) { toast(e.message, true); }
        } }), " ",
        confirmButton("Delete", async () => { await del(base + "/" + seg(w.id)); toast("Deleted " + w.id); await load(); })] },
    ], ws, "No webhooks."));
  }
  await load(res);
}

async function deliveries(ctx, root, base, id) {
  const box = h("div", { id: "webhook-deliveries" });
  root.append(h("p", {}, h("a", { href: "#/webhooks", text: "← all webhooks" })), h("h2", { class: "mono", text: id }), box);
  async function load() {
    const w = await get(base + "/" + seg(id));
    const d = await get(base + "/" + seg(id) + "/deliveries");
    clear(box).append(
      h("p", {}, h("span", { class: "mono", text: w.url }), " ", badge(w.enabled ? "enabled" : "disabled", w.enabled ? "ok" : "bad"),
        h("span", { class: "small muted", text: " · pending " + d.pending + " · dropped " + d.dropped + " · expired " + d.expired })),
      h("h2", { text: "Next attempts" }),
      table([
        { title: "Event", cell: (p) => h("span", { class: "mono", text: p.event_id }) },
        { title: "Type", cell: (p) => p.event_type },
        { title: "Attempts", cell: (p) => String(p.attempts) },
        { title: "Next attempt", cell: (p) => when(p.next_attempt_at) },
      ], d.next || [], "Nothing pending."),
      h("h2", { text: "Recent attempts" }),
      table([
        { title: "At", cell: (a) => when(a.at) },
        { title: "Event", cell: (a) => [h("span", { class: "mono", text: a.event_id }), a.event_type ? h("div", { class: "small muted", text: a.event_type }) : null] },
        { title: "Attempt", cell: (a) => String(a.attempt) },
        { title: "Status", cell: (a) => badge(a.delivered ? "delivered " + (a.status_code || "") : a.status_code ? "HTTP " + a.status_code : "failed", a.delivered ? "ok" : "bad") },
        { title: "Latency", cell: (a) => a.latency_ms + " ms" },
        { title: "Error", cell: (a) => h("span", { class: "mono small delivery-error", text: a.error || "" }) },
        { title: "", cell: (a) => h("button", { type: "button", class: "secondary redeliver", text: "Redeliver", onclick: async () => {
          try { await post(base + "/" + seg(id) + "/deliveries/" + seg(a.event_id) + "/redeliver"); toast("Redelivery of " + a.event_id + " queued"); await load(); } catch (e) { toast(e.message, true); }
        } }) },
      ], d.attempts || [], "No attempts yet."));
  }
  await load();
  const timer = setInterval(() => load().catch(() => {}), 5000);
  return () => clearInterval(timer);
}
