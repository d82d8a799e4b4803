// Plugins: the tenant's Wasm plugins with their manifests (hooks, RPCs),
// sha256 and fail_open, a JSON config editor, upload of a .wasm module
// and delete. Manifest texts come from the module: shown as text.
import { get, put, del, seg } from "../api.js";
import { h, clear, table, badge, field, toast, confirmButton, when, bytes, onSubmit } from "../dom.js";
import { denied } from "../project.js";

const MAX_MODULE = 8 << 20;

export async function render(ctx, root) {
  const base = "/v1/tenants/" + seg(ctx.tenant) + "/plugins";
  const listBox = h("div", { id: "plugins-list" });
  const editor = h("div", { id: "plugin-editor" });
  const file = h("input", { type: "file", name: "module", id: "plugin-file", accept: ".wasm,application/wasm", required: true });
  const form = onSubmit(h("form", { id: "plugin-form", class: "row panel" },
    field("Name", h("input", { name: "name", id: "plugin-name", required: true, pattern: "[a-z0-9][a-z0-9\\-]*", maxlength: 63 })),
    field("Module (.wasm, ≤ 8 MiB)", file),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "fail_open", id: "plugin-fail-open" }), " fail open"),
    h("button", { type: "submit", id: "plugin-upload", text: "Upload" })), async (fd) => {
    const f = file.files[0];
    if (!f) { toast("Choose a .wasm file.", true); return; }
    if (f.size > MAX_MODULE) { toast("The module is larger than 8 MiB.", true); return; }
    const name = fd.get("name").trim();
    const q = fd.get("fail_open") ? "?fail_open=true" : "";
    const pl = await put(base + "/" + seg(name) + q, f, { contentType: "application/wasm" });
    toast("Installed " + pl.name + " (sha256 " + pl.sha256.slice(0, 12) + "…)");
    form.reset();
    await load();
  });
  root.append(form, listBox, editor);

  function manifest(pl) {
    const m = pl.manifest || {};
    return [
      h("div", { class: "small" }, h("span", { class: "plugin-manifest-name", text: (m.name || "?") + " " + (m.version || "") })),
      h("div", {}, (m.hooks || []).map((x) => h("span", { class: "chip hook", text: x }))),
      h("div", {}, (m.rpcs || []).map((x) => h("span", { class: "chip rpc", text: "rpc " + x }))),
    ];
  }
  function edit(pl) {
    const ta = h("textarea", { id: "plugin-config", rows: 10, spellcheck: "false", class: "mono" });
    ta.value = JSON.stringify(pl.config || {}, null, 2);
    const msg = h("p", { class: "err", role: "alert" });
    const f = onSubmit(h("form", { id: "plugin-config-form", class: "panel" },
      h("h2", {}, "Config of ", h("span", { class: "mono", text: pl.name })),
      h("p", { class: "small muted", text: "A JSON object of at most 64 KiB; every node's instances get it (docs/addons.md)." }),
      ta, msg,
      h("div", { class: "row" }, h("button", { type: "submit", id: "plugin-config-save", text: "Save config" }),
        h("button", { type: "button", class: "secondary", text: "Close", onclick: () => clear(editor) }))), async () => {
      msg.textContent = "";
      let v;
      try { v = JSON.parse(ta.value); } catch (e) { msg.textContent = "Not JSON: " + e.message; return; }
      if (v === null || typeof v !== "object" || Array.isArray(v)) { msg.textContent = "The config must be a JSON object."; return; }
      await put(base + "/" + seg(pl.name) + "/config", v);
      toast("Saved the config of " + pl.name);
      await load();
    });
    clear(editor).append(f);
    ta.focus();
  }
  async function load() {
    const ps = (await get(base)).plugins;
    clear(listBox).append(table([
      { title: "Plugin", cell: (pl) => h("span", { class: "mono", text: pl.name }) },
      { title: "Manifest", cell: manifest },
      { title: "sha256", cell: (pl) => h("span", { class: "mono small", title: pl.sha256, text: pl.sha256.slice(0, 16) + "…" }) },
      { title: "Size", cell: (pl) => bytes(pl.size) },
      { title: "Fail open", cell: (pl) => badge(pl.fail_open ? "fail open" : "fail closed", pl.fail_open ? "warn" : "") },
      { title: "Updated", cell: (pl) => [when(pl.updated_at), h("div", { class: "small muted", text: pl.updated_by || "" })] },
      { title: "", cls: "nowrap", cell: (pl) => [
        h("button", { type: "button", class: "secondary plugin-edit", text: "Config", onclick: () => edit(pl) }), " ",
        confirmButton("Delete", async () => { await del(base + "/" + seg(pl.name)); toast("Deleted " + pl.name); clear(editor); await load(); })] },
    ], ps, "No plugins. Upload a wasip1 module (docs/addons.md)."));
  }
  try {
    await load();
  } catch (e) {
    if (!denied(e, root, "manage plugins (tenant-admin keys and operators only)")) throw e;
    form.remove();
  }
}
