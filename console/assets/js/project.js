// The project picker of the per-project pages (fleets, UGC): it lists the
// tenant's projects and keeps the choice in the page's hash (?project=).
import { get, seg } from "./api.js";
import { h, field } from "./dom.js";

// projectPicker answers {el, value} after loading the tenant's projects;
// onChange(name) runs when the operator picks another one.
export async function projectPicker(ctx, onChange) {
  const names = (await get("/v1/tenants/" + seg(ctx.tenant) + "/projects")).projects.map((p) => p.name);
  const want = ctx.params.get("project");
  const value = names.includes(want) ? want : names[0] || "";
  const sel = h("select", { id: "project-select" }, names.map((n) => h("option", { value: n, text: n, selected: n === value })));
  sel.addEventListener("change", () => onChange(sel.value));
  return { el: field("Project", sel), value, empty: names.length === 0 };
}

// json renders a value as indented JSON text (never markup).
export function json(v) {
  return h("pre", { class: "json", text: JSON.stringify(v, null, 2) });
}

// denied turns a 403 into a message in root and answers true.
export function denied(e, root, what) {
  if (e && e.status === 403) {
    root.append(h("p", { class: "err denied", text: "This credential may not " + what + " (403: " + e.message + ")." }));
    return true;
  }
  return false;
}
