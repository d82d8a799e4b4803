// Cluster (operators): Raft status, the gossip keyring, join tokens,
// replicated settings and the session signing key.
import { get, post, put, del, seg } from "../api.js";
import { h, clear, table, field, onSubmit, toast, confirmButton, secretBox, card, when, badge } from "../dom.js";

export async function render(ctx, root) {
  const raftBox = h("div"), ringBox = h("div"), joinBox = h("div"), setBox = h("div"), peerBox = h("div");
  root.append(h("h2", { text: "Raft" }), raftBox, h("h2", { text: "Gossip keyring" }), ringBox,
    h("h2", { text: "Join tokens" }), joinBox, h("h2", { text: "Settings" }), setBox,
    h("h2", { text: "Topic messaging peers" }), peerBox);
  await Promise.all([raft(raftBox), keyring(ringBox), joinTokens(joinBox), settings(setBox), peers(peerBox)]);
}

async function raft(box) {
  const [r, mem] = await Promise.all([get("/v1/cluster/raft"), get("/v1/members")]);
  const names = new Map(mem.members.map((m) => [m.id, m.name]));
  const name = (id) => names.get(id) || id;
  clear(box).append(h("div", { class: "cards" }, card("This node", r.state), card("Leader", r.leader_id ? name(r.leader_id) : "none"),
    card("Term", r.term), card("Applied index", r.applied_index), card("State hash", (r.state_hash || "").slice(0, 8))),
  h("p"), table([
    { title: "Member", cell: (s) => name(s.id) },
    { title: "Server id", cell: (s) => h("span", { class: "mono small", text: s.id }) },
    { title: "Address", cell: (s) => h("span", { class: "mono", text: s.address }) },
    { title: "Suffrage", cell: (s) => s.suffrage },
    { title: "Leader", cell: (s) => (s.leader ? badge("leader", "ok") : "") },
  ], r.servers),
  h("div", { class: "row" }, h("p"), confirmButton("Rotate session signing key", async () => {
    const k = await post("/v1/auth/keys/rotate");
    toast("New signing key " + k.kid);
  }, "secondary")));
}

async function keyring(box) {
  const draw = (ring) => {
    const key = h("input", { name: "key", id: "keyring-key", class: "mono", size: 46, required: true, placeholder: "base64 AES key (16, 24 or 32 bytes)" });
    const gen = h("button", { type: "button", class: "secondary", text: "Generate", onclick: () => {
      const b = new Uint8Array(32);
      crypto.getRandomValues(b);
      key.value = btoa(String.fromCharCode(...b));
    } });
    const form = onSubmit(h("form", { class: "row" }, field("Key", key), gen, h("button", { type: "submit", text: "Install" })), async () => {
      draw(await post("/v1/cluster/keyring", { action: "install", key: key.value.trim() }));
      toast("Key installed; make it primary once every node has it");
    });
    clear(box).append(table([
      { title: "Key id", cell: (id) => h("span", { class: "mono", text: id }) },
      { title: "", cell: (id) => (id === ring.primary ? badge("primary", "ok") : "") },
      { title: "", cell: (id) => (id === ring.primary ? "" : h("span", {},
        h("button", { type: "button", class: "secondary", text: "Use", onclick: async () => {
          try { draw(await post("/v1/cluster/keyring", { action: "use", key: id })); } catch (e) { toast(e.message, true); }
        } }), " ",
        confirmButton("Remove", async () => draw(await post("/v1/cluster/keyring", { action: "remove", key: id }))))) },
    ], ring.keys, "No gossip keys (encryption off)."), h("p"), form);
  };
  draw(await get("/v1/cluster/keyring"));
}

async function joinTokens(box) {
  const shown = h("div"), list = h("div");
  const form = onSubmit(h("form", { class: "row" },
    field("Valid for (hours)", h("input", { name: "ttl_hours", type: "number", min: 1, value: 24, required: true })),
    h("button", { type: "submit", text: "Create join token" })), async (fd) => {
    const t = await post("/v1/cluster/join-tokens", { ttl_seconds: Number(fd.get("ttl_hours")) * 3600 });
    clear(shown).append(secretBox("Join token " + t.id, t.token));
    await load();
  });
  clear(box).append(form, shown, list);
  async function load() {
    const toks = await get("/v1/cluster/join-tokens");
    clear(list).append(table([
      { title: "Id", cell: (t) => h("span", { class: "mono", text: t.id }) },
      { title: "Created", cell: (t) => when(t.created_at) },
      { title: "Expires", cell: (t) => when(t.expires_at) },
      { title: "", cell: (t) => confirmButton("Revoke", async () => { await del("/v1/cluster/join-tokens/" + seg(t.id)); toast("Revoked " + t.id); await load(); }) },
    ], toks || [], "No join tokens."));
  }
  await load();
}

async function settings(box) {
  const s = await get("/v1/cluster/settings");
  const form = onSubmit(h("form", { class: "row", id: "settings-form" },
    field("Audit entries kept", h("input", { name: "audit_retention", type: "number", min: 1, value: s.audit_retention })),
    field("Longest player session (seconds)", h("input", { name: "max_session_ttl_seconds", type: "number", min: 0, value: s.max_session_ttl_seconds || 0 })),
    h("button", { type: "submit", text: "Save settings" })), async (fd) => {
    await put("/v1/cluster/settings", { audit_retention: Number(fd.get("audit_retention")), max_session_ttl_seconds: Number(fd.get("max_session_ttl_seconds")) });
    toast("Settings saved");
  });
  clear(box).append(form);
}

async function peers(box) {
  const res = await get("/v1/pubsub/peers");
  clear(box).append(table([
    { title: "Member", cell: (p) => p.member || "—" },
    { title: "Peer id", cell: (p) => h("span", { class: "mono", text: p.peer_id }) },
    { title: "Status", cell: (p) => p.member_status || "—" },
    { title: "Connected", cell: (p) => (p.connected ? badge("yes", "ok") : badge("no", "bad")) },
  ], res.peers, "No peers."));
}
