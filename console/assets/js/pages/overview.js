// Overview: health, leader, members with Raft roles, node load, and the
// last hour of requests/s, writes/s, players and allocations/s, merged
// from every node's /v1/metrics/history.
import { get } from "../api.js";
import { h, clear, table, card, badge, num, bytes } from "../dom.js";
import { lineChart } from "../chart.js";

const CHARTS = [
  { key: "requests_per_s", title: "Requests/s" },
  { key: "writes_per_s", title: "Writes/s" },
  { key: "players", title: "Players online" },
  { key: "allocations_per_s", title: "Allocations/s", optional: true },
];

export async function render(ctx, root) {
  const cards = h("div", { class: "cards" });
  const charts = h("div", { class: "charts", id: "charts" });
  const load = h("div");
  const members = h("div");
  root.append(cards, h("h2", { text: "Last hour" }), charts,
    h("h2", { text: "Node load" }), load);
  if (ctx.isOp) root.append(h("h2", { text: "Members" }), members);

  const history = new Map(); // node -> samples
  let since = 0;
  let unreachable = [];

  async function refreshHistory() {
    const hist = await get("/v1/metrics/history?since=" + since);
    unreachable = hist.unreachable;
    for (const n of hist.nodes) {
      const old = history.get(n.node) || [];
      const merged = old.concat(n.samples);
      const cut = Date.now() / 1000 - 3600;
      history.set(n.node, merged.filter((s) => s.t >= cut));
      for (const s of n.samples) since = Math.max(since, s.t);
    }
    drawCharts();
    drawLoad();
  }

  function drawCharts() {
    clear(charts);
    const nodes = [...history.keys()].sort();
    for (const c of CHARTS) {
      const series = nodes.map((n) => ({
        name: n, points: history.get(n).filter((s) => s[c.key] !== undefined).map((s) => [s.t, s[c.key]]),
      }));
      const any = series.some((s) => s.points.length);
      if (c.optional && !any) continue;
      const total = series.reduce((a, s) => a + (s.points.length ? s.points[s.points.length - 1][1] : 0), 0);
      charts.append(h("figure", { class: "chart", "data-chart": c.key },
        h("h3", {}, h("span", { text: c.title }), h("span", { class: "muted", text: "now " + num(total) + " (cluster)" })),
        lineChart(series),
        h("figcaption", { class: "legend" }, series.map((s, i) =>
          h("span", {}, h("span", { class: "swatch s" + (i % 6) }), s.name)))));
    }
  }

  function drawLoad() {
    const rows = [...history.entries()].sort().map(([node, samples]) => ({ node, s: samples[samples.length - 1] || {} }));
    for (const u of unreachable) rows.push({ node: u, s: null });
    clear(load).append(table([
      { title: "Node", cell: (r) => r.node },
      { title: "CPU (cores)", cell: (r) => (r.s ? num(r.s.cpu_cores, 2) : badge("unreachable", "bad")) },
      { title: "Heap", cell: (r) => (r.s ? bytes(r.s.heap_bytes) : "—") },
      { title: "Goroutines", cell: (r) => (r.s ? num(r.s.goroutines, 0) : "—") },
      { title: "Requests/s", cell: (r) => (r.s ? num(r.s.requests_per_s) : "—") },
      { title: "Game servers", cell: (r) => (r.s ? num(r.s.game_servers, 0) : "—") },
      { title: "Players", cell: (r) => (r.s ? num(r.s.players, 0) : "—") },
    ], rows, "No samples yet: each node samples every few seconds."));
  }

  async function refreshStatus() {
    const [health, raft, mem] = await Promise.all([get("/v1/health"),
      ctx.isOp ? get("/v1/cluster/raft?stale") : null, ctx.isOp ? get("/v1/members") : null]);
    const list = [card("Node", health.node), card("Health", health.status)];
    if (ctx.isOp) {
      const leader = mem.members.find((m) => m.id === raft.leader_id);
      const alive = mem.members.filter((m) => m.status === "alive").length;
      list.push(card("Leader", leader ? leader.name : raft.leader_id || "none"),
        card("Term", raft.term), card("Commit index", raft.commit_index),
        card("Members alive", alive + " / " + mem.members.length));
      clear(members).append(table([
        { title: "Name", cell: (m) => m.name },
        { title: "Status", cell: (m) => badge(m.status, m.status === "alive" ? "ok" : "bad") },
        { title: "Raft role", cell: (m) => badge(m.raft_role, m.raft_role === "leader" ? "ok" : "") },
        { title: "Version", cell: (m) => m.version },
        { title: "REST", cell: (m) => h("span", { class: "mono", text: m.addresses.http || "" }) },
      ], mem.members));
    }
    clear(cards).append(...list);
  }

  await Promise.all([refreshStatus(), refreshHistory()]);
  const timer = setInterval(() => {
    refreshStatus().catch(() => {});
    refreshHistory().catch(() => {});
  }, 10000);
  return () => clearInterval(timer);
}
