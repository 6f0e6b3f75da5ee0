// Maestro's operator pages: small, dependency-free behaviour on top of server-rendered HTML.
"use strict";
(function () {
  // Timestamps arrive as ISO-8601 UTC; show them in the reader's zone, short when recent.
  function localTimes(root) {
    const today = new Date().toDateString();
    root.querySelectorAll("time[datetime]").forEach((el) => {
      const when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      el.title = el.getAttribute("datetime");
      const pad = (n) => String(n).padStart(2, "0");
      const clock = `${pad(when.getHours())}:${pad(when.getMinutes())}:${pad(when.getSeconds())}`;
      el.textContent = when.toDateString() === today ? clock
        : `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())} ${clock}`;
    });
  }
  window.maestro = Object.assign(window.maestro || {}, { localTimes });
  document.addEventListener("DOMContentLoaded", () => localTimes(document));
})();
