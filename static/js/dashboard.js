/* Dashboard charts, drawn with the vendored Chart.js from the figures the page already lists in
   its tables (json_script "dashboard-data"). Without JavaScript the tables remain. */
(function () {
  "use strict";
  // No inline handlers (the CSP allows no inline script): the unit picker submits itself here.
  Array.prototype.forEach.call(document.querySelectorAll("select[data-autosubmit]"), function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  var source = document.getElementById("dashboard-data");
  if (!source || typeof window.Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var font = '"PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif';
  Chart.defaults.font.family = font;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;
  var blue = "#1456a8", green = "#2e7d32", red = "#c62828", grey = "#8a94a3";

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) { new Chart(canvas, config); }
  }
  function labels(rows) { return rows.map(function (row) { return row.label; }); }
  function integerAxis() { return { beginAtZero: true, ticks: { precision: 0 } }; }

  draw("chart-weeks", {
    type: "bar",
    data: {
      labels: labels(data.weeks),
      datasets: [
        { label: "发现问题", data: data.weeks.map(function (w) { return w.found; }), backgroundColor: blue },
        { label: "销号", data: data.weeks.map(function (w) { return w.closed; }), backgroundColor: green }
      ]
    },
    options: { scales: { y: integerAxis() } }
  });
  draw("chart-categories", {
    type: "doughnut",
    data: {
      labels: labels(data.categories),
      datasets: [{ data: data.categories.map(function (c) { return c.n; }),
                   backgroundColor: [blue, "#b26a00", green, "#6a3fa0"] }]
    }
  });
  draw("chart-red", {
    type: "bar",
    data: { labels: labels(data.units),
            datasets: [{ label: "红牌（逾期）", data: data.units.map(function (u) { return u.red; }), backgroundColor: red }] },
    options: { indexAxis: "y", scales: { x: integerAxis() } }
  });
  draw("chart-rate", {
    type: "bar",
    data: { labels: labels(data.units),
            datasets: [{ label: "销号率（%）", data: data.units.map(function (u) { return u.rate; }), backgroundColor: green }] },
    options: { indexAxis: "y", scales: { x: { beginAtZero: true, max: 100 } } }
  });
  draw("chart-coverage", {
    type: "bar",
    data: { labels: labels(data.units),
            datasets: [
              { label: "已走必走事项", data: data.units.map(function (u) { return u.covered; }), backgroundColor: blue },
              { label: "未走", data: data.units.map(function (u) { return Math.max(data.must_walk_total - u.covered, 0); }),
                backgroundColor: grey }
            ] },
    options: { indexAxis: "y", scales: { x: { stacked: true, beginAtZero: true, ticks: { precision: 0 } }, y: { stacked: true } } }
  });
})();
