// The console shell: login, the header and navigation, the tenant picker
// and the router. Each page is one module under pages/, loaded on demand;
// it gets a context and a root element and may return a cleanup function.
import { get, post, setCSRF, setUnauthorizedHandler, APIError } from "./api.js";
import { h, clear, toast } from "./dom.js";

const PAGES = [
  { id: "overview", title: "Overview", show: () => true },
  { id: "servers", title: "Servers", show: (c) => c.tenant },
  { id: "fleets", title: "Fleets", show: (c) => c.tenant && c.canRead },
  { id: "players", title: "Players", show: (c) => c.tenant },
  { id: "bans", title: "Bans", show: (c) => c.tenant && c.canRead },
  { id: "ugc", title: "UGC moderation", show: (c) => c.tenant && c.canRead },
  { id: "audit", title: "Audit log", show: (c) => c.isOp || c.canRead },
  { id: "topics", title: "Topics", show: (c) => c.tenant && c.canSessions },
  { id: "webhooks", title: "Webhooks", show: (c) => c.tenant && c.canAdmin },
  { id: "plugins", title: "Plugins", show: (c) => c.tenant && c.canAdmin },
  { id: "keys", title: "Keys & tokens", show: (c) => c.isOp || c.canAdmin },
  { id: "cluster", title: "Cluster", show: (c) => c.isOp },
  { id: "tenants", title: "Tenants & projects", show: (c) => c.isOp || c.canAdmin },
];

const view = document.getElementById("view");
const nav = document.getElementById("nav");
const top = document.getElementById("top");
let ctx = null;
let cleanup = null;

setUnauthorizedHandler(() => {
  if (ctx) { ctx = null; toast("Your session has ended; log in again.", true); showLogin(); }
});

function makeContext(s, tenants) {
  const p = s.principal;
  const isOp = p.kind === "operator";
  const role = p.role || "";
  const c = {
    who: p, node: s.node, isOp, tenants,
    canAdmin: isOp || role === "tenant-admin",
    canRead: isOp || role === "tenant-admin" || role === "read-only",
    canSessions: isOp || role === "tenant-admin" || role === "game-server",
    tenant: isOp ? pickTenant(tenants) : p.tenant,
  };
  return c;
}

function pickTenant(tenants) {
  const saved = localStorage.getItem("cass.tenant");
  if (saved && tenants.includes(saved)) return saved;
  return tenants[0] || "";
}

async function boot() {
  let s;
  try {
    s = await get("/ui/session");
  } catch (e) {
    clear(view).append(h("p", { class: "err", text: "The node did not answer: " + e.message }));
    return;
  }
  if (!s.logged_in) { showLogin(); return; }
  await start(s);
}

async function start(s) {
  setCSRF(s.csrf_token);
  let tenants = [];
  if (s.principal.kind === "operator") {
    try { tenants = (await get("/v1/tenants?stale")).tenants.map((t) => t.name); } catch (e) { toast(e.message, true); }
  }
  ctx = makeContext(s, tenants);
  ctx.reloadTenants = async () => {
    ctx.tenants = (await get("/v1/tenants?stale")).tenants.map((t) => t.name);
    if (!ctx.tenants.includes(ctx.tenant)) ctx.tenant = ctx.tenants[0] || "";
    renderShell();
  };
  renderShell();
  route();
}

function renderShell() {
  top.hidden = false;
  nav.hidden = false;
  const p = ctx.who;
  document.getElementById("who").textContent =
    (p.kind === "operator" ? "operator " + p.id : p.role + " key " + p.id + " · " + p.tenant) + " · node " + ctx.node;
  const pick = document.getElementById("tenant-pick");
  const sel = document.getElementById("tenant-select");
  pick.hidden = !ctx.isOp || ctx.tenants.length === 0;
  clear(sel).append(...ctx.tenants.map((t) => h("option", { value: t, text: t, selected: t === ctx.tenant })));
  sel.onchange = () => { ctx.tenant = sel.value; localStorage.setItem("cass.tenant", sel.value); renderShell(); route(); };
  clear(nav).append(...PAGES.filter((pg) => pg.show(ctx)).map((pg) => h("a", { href: "#/" + pg.id, "data-page": pg.id, text: pg.title })));
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [name, query] = raw.split("?");
  return { name: name || "overview", params: new URLSearchParams(query || "") };
}

async function route() {
  if (!ctx) return;
  if (cleanup) { try { cleanup(); } catch { /* page already gone */ } cleanup = null; }
  const { name, params } = parseHash();
  const page = PAGES.find((p) => p.id === name && p.show(ctx)) || PAGES[0];
  for (const a of nav.querySelectorAll("a")) {
    if (a.dataset.page === page.id) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  document.title = page.title + " · CassandraNet";
  const root = clear(view);
  root.append(h("h1", { text: page.title }));
  const body = h("div", { class: "page", "data-page": page.id });
  root.append(body);
  try {
    const mod = await import("./pages/" + page.id + ".js");
    const c = await mod.render({ ...ctx, params, navigate }, body);
    if (typeof c === "function") cleanup = c;
    body.setAttribute("data-ready", "true");
    performance.mark("ready:" + page.id);
    if (document.activeElement === document.body || nav.contains(document.activeElement)) {
      view.focus({ preventScroll: true }); // keyboard users land on the page they opened
    }
  } catch (e) {
    if (e instanceof APIError && e.status === 401) return;
    body.append(h("p", { class: "err", text: "Could not load this page: " + e.message }));
    body.setAttribute("data-ready", "error");
  }
}

function navigate(hash) {
  if (location.hash === hash) route(); else location.hash = hash;
}

function showLogin() {
  if (cleanup) { try { cleanup(); } catch { /* ignore */ } cleanup = null; }
  top.hidden = true;
  nav.hidden = true;
  setCSRF("");
  const input = h("input", { id: "credential", type: "password", name: "credential", autocomplete: "off",
    required: true, placeholder: "cnop_… or cnk_…", "aria-describedby": "cred-help" });
  const msg = h("p", { class: "err", role: "alert" });
  const form = h("form", { class: "login", id: "login-form" },
    h("h1", { text: "CassandraNet console" }),
    h("label", { for: "credential", text: "Operator token or tenant API key" }),
    input,
    h("p", { id: "cred-help", class: "small muted",
      text: "Paste it once. This node keeps it in memory for the session and the browser gets an HttpOnly cookie; the console can do exactly what this credential can do through the REST API." }),
    msg,
    h("button", { type: "submit", text: "Log in" }));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    msg.textContent = "";
    try {
      const s = await post("/ui/login", { credential: input.value }, { noRedirect: true });
      input.value = "";
      await start(s);
    } catch (e) {
      msg.textContent = e.message;
    }
  });
  clear(view).append(form);
  document.title = "Log in · CassandraNet";
  input.focus();
}

document.getElementById("logout").addEventListener("click", async () => {
  try { await post("/ui/logout", undefined, { noRedirect: true }); } catch (e) { toast(e.message, true); }
  ctx = null;
  showLogin();
});

window.addEventListener("hashchange", route);
boot();
