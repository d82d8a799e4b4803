// Fleets: a project's fleets, one fleet's spec (env values redacted by
// the API) and status, and one fleet server: power actions, its process
// (CPU, memory) and a live tail of its output.
import { get, post, seg } from "../api.js";
import { h, clear, table, badge, chips, card, toast, confirmButton, when, num, bytes } from "../dom.js";
import { projectPicker, json, denied } from "../project.js";

const stateKind = (s) => (s === "ready" ? "ok" : s === "unhealthy" ? "bad" : s === "draining" || s === "starting" ? "warn" : "");

export async function render(ctx, root) {
  const server = ctx.params.get("server");
  if (server) return serverDetail(ctx, root, server);
  const pick = await projectPicker(ctx, (p) => ctx.navigate("#/fleets?project=" + encodeURIComponent(p)));
  if (pick.empty) { root.append(h("p", { class: "muted", text: "This tenant has no projects yet (Tenants & projects)." })); return; }
  root.append(h("div", { class: "row" }, pick.el));
  const fleet = ctx.params.get("fleet");
  const base = "/v1/tenants/" + seg(ctx.tenant) + "/projects/" + seg(pick.value) + "/fleets";
  try {
    if (fleet) await fleetDetail(ctx, root, base, pick.value, fleet);
    else await fleetList(ctx, root, base, pick.value);
  } catch (e) {
    if (!denied(e, root, "read fleets")) throw e;
  }
}

async function fleetList(ctx, root, base, project) {
  const list = h("div", { id: "fleets-list" });
  root.append(list);
  const fleets = (await get(base)).fleets;
  list.append(table([
    { title: "Fleet", cell: (f) => h("a", { class: "fleet-link", href: "#/fleets?project=" + encodeURIComponent(project) + "&fleet=" + encodeURIComponent(f.name), text: f.name }) },
    { title: "Command", cls: "nowrap", cell: (f) => h("span", { class: "mono", text: (f.spec.command || [])[0] || "" }) },
    { title: "Servers", cell: (f) => f.status.servers + " (buffer wants " + f.status.want + ")" },
    { title: "By state", cell: (f) => chips(f.status.by_state) },
    { title: "Node errors", cell: (f) => ((f.status.errors || []).length ? badge(String(f.status.errors.length), "bad") : "—") },
    { title: "Updated", cell: (f) => when(f.updated_at) },
  ], fleets, "No fleets in this project. Create one with PUT " + base + "/{fleet} (docs/fleets.md)."));
}

async function fleetDetail(ctx, root, base, project, name) {
  const f = await get(base + "/" + seg(name));
  const st = f.status;
  root.append(
    h("p", {}, h("a", { href: "#/fleets?project=" + encodeURIComponent(project), text: "← all fleets" })),
    h("h2", { class: "fleet-name", text: "Fleet " + f.name }),
    h("div", { class: "cards" }, card("Servers", String(st.servers)), card("Buffer wants", String(st.want)),
      card("Max servers", String(f.spec.max_servers)), card("Version", String(f.version))),
    h("h2", { text: "Servers by state and node" }),
    table([
      { title: "Node", cell: (r) => r[0] },
      { title: "States", cell: (r) => chips(r[1]) },
    ], Object.entries(st.by_node || {}), "No servers placed yet."),
    h("p", { class: "small muted", text: "Eligible nodes: " + ((st.eligible_nodes || []).join(", ") || "none") +
      " · fleets disabled on: " + ((st.disabled_nodes || []).join(", ") || "none") }),
    h("h2", { text: "Per-node errors" }),
    table([
      { title: "Node", cell: (e) => e.node },
      { title: "Kind", cell: (e) => badge(e.kind, "bad") },
      { title: "Error", cell: (e) => h("span", { class: "mono node-error", text: e.error }) },
      { title: "At", cell: (e) => when(e.at) },
    ], st.errors || [], "No node reported a start error."));
  const servers = h("div", { id: "fleet-servers" });
  root.append(h("h2", { text: "Servers" }), servers);
  const res = await get("/v1/tenants/" + seg(ctx.tenant) + "/servers");
  const mine = res.servers.filter((g) => g.fleet === f.name && g.project_id === project);
  servers.append(table([
    { title: "Server", cls: "nowrap", cell: (g) => h("a", { class: "mono server-link", href: "#/fleets?" + new URLSearchParams({ project, fleet: f.name, server: g.id }), text: g.id }) },
    { title: "State", cell: (g) => badge(g.state, stateKind(g.state)) },
    { title: "Node", cell: (g) => g.node },
    { title: "Players", cell: (g) => g.player_count + " / " + g.capacity },
    { title: "Address", cls: "nowrap", cell: (g) => h("span", { class: "mono", text: g.address }) },
  ], mine, "No servers yet."));
  root.append(h("h2", { text: "Spec (env values are redacted by the API)" }), json(f.spec));
}

