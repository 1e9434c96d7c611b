// The field visit form and the evening entry (no inline handlers: the CSP forbids them).
//
// Temperatures: "365" typed fills in 36.5 and shows it at once (the decimal point is the
// slowest key on a phone keypad), then the cursor moves to the next person's temperature. A
// reading at or above the campaign's threshold (data-threshold on the form) reveals the
// second-reading field and goes there instead. Anything else ("3.65", "365.0") is left as
// typed: the server names the likely value in its error, it never guesses silently. The
// readings accepted are the server's (data-low and data-high on each temperature field, from
// rules.TEMPERATURE_RANGE); a field without them fills in nothing.
(function () {
  "use strict";

  function tenths(text) {
    var n = parseFloat(text || "");
    return isNaN(n) ? null : Math.round(n * 10);
  }

  function threeDigits(input, value) {
    if (!/^\d{3}$/.test(value)) return null;
    var low = tenths(input.getAttribute("data-low"));
    var high = tenths(input.getAttribute("data-high"));
    var n = parseInt(value, 10);
    if (low === null || high === null || n < low || n > high) return null;
    return value.slice(0, 2) + "." + value.slice(2);
  }

  // On screen: laid out, and not inside a closed <details> (Chromium lays those out with
  // content-visibility: hidden, so offsetParent alone does not tell).
  function shown(el) {
    return el.offsetParent !== null && !el.closest("details:not([open])");
  }

  function shownFor(input) {
    return document.querySelector('[data-shows="' + input.id + '"]');
  }

  function temperatureFields(form) {
    return Array.prototype.filter.call(
      form.querySelectorAll("input[data-temperature]"),
      function (el) { return shown(el) && !el.disabled; }
    );
  }

  function nextTemperature(input) {
    var fields = temperatureFields(input.form);
    var i = fields.indexOf(input);
    for (var j = i + 1; j < fields.length; j++) {
      if (!fields[j].value) return fields[j];
    }
    return null;
  }

  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[data-temperature]")) return;
    var shown = shownFor(input);
    var filled = threeDigits(input, input.value.trim());
    if (filled === null) {
      if (shown) shown.textContent = "";
      return;
    }
    input.value = filled;
    if (shown) shown.textContent = "= " + filled + " °C";
    var form = input.form;
    var threshold = form && parseFloat(form.getAttribute("data-threshold") || "");
    var recheck = input.getAttribute("data-recheck");
    if (recheck && threshold && parseFloat(filled) >= threshold) {
      var wrap = document.getElementById(recheck);
      if (wrap) {
        wrap.hidden = false;
        var second = wrap.querySelector("input");
        if (second) { second.focus(); return; }
      }
    }
    var next = nextTemperature(input);
    if (next) next.focus();
    else if (form) {
      var save = form.querySelector("[data-save]");
      if (save) save.focus({ preventScroll: true });
    }
  });

  // A field that comes back with an error: its text selected, so retyping replaces it.
  function selectFirstError(root) {
    var el = root.querySelector("[aria-invalid=true], .has-error input, .has-error select");
    if (!el) return;
    el.focus();
    if (el.select) el.select();
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-select-errors]");
    if (form) selectFirstError(form);
  });
  document.addEventListener("htmx:afterSettle", function () {
    var form = document.querySelector("form[data-select-errors]");
    if (form) selectFirstError(form);
  });
  window.doorstepSelectFirstError = selectFirstError;
})();
