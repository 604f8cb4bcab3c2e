// The decoupled login's waiting page: follow the request (server-sent events, or polling the JSON
// status when EventSource fails), submit the "continue" form once approved, reload the page when
// the request was refused or expired (the server then shows why). Without JavaScript the person
// presses the button. Plain JS, no framework; the page works without it.
(function () {
  "use strict";

  var root = document.querySelector("[data-app-login]");
  if (!root) {
    return;
  }
  var form = root.querySelector("[data-finish-form]");
  var statusText = root.querySelector("[data-status-text]");
  var countdown = root.querySelector("[data-countdown]");
  var eventsUrl = root.getAttribute("data-events-url");
  var statusUrl = root.getAttribute("data-status-url");
  var deadline = Date.now() + 1000 * parseInt(root.getAttribute("data-seconds-left") || "0", 10);
  var finished = false;
  var source = null;
  var pollTimer = null;

  function say(key) {
    var text = statusText && statusText.getAttribute("data-text-" + key);
    if (text && statusText) {
      statusText.textContent = text;
    }
  }

  function settle(status) {
    if (finished) {
      return;
    }
    if (status === "approved") {
      finished = true;
      stop();
      say("approved");
      root.setAttribute("data-status", "approved");
      form.submit();
    } else if (status === "denied" || status === "expired" || status === "not_found") {
      finished = true;
      stop();
      say(status === "not_found" ? "expired" : status);
      root.setAttribute("data-status", status);
      window.setTimeout(function () { window.location.reload(); }, 600);
    }
  }

  function stop() {
    if (source) {
      source.close();
      source = null;
    }
    if (pollTimer) {
      window.clearTimeout(pollTimer);
      pollTimer = null;
    }
  }

  function poll() {
    if (finished) {
      return;
    }
    fetch(statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.json(); })
      .then(function (body) { settle(body.status); })
      .catch(function () { /* the network may come back: keep trying */ })
      .then(function () {
        if (!finished) {
          pollTimer = window.setTimeout(poll, 2000);
        }
      });
  }

  function listen() {
    if (!("EventSource" in window)) {
      poll();
      return;
    }
    source = new EventSource(eventsUrl);
    source.addEventListener("status", function (event) {
      try {
        settle(JSON.parse(event.data).status);
      } catch (error) {
        /* a malformed event: wait for the next one */
      }
    });
    source.onerror = function () {
      // The stream ended or failed: fall back to polling (it also sees a final status).
      if (source) {
        source.close();
        source = null;
      }
      if (!finished && !pollTimer) {
        poll();
      }
    };
  }

  function tick() {
    if (finished || !countdown) {
      return;
    }
    var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    var template = (statusText && statusText.getAttribute("data-text-countdown")) || "{seconds}";
    countdown.hidden = false;
    // Not a live region: a screen reader would read every second. The final status is announced.
    countdown.textContent = template.replace("{seconds}", String(left));
    if (left > 0) {
      window.setTimeout(tick, 1000);
    } else {
      poll();
    }
  }

  listen();
  tick();
})();
