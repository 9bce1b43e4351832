// Report charts from the figures the page carries (the same as in its tables).
window.addEventListener("load", function () {
  if (!window.Chart) { return; }
  var data = JSON.parse(document.getElementById("report-charts").textContent);
  var fmt = new Intl.NumberFormat("en", { style: "currency", currency: data.currency });
  var money = function (minor) { return fmt.format(minor / 100); };
  document.querySelectorAll("canvas[data-report]").forEach(function (canvas) {
    var spec = data.charts[canvas.dataset.report];
    if (!spec || !spec.datasets) { return; }
    var axis = spec.money ? { ticks: { callback: function (v) { return money(v); } }, beginAtZero: true } : { beginAtZero: true };
    var label = function (c) { var v = spec.money ? money(c.parsed.y) : c.parsed.y; return c.dataset.label ? c.dataset.label + ": " + v : v; };
    new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: spec.datasets },
      options: { responsive: true, maintainAspectRatio: false, animation: false,
        scales: { x: { stacked: !!spec.stacked }, y: Object.assign({ stacked: !!spec.stacked }, axis) },
        plugins: { tooltip: { callbacks: { label: label } } } }
    });
  });
});
