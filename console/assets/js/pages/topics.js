// Topics: a live tail of one topic over Server-Sent Events (resumable,
// answered by this node), and publishing a text message.
import { post, seg } from "../api.js";
import { h, field, onSubmit, toast } from "../dom.js";

const MAX_LINES = 500;

export async function render(ctx, root) {
  const topic = h("input", { id: "topic-name", name: "topic", required: true, value: ctx.params.get("t") || "chat", pattern: "[a-zA-Z0-9._\\-]+" });
  const tail = h("div", { class: "tail", id: "topic-tail", role: "log", "aria-live": "off", tabindex: "0" });
  const stateText = h("span", { class: "small muted", id: "topic-state", text: "not connected" });
  const msg = h("input", { id: "topic-message", name: "message", required: true });
  let es = null;

  const tailForm = h("form", { class: "row" }, field("Topic", topic), h("button", { type: "submit", id: "topic-tail-start", text: "Tail" }),
    h("button", { type: "button", class: "secondary", text: "Stop", onclick: stop }), stateText);
  tailForm.addEventListener("submit", (ev) => { ev.preventDefault(); start(); });
  const pubForm = onSubmit(h("form", { class: "row" }, field("Message (text/plain)", msg), h("button", { type: "submit", id: "topic-publish", text: "Publish" })), async () => {
    const res = await post("/v1/tenants/" + seg(ctx.tenant) + "/topics/" + seg(topic.value.trim()) + "/messages",
      msg.value, { contentType: "text/plain; charset=utf-8" });
    msg.value = "";
    toast("Published #" + res.seq);
  });
  root.append(tailForm, tail, ctx.canSessions ? pubForm : null);

  function line(kind, text) {
    tail.append(h("div", { class: "ev-" + kind }, h("span", { class: "muted", text: new Date().toLocaleTimeString() + " " + kind + " " }), text));
    while (tail.childNodes.length > MAX_LINES) tail.firstChild.remove();
    tail.scrollTop = tail.scrollHeight;
  }
  function stop() {
    if (es) { es.close(); es = null; }
    stateText.textContent = "not connected";
  }
  function start() {
    stop();
    const url = "/v1/tenants/" + seg(ctx.tenant) + "/topics/" + seg(topic.value.trim()) + "/events";
    es = new EventSource(url);
    stateText.textContent = "connecting…";
    es.onopen = () => { stateText.textContent = "live: " + topic.value.trim(); };
    es.addEventListener("message", (ev) => {
      try {
        const m = JSON.parse(ev.data);
        line("message", "#" + m.seq + " " + (m.payload !== undefined ? m.payload : "(binary, " + m.payload_base64.length + " base64 chars)"));
      } catch { line("message", ev.data); }
    });
    for (const kind of ["gap", "reset", "disconnect"]) es.addEventListener(kind, (ev) => line(kind, ev.data));
    es.onerror = () => { stateText.textContent = "reconnecting…"; };
  }
  return stop;
}
