// Live updates for the case pages (progressive enhancement: every page works without it).
// Once a second, while the tab is visible, fetch this page again and swap in its #live region when it
// changed. Forms stay outside #live, so nothing a person is typing is touched.
(function () {
  "use strict";
  var region = document.getElementById("live");
  if (!region || !window.fetch || !window.DOMParser) { return; }
  var busy = false;
  var last = region.innerHTML;
  function tick() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store", headers: { "X-Live": "1" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
        if (fresh && fresh.innerHTML !== last) {
          last = fresh.innerHTML;
          region.innerHTML = fresh.innerHTML;
        }
      })
      .catch(function () { /* next tick tries again */ })
      .then(function () { busy = false; });
  }
  window.setInterval(tick, 1000);
}());