async function serverDetail(ctx, root, id) {
  const sbase = "/v1/tenants/" + seg(ctx.tenant) + "/servers/" + seg(id);
  const stats = h("div", { class: "cards", id: "proc-stats" });
  const procNote = h("p", { class: "small muted", id: "proc-note" });
  const tail = h("div", { class: "tail", id: "server-logs", role: "log", "aria-live": "off" });
  const stateText = h("span", { id: "logs-state", class: "small muted", text: "connecting…" });
  const back = ctx.params.get("fleet") ? "#/fleets?" + new URLSearchParams({ project: ctx.params.get("project") || "", fleet: ctx.params.get("fleet") }) : "#/fleets";
  root.append(h("p", {}, h("a", { href: back, text: ctx.params.get("fleet") ? "← fleet " + ctx.params.get("fleet") : "← fleets" })), h("h2", { class: "mono", text: id }));
  if (ctx.canAdmin) {
    const power = (action) => async () => {
      const r = await post(sbase + "/power", { action });
      toast(action + " sent to " + r.id + " on " + r.node);
      await proc();
    };
    root.append(h("div", { class: "row power", id: "power" },
      h("button", { type: "button", class: "secondary", id: "power-start", text: "Start", onclick: () => power("start")().catch((e) => toast(e.message, true)) }),
      h("button", { type: "button", class: "secondary", id: "power-restart", text: "Restart", onclick: () => power("restart")().catch((e) => toast(e.message, true)) }),
      confirmButton("Stop", power("stop")),
      confirmButton("Kill", power("kill"))));
  }
  root.append(h("h2", { text: "Process" }), stats, procNote, h("h2", {}, "Console ", stateText), tail);

  async function proc() {
    let p;
    try { p = await get(sbase + "/process"); } catch (e) {
      procNote.textContent = e.status === 403 ? "This credential may not read the process (403)." : "No process: " + e.message;
      return;
    }
    const start = document.getElementById("power-start");
    if (start) start.disabled = p.state === "running" || p.state === "starting";
    clear(stats).append(card("State", p.state), card("CPU", num(p.cpu_percent) + " %"), card("Memory", bytes(p.memory_bytes)),
      card("PID", String(p.pid)), card("Restarts", String(p.restarts)), card("Node", p.node));
    procNote.textContent = "Started " + when(p.started_at) + " · ports " + (Object.entries(p.ports || {}).map(([k, v]) => k + "=" + v).join(", ") || "none") +
      " · cgroup limits " + (p.limited ? "apply" : "do not apply" + (p.limit_error ? " (" + p.limit_error + ")" : "")) +
      (p.last_exit ? " · last exit " + p.last_exit : "") + (p.error ? " · " + p.error : "");
  }
  await proc();
  const timer = setInterval(() => proc().catch(() => {}), 2000);

  let es = null;
  if (ctx.canAdmin) {
    const line = (l) => {
      const el = h("div", { class: "log-line " + (l.stream === "stderr" ? "stderr" : "") },
        h("span", { class: "muted", text: (l.time ? new Date(l.time).toLocaleTimeString() : "") + " " }), h("span", { class: "log-text", text: l.text }));
      const atEnd = tail.scrollTop + tail.clientHeight >= tail.scrollHeight - 4;
      tail.append(el);
      while (tail.childElementCount > 1000) tail.firstElementChild.remove();
      if (atEnd) tail.scrollTop = tail.scrollHeight;
    };
    // The stream has new lines only: open it first, then show the
    // recent lines and skip what the stream repeats of them.
    let backlog = null;
    const early = [];
    const key = (l) => l.time + "|" + l.stream + "|" + l.text;
    es = new EventSource(sbase + "/logs?follow=1");
    es.onopen = () => { stateText.textContent = "live"; };
    es.addEventListener("line", (ev) => {
      let l;
      try { l = JSON.parse(ev.data); } catch { return; }
      if (backlog === null) { early.push(l); return; }
      if (backlog.size && backlog.has(key(l))) return;
      backlog.clear();
      line(l);
    });
    es.addEventListener("end", () => { stateText.textContent = "ended (the process is gone)"; es.close(); });
    get(sbase + "/logs?lines=200").then((r) => r.lines, () => []).then((ls) => {
      backlog = new Set(ls.map(key));
      ls.forEach(line);
      for (const l of early) if (!backlog.has(key(l))) line(l);
    });
    es.onerror = () => { stateText.textContent = "reconnecting…"; };
  } else {
    stateText.textContent = "(logs need a tenant-admin key or an operator token)";
  }
  return () => { clearInterval(timer); if (es) es.close(); };
}
