/* "Send a new code": a visible countdown until the server accepts a new request. Without this
   script the button stays usable and the server answers "please wait N seconds". */
(function () {
  "use strict";

  function clock(seconds) {
    var minutes = Math.floor(seconds / 60);
    var rest = seconds % 60;
    return (minutes < 10 ? "0" : "") + minutes + ":" + (rest < 10 ? "0" : "") + rest;
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-countdown]").forEach(function (counter) {
      var form = counter.closest("form");
      var button = form && form.querySelector("[data-countdown-button]");
      var display = counter.querySelector("[data-countdown-clock]");
      var left = parseInt(counter.getAttribute("data-countdown"), 10) || 0;
      if (!button || !display || left <= 0) {
        return;
      }
      button.disabled = true;
      var timer = window.setInterval(function () {
        left -= 1;
        if (left <= 0) {
          window.clearInterval(timer);
          counter.hidden = true;
          button.disabled = false;
          return;
        }
        display.textContent = clock(left);
      }, 1000);
    });
  });
})();
