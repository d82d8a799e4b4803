// A small SVG line chart: one line per series, drawn with DOM calls (no
// markup strings). series: [{name, points: [[t, v], ...]}], t in unix s.
const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

// The x axis covers the data, at least 5 minutes and at most the hour.
export function lineChart(series, { width = 320, height = 140, now = Date.now() / 1000 } = {}) {
  const pad = { l: 34, r: 6, t: 6, b: 16 };
  let first = now;
  for (const s of series) if (s.points.length) first = Math.min(first, s.points[0][0]);
  const span = Math.min(3600, Math.max(300, Math.ceil((now - first) / 300) * 300));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", preserveAspectRatio: "none" });
  const t0 = now - span;
  let vmax = 0;
  for (const s of series) for (const [, v] of s.points) vmax = Math.max(vmax, v);
  vmax = niceMax(vmax);
  const x = (t) => pad.l + ((t - t0) / span) * (width - pad.l - pad.r);
  const y = (v) => height - pad.b - (v / vmax) * (height - pad.t - pad.b);
  root.append(svg("line", { class: "axis", x1: pad.l, y1: y(0), x2: width - pad.r, y2: y(0) }));
  root.append(svg("line", { class: "axis", x1: pad.l, y1: y(vmax), x2: width - pad.r, y2: y(vmax) }));
  const top = svg("text", { class: "lbl", x: pad.l - 4, y: y(vmax) + 8, "text-anchor": "end" });
  top.textContent = fmt(vmax);
  const zero = svg("text", { class: "lbl", x: pad.l - 4, y: y(0), "text-anchor": "end" });
  zero.textContent = "0";
  const left = svg("text", { class: "lbl", x: pad.l, y: height - 3 });
  left.textContent = "−" + Math.round(span / 60) + " min";
  const right = svg("text", { class: "lbl", x: width - pad.r, y: height - 3, "text-anchor": "end" });
  right.textContent = "now";
  root.append(top, zero, left, right);
  series.forEach((s, i) => {
    const pts = s.points.filter(([t]) => t >= t0);
    if (pts.length < 1) return;
    const d = pts.map(([t, v], j) => (j ? "L" : "M") + x(t).toFixed(1) + " " + y(v).toFixed(1)).join(" ");
    const path = svg("path", { class: "line s" + (i % 6), d });
    const title = document.createElementNS(NS, "title");
    title.textContent = s.name;
    path.append(title);
    root.append(path);
  });
  return root;
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function fmt(v) {
  return v >= 1000 ? (v / 1000).toFixed(v >= 10000 ? 0 : 1) + "k" : String(+v.toFixed(2));
}
