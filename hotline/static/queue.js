/* Queue refresh: ask the server every few seconds how many new cases there are.
   The page works without this script (the Refresh link reloads it). */
(function () {
  "use strict";
  var root = document.getElementById("queue");
  if (!root || !window.fetch) { return; }
  var pollUrl = root.getAttribute("data-poll-url");
  var latestId = root.getAttribute("data-latest-id") || "0";
  var seconds = parseInt(root.getAttribute("data-poll-seconds"), 10) || 25;
  var baseTitle = root.getAttribute("data-title");
  var notice = document.getElementById("queue-notice");
  var counter = document.getElementById("new-count");

  function show(data) {
    document.title = (data["new"] > 0 ? "(" + data["new"] + ") " : "") + baseTitle;
    counter.textContent = String(data["new"]);
    if (data.arrived > 0) {
      notice.textContent = "";
      var link = document.createElement("a");
      link.href = window.location.pathname + window.location.search;
      link.textContent = data.arrived + (data.arrived === 1 ? " new case" : " new cases") +
        " arrived: show them";
      notice.appendChild(link);
      notice.hidden = false;
    }
  }

  function poll() {
    if (document.hidden) { return; }
    // The background header keeps polling from counting as activity, so an unattended
    // screen still reaches the idle timeout; a poll sent to sign-in reloads the page.
    fetch(pollUrl + "?since=" + encodeURIComponent(latestId), {
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-Hotline-Background": "1" }
    }).then(function (response) {
      if (response.redirected) { window.location.reload(); return null; }
      return response.ok ? response.json() : null;
    }).then(function (data) {
      if (data) { show(data); }
    }).catch(function () { /* offline for a moment: try again at the next tick */ });
  }

  window.setInterval(poll, seconds * 1000);
  document.addEventListener("visibilitychange", poll);
}());
