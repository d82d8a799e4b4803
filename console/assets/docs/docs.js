// Starts Swagger UI over this node's OpenAPI document. When a console
// session exists, "try it out" requests carry its CSRF token, so they act
// with the session's credential exactly as the console would.
let csrf = "";
fetch("/ui/session", { credentials: "same-origin" })
  .then((r) => (r.ok ? r.json() : null))
  .then((s) => { if (s && s.logged_in) csrf = s.csrf_token; })
  .catch(() => {})
  .finally(() => {
    window.ui = window.SwaggerUIBundle({
      url: "/v1/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      requestInterceptor: (req) => {
        if (csrf && req.method && req.method !== "GET") req.headers["X-CSRF-Token"] = csrf;
        return req;
      },
    });
  });
