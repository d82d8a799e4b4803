// DOM helpers. Every value from the API goes in as text (textContent or
// text nodes); nothing here ever parses markup.

// h builds an element. attrs: "class", "text", "on<event>" handlers, and
// anything else as an attribute. Children are nodes or strings (text).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = String(v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// table renders rows as a table. cols: [{title, cell(row) -> node|string}].
export function table(cols, rows, empty = "Nothing here yet.") {
  const head = h("tr", {}, cols.map((c) => h("th", { scope: "col", text: c.title })));
  const body = rows.length
    ? rows.map((r) => h("tr", {}, cols.map((c) => h("td", { class: c.cls }, c.cell(r)))))
    : [h("tr", {}, h("td", { class: "empty", colspan: cols.length, text: empty }))];
  return h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, head), h("tbody", {}, body)));
}

export function card(k, v) {
  return h("div", { class: "card" }, h("div", { class: "k", text: k }), h("div", { class: "v", text: v }));
}

export function field(label, input) {
  return h("label", { class: "f" }, label, input);
}

export function badge(text, kind = "") {
  return h("span", { class: "badge " + kind, text });
}

export function chips(obj) {
  const entries = Object.entries(obj || {});
  if (!entries.length) return h("span", { class: "muted", text: "—" });
  return entries.map(([k, v]) => h("span", { class: "chip", text: k + "=" + v }));
}

export function when(iso) {
  if (!iso || iso.startsWith("0001-")) return "—";
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString();
}

export function num(v, digits = 1) {
  if (v === undefined || v === null || isNaN(v)) return "—";
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString();
  return Number(v).toFixed(digits).replace(/\.0+$/, "");
}

export function bytes(v) {
  if (!v) return "0 B";
  const u = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return v.toFixed(i ? 1 : 0) + " " + u[i];
}

// toast shows a short status message (announced by the live region).
export function toast(msg, bad = false) {
  const box = document.getElementById("status");
  const el = h("div", { class: bad ? "bad" : "", text: msg });
  box.append(el);
  setTimeout(() => el.remove(), bad ? 8000 : 4000);
}

// confirmButton needs two presses within 4 s: the first arms it.
export function confirmButton(label, action, cls = "danger") {
  let armed = null;
  const b = h("button", { type: "button", class: cls, text: label });
  b.addEventListener("click", async () => {
    if (!armed) {
      b.textContent = "Confirm " + label.toLowerCase();
      b.classList.add("armed");
      armed = setTimeout(() => { armed = null; b.textContent = label; b.classList.remove("armed"); }, 4000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    b.disabled = true;
    try { await action(); } catch (e) { toast(e.message, true); b.disabled = false; b.textContent = label; b.classList.remove("armed"); }
  });
  return b;
}

// secretBox shows a secret once, with a copy button.
export function secretBox(title, secret) {
  const code = h("code", { class: "mono", text: secret });
  const copy = h("button", { type: "button", class: "secondary", text: "Copy",
    onclick: () => navigator.clipboard && navigator.clipboard.writeText(secret).then(() => toast("Copied")) });
  return h("div", { class: "secret", role: "alert" },
    h("strong", { text: title }), code,
    h("div", { class: "small muted", text: "It is shown once and never again: store it now." }), copy);
}

// formAction wires a form's submit to an async action with error display.
export function onSubmit(form, action) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const btn = form.querySelector("button[type=submit]");
    if (btn) btn.disabled = true;
    try { await action(new FormData(form)); } catch (e) { toast(e.message, true); } finally { if (btn) btn.disabled = false; }
  });
  return form;
}

// pagedTable is table() with Previous/Next under it, per rows of size.
export function pagedTable(cols, rows, empty, size = 25) {
  const box = h("div");
  let page = 0;
  const pages = Math.max(1, Math.ceil(rows.length / size));
  const draw = () => {
    clear(box).append(table(cols, rows.slice(page * size, page * size + size), empty));
    if (pages > 1) {
      box.append(h("div", { class: "pager" },
        h("button", { type: "button", class: "secondary", disabled: page === 0, text: "Previous", onclick: () => { page--; draw(); } }),
        h("span", { text: "Page " + (page + 1) + " of " + pages + " · " + rows.length }),
        h("button", { type: "button", class: "secondary", disabled: page >= pages - 1, text: "Next", onclick: () => { page++; draw(); } })));
    }
  };
  draw();
  return box;
}
