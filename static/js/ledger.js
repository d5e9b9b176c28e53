// The ledger list: "select all on this page" for bulk actions, and sub-categories narrowed to the
// chosen category. Everything works without this script; it only saves clicks.
(function () {
  "use strict";
  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("input.row-check").forEach(function (box) { box.checked = all.checked; });
    });
  }
  var category = document.getElementById("f-category");
  var sub = document.getElementById("f-sub");
  function narrow() {
    if (!category || !sub) { return; }
    Array.prototype.forEach.call(sub.options, function (option) {
      var match = !option.value || !category.value || option.dataset.category === category.value;
      option.hidden = !match;
      if (!match && option.selected) { sub.value = ""; }
    });
  }
  if (category) { category.addEventListener("change", narrow); narrow(); }
  var bulk = document.getElementById("bulk-form");
  if (bulk) {
    bulk.addEventListener("submit", function (event) {
      var chosen = bulk.querySelectorAll("input.row-check:checked").length;
      var action = bulk.querySelector("select[name=action]");
      var label = action ? action.options[action.selectedIndex].text : "";
      var question = (bulk.dataset.confirm || "").replace("{action}", label).replace("{n}", chosen);
      if (question && !window.confirm(question)) { event.preventDefault(); }
    });
  }
})();
