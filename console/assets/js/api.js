// The one fetch helper: every request of the console goes through it. It
// sends the session cookie (same origin only), adds the CSRF token to
// mutating calls, and turns the API's {"error":{code,message}} into an
// APIError. A 401 means the session or its credential has ended.
let csrf = "";
let onUnauthorized = () => {};

export function setCSRF(token) { csrf = token || ""; }
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function request(method, path, body, opts = {}) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    if ((typeof body === "string" || body instanceof Blob) && opts.contentType) {
      init.headers["Content-Type"] = opts.contentType;
      init.body = body;
    } else {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
  }
  if (method !== "GET" && method !== "HEAD") init.headers["X-CSRF-Token"] = csrf;
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    throw new APIError(0, "network", "the node did not answer: " + e.message);
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!resp.ok) {
    const err = data && data.error ? data.error : {};
    if (resp.status === 401 && !opts.noRedirect) onUnauthorized();
    throw new APIError(resp.status, err.code || "http_" + resp.status, err.message || resp.statusText);
  }
  return data;
}

export const get = (path, opts) => request("GET", path, undefined, opts);
export const post = (path, body, opts) => request("POST", path, body === undefined ? {} : body, opts);
export const put = (path, body, opts) => request("PUT", path, body, opts);
export const del = (path) => request("DELETE", path);

// seg escapes one path segment (tenant, player and server ids are typed by
// people and players).
export const seg = (s) => encodeURIComponent(s);
