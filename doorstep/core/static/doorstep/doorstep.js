// Behaviour that would otherwise sit in inline handlers, which the Content Security Policy
// forbids: a select that submits its form on change, and print buttons.
document.addEventListener("change", function (event) {
  var el = event.target;
  if (el.matches && el.matches("[data-autosubmit]") && el.form) el.form.submit();
});
document.addEventListener("click", function (event) {
  var el = event.target.closest && event.target.closest("[data-print]");
  if (el) window.print();
});
