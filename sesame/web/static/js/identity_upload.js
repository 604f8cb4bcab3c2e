/* Identity document upload: a file may also be dropped on its field (the file input stays the
   way to choose one, with the keyboard or without this script). */
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.DataTransfer) {
      return;
    }
    document.querySelectorAll("[data-drop-zone]").forEach(function (zone) {
      var input = zone.querySelector("input[type=file]");
      var hint = zone.querySelector("[data-drop-hint]");
      if (!input) {
        return;
      }
      if (hint) {
        hint.hidden = false;
      }
      zone.addEventListener("dragover", function (event) {
        event.preventDefault();
        zone.classList.add("identity-drop--over");
      });
      zone.addEventListener("dragleave", function () {
        zone.classList.remove("identity-drop--over");
      });
      zone.addEventListener("drop", function (event) {
        event.preventDefault();
        zone.classList.remove("identity-drop--over");
        var files = event.dataTransfer && event.dataTransfer.files;
        if (!files || !files.length) {
          return;
        }
        var chosen = new DataTransfer();
        chosen.items.add(files[0]);
        input.files = chosen.files;
        input.dispatchEvent(new Event("change", { bubbles: true }));
      });
    });
  });
})();
