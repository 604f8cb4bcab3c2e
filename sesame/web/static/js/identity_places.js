/* Identity form: suggestions for the town and the country of birth, from the referentials API.
   The inputs stay plain text fields: without this script (or if the API is unreachable) the
   person types the name, and the server resolves it. Options are the labels the server reads
   back: "Brest (29)" for a town (name and department), the country's name. */
(function () {
  "use strict";

  var DELAY_MS = 200;

  function suggest(input, list, url, key, valueOf) {
    var timer = null;
    var lastQuery = "";
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      var query = input.value.trim();
      if (query.length < 2 || query === lastQuery) {
        return;
      }
      timer = window.setTimeout(function () {
        lastQuery = query;
        fetch(url + "?limit=10&q=" + encodeURIComponent(query), { headers: { Accept: "application/json" } })
          .then(function (response) { return response.ok ? response.json() : null; })
          .then(function (body) {
            if (!body || input.value.trim() !== query) {
              return;
            }
            while (list.firstChild) {
              list.removeChild(list.firstChild);
            }
            (body[key] || []).forEach(function (item) {
              var option = document.createElement("option");
              option.value = valueOf(item);
              list.appendChild(option);
            });
          })
          .catch(function () { /* the typed name is resolved by the server */ });
      }, DELAY_MS);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("[data-places-form]");
    if (!form || !window.fetch) {
      return;
    }
    var town = form.querySelector("input#birth_town");
    var townList = document.getElementById("birth-town-list");
    if (town && townList) {
      suggest(town, townList, form.getAttribute("data-towns-url"), "towns", function (item) { return item.label; });
    }
    var country = form.querySelector("input#birth_country");
    var countryList = document.getElementById("birth-country-list");
    if (country && countryList) {
      suggest(country, countryList, form.getAttribute("data-countries-url"), "countries", function (item) { return item.name; });
    }
  });
})();
