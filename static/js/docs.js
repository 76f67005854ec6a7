// Starts the vendored Swagger UI on the /docs page with the document named
// by #api-reference's data-url (same origin; no CDN, no inline script).
(function () {
  "use strict";
  function start() {
    var el = document.getElementById("api-reference");
    if (!el || typeof window.SwaggerUIBundle !== "function") return;
    window.SwaggerUIBundle({
      url: el.getAttribute("data-url"),
      domNode: el,
      deepLinking: true,
      tryItOutEnabled: false,
      validatorUrl: null,
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
