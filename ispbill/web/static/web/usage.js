// A service's usage chart from the figures the page carries (the same as in its tables):
// this month's download and upload per day (bars), the running totals of this and the
// previous month and the included volume (lines, GB).
window.addEventListener("load", function () {
  var canvas = document.getElementById("chart-usage");
  if (!window.Chart || !canvas) { return; }
  var d = JSON.parse(document.getElementById("usage-chart-data").textContent);
  var gb = function (v) { return v.toLocaleString("en", { maximumFractionDigits: 2 }) + " GB"; };
  var sets = [
    { type: "bar", label: "Download, " + d.current_label, data: d.download, backgroundColor: "#1d5fd1", stack: "day", yAxisID: "y" },
    { type: "bar", label: "Upload, " + d.current_label, data: d.upload, backgroundColor: "#12a17a", stack: "day", yAxisID: "y" },
    { type: "line", label: "Running total, " + d.current_label, data: d.cumulative, borderColor: "#e07b00", backgroundColor: "#e07b00", pointRadius: 0, yAxisID: "total" },
    { type: "line", label: "Running total, " + d.previous_label, data: d.previous_cumulative, borderColor: "#9aa3b2", backgroundColor: "#9aa3b2", borderDash: [4, 4], pointRadius: 0, yAxisID: "total" }
  ];
  if (d.included.length) {
    sets.push({ type: "line", label: "Included", data: d.included, borderColor: "#d12d5f", backgroundColor: "#d12d5f", borderWidth: 1, pointRadius: 0, yAxisID: "total" });
  }
  new Chart(canvas, {
    data: { labels: d.labels, datasets: sets },
    options: { responsive: true, maintainAspectRatio: false, animation: false,
      scales: {
        x: { stacked: true, title: { display: true, text: "Day of the month" } },
        y: { stacked: true, beginAtZero: true, position: "left", title: { display: true, text: "Per day" }, ticks: { callback: gb } },
        total: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "Running total" }, ticks: { callback: gb } }
      },
      plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + gb(c.parsed.y); } } } } }
  });
});
