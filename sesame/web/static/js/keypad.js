// The randomized keypad: a click (or Enter / Space on a focused key) adds the key's one-time
// reference to a hidden field and a dot to the display; "Correct" removes the last one, "Clear"
// all of them. The field holds references only, never a digit, and the physical keyboard's
// digit keys do nothing: what a keylogger could record is useless. Plain JavaScript, no
// framework; without it every key is a submit button and the server keeps the keys pressed.
(function () {
  "use strict";

  var SEPARATOR = ".";
  var BLINK_MS = 180;

  function setup(form) {
    var keypad = form.querySelector("[data-keypad]");
    var field = form.querySelector("[data-keypad-field]");
    if (!keypad || !field) { return; }
    var length = Number(keypad.getAttribute("data-keypad-length")) || 6;
    // Keys pressed before, one submit each (the server keeps them): they count toward the length.
    var pending = Number(keypad.getAttribute("data-keypad-pending")) || 0;
    var dots = keypad.querySelectorAll("[data-keypad-dot]");
    var status = keypad.querySelector("[data-keypad-status]");
    var refs = [];

    function render() {
      var count = pending + refs.length;
      field.value = refs.join(SEPARATOR);
      dots.forEach(function (dot, index) { dot.classList.toggle("is-filled", index < count); });
      if (status) {
        status.textContent = status.getAttribute("data-template").replace("{count}", String(count));
      }
    }

    function blink(key) {
      key.classList.add("is-pressed");
      window.setTimeout(function () { key.classList.remove("is-pressed"); }, BLINK_MS);
    }

    keypad.querySelectorAll("[data-keypad-key]").forEach(function (key) {
      key.addEventListener("click", function (event) {
        event.preventDefault();
        if (pending + refs.length >= length) { return; }
        refs.push(key.value);
        blink(key);
        render();
      });
    });

    var correct = keypad.querySelector("[data-keypad-correct]");
    if (correct) {
      correct.addEventListener("click", function (event) {
        if (refs.length === 0) { return; } // keys kept by the server: let the server correct them
        event.preventDefault();
        refs.pop();
        render();
      });
    }

    var clear = keypad.querySelector("[data-keypad-clear]");
    if (clear) {
      clear.addEventListener("click", function (event) {
        if (pending > 0) { return; } // the server's keys too: let the submit clear them
        event.preventDefault();
        refs = [];
        render();
      });
    }

    keypad.setAttribute("data-keypad-ready", "true");
    render();
  }

  document.querySelectorAll("[data-keypad-form]").forEach(setup);
})();
