// The phone list after a save: the next household in walking order is scrolled into view
// below the sticky "saved" bar (which stays visible), and gets the focus.
(function () {
  "use strict";
  var script = document.getElementById("list-script");
  var target = script && document.getElementById(script.getAttribute("data-next"));
  if (!target) return;
  var bar = document.getElementById("saved-bar");
  var offset = bar ? bar.getBoundingClientRect().height + 8 : 0;
  var top = target.getBoundingClientRect().top + window.scrollY - offset;
  window.scrollTo(0, Math.max(0, top));
  var link = target.querySelector("a");
  if (link) link.focus({ preventScroll: true });
})();
