// Servers: the tenant's game servers on every node; filter, paginate,
// drain.
import { get, post, seg } from "../api.js";
import { h, clear, table, badge, chips, field, toast, confirmButton } from "../dom.js";

const PAGE = 25;

export async function render(ctx, root) {
  const q = h("input", { type: "search", id: "server-filter", placeholder: "id, label, node, address" });
  const state = h("select", { id: "server-state" }, ["", "starting", "ready", "allocated", "draining", "shutdown"].map((s) =>
    h("option", { value: s, text: s || "any state" })));
  const list = h("div");
  const note = h("p", { class: "small muted" });
  let page = 0;
  let servers = [];
  root.append(h("div", { class: "row" }, field("Filter", q), field("State", state)), note, list);

  function matches(g) {
    const needle = q.value.trim().toLowerCase();
    if (state.value && g.state !== state.value) return false;
    if (!needle) return true;
    const hay = [g.id, g.node, g.address, g.project_id, ...Object.entries(g.labels || {}).map(([k, v]) => k + "=" + v)];
    return hay.some((s) => String(s || "").toLowerCase().includes(needle));
  }

  function draw() {
    const shown = servers.filter(matches);
    const pages = Math.max(1, Math.ceil(shown.length / PAGE));
    page = Math.min(page, pages - 1);
    const rows = shown.slice(page * PAGE, page * PAGE + PAGE);
    clear(list).append(table([
      { title: "Server", cls: "nowrap", cell: (g) => (g.fleet && ctx.canRead
        ? h("a", { class: "mono", title: "fleet " + g.fleet, href: "#/fleets?" + new URLSearchParams({ project: g.project_id || "", fleet: g.fleet, server: g.id }), text: g.id })
        : h("span", { class: "mono", text: g.id })) },
      { title: "State", cell: (g) => badge(g.state, g.state === "ready" ? "ok" : g.state === "draining" ? "warn" : "") },
      { title: "Health", cell: (g) => badge(g.healthy ? "healthy" : "unhealthy", g.healthy ? "ok" : "bad") },
      { title: "Players", cell: (g) => g.player_count + " / " + g.capacity },
      { title: "Labels", cls: "labels", cell: (g) => chips(g.labels) },
      { title: "Node", cell: (g) => g.node },
      { title: "Address", cls: "nowrap", cell: (g) => h("span", { class: "mono", text: g.address }) },
      { title: "", cell: (g) => (ctx.canAdmin ? confirmButton("Drain", async () => {
        await post("/v1/tenants/" + seg(ctx.tenant) + "/servers/" + seg(g.id) + "/drain");
        toast("Drain requested for " + g.id);
        await load();
      }, "secondary") : "") },
    ], rows, "No game servers are registered in this tenant."),
    h("div", { class: "pager" },
      h("button", { type: "button", class: "secondary", disabled: page === 0, text: "Previous", onclick: () => { page--; draw(); } }),
      h("span", { text: "Page " + (page + 1) + " of " + pages + " · " + shown.length + " servers" }),
      h("button", { type: "button", class: "secondary", disabled: page >= pages - 1, text: "Next", onclick: () => { page++; draw(); } })));
  }

  async function load() {
    const res = await get("/v1/tenants/" + seg(ctx.tenant) + "/servers");
    servers = res.servers;
    note.textContent = res.unreachable.length ? "Not answering, so missing here: " + res.unreachable.join(", ") : "";
    draw();
  }
  q.addEventListener("input", () => { page = 0; draw(); });
  state.addEventListener("change", () => { page = 0; draw(); });
  await load();
  const timer = setInterval(() => load().catch(() => {}), 15000);
  return () => clearInterval(timer);
}
