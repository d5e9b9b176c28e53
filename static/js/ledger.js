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
  // Active filters as chips under the folded filter box: tapping one reloads the ledger without it.
  var chips = document.getElementById("filter-chips");
  var filterForm = document.getElementById("filter-form");
  if (chips && filterForm) {
    var params = new URLSearchParams(window.location.search);
    var without = function (names) {
      var next = new URLSearchParams(params);
      names.forEach(function (name) { next.delete(name); });
      next.delete("page");
      Array.from(next.keys()).forEach(function (name) { if (!next.get(name)) { next.delete(name); } });
      var text = next.toString();
      return window.location.pathname + (text ? "?" + text : "");
    };
    var active = [];
    Array.prototype.forEach.call(filterForm.elements, function (control) {
      if (!control.name || control.name === "sort" || !params.get(control.name)) { return; }
      var label = filterForm.querySelector("label[for='" + control.id + "']");
      var name = label ? label.textContent.replace(/（.*?）/g, "").trim() : control.name;
      var value = control.tagName === "SELECT" && control.selectedIndex >= 0
        ? control.options[control.selectedIndex].text.trim() : control.value;
      active.push({ name: control.name, text: name + "：" + value });
    });
    if (active.length) {
      var title = document.createElement("span");
      title.className = "muted";
      title.textContent = chips.dataset.label;
      chips.appendChild(title);
      active.forEach(function (chip) {
        var link = document.createElement("a");
        link.className = "filter-chip";
        link.href = without([chip.name]);
        link.textContent = chip.text;
        link.setAttribute("aria-label", (chips.dataset.remove || "").replace("{chip}", chip.text));
        chips.appendChild(link);
      });
      if (active.length > 1) {
        var clear = document.createElement("a");
        clear.className = "filter-chip clear";
        clear.href = without(active.map(function (chip) { return chip.name; }));
        clear.textContent = chips.dataset.clear;
        chips.appendChild(clear);
      }
      chips.hidden = false;
    }
  }
})();
