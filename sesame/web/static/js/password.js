// Password fields: the "eye" that shows or hides what was typed, and the live checklist of the
// tenant's rules. Plain JavaScript, no framework; without it the form still works (the server
// checks every rule and says which failed).
(function () {
  "use strict";

  function setupToggle(button) {
    var input = document.getElementById(button.getAttribute("data-password-toggle"));
    if (!input) { return; }
    var label = button.querySelector(".password-toggle__label");
    button.hidden = false;
    button.addEventListener("click", function () {
      var show = input.type === "password";
      input.type = show ? "text" : "password";
      button.setAttribute("aria-pressed", show ? "true" : "false");
      var text = button.getAttribute(show ? "data-label-hide" : "data-label-show");
      if (label) { label.textContent = text; }
      button.setAttribute("title", text);
    });
  }

  var checks = {
    min_length: function (value, item) { return Array.from(value).length >= Number(item.getAttribute("data-value")); },
    upper: function (value) { return /\p{Lu}/u.test(value); },
    lower: function (value) { return /\p{Ll}/u.test(value); },
    digit: function (value) { return /\p{Nd}/u.test(value); },
    symbol: function (value) { return /[^\p{L}\p{N}\s]/u.test(value); }
  };

  function setupChecklist(list) {
    var input = document.getElementById(list.getAttribute("data-password-rules"));
    var confirmId = list.getAttribute("data-password-confirm");
    var confirm = confirmId ? document.getElementById(confirmId) : null;
    if (!input) { return; }
    function update() {
      list.querySelectorAll("li[data-rule]").forEach(function (item) {
        var rule = item.getAttribute("data-rule");
        var ok;
        if (rule === "match") {
          ok = confirm !== null && input.value.length > 0 && input.value === confirm.value;
        } else {
          ok = checks[rule] ? checks[rule](input.value, item) : false;
        }
        item.classList.toggle("is-met", ok);
        item.setAttribute("data-met", ok ? "true" : "false");
      });
    }
    input.addEventListener("input", update);
    if (confirm) { confirm.addEventListener("input", update); }
    update();
  }

  document.querySelectorAll("[data-password-toggle]").forEach(setupToggle);
  document.querySelectorAll("[data-password-rules]").forEach(setupChecklist);
})();
