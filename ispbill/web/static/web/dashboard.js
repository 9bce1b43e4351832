// Dashboard charts from the figures the page carries (the same as in its tables).
window.addEventListener("load", function () {
  if (!window.Chart) { return; }
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  var palette = ["#1d5fd1", "#12a17a", "#e07b00", "#8e44ad", "#d12d5f", "#2a9fd6", "#6b7a8f"];
  var fmt = new Intl.NumberFormat("en", { style: "currency", currency: data.currency });
  var money = function (minor) { return fmt.format(minor / 100); };
  var moneyAxis = { ticks: { callback: function (v) { return money(v); } }, beginAtZero: true };
  var tip = { callbacks: { label: function (c) { return c.dataset.label ? c.dataset.label + ": " + money(c.parsed.y) : money(c.parsed.y); } } };
  var base = { responsive: true, maintainAspectRatio: false, animation: false };
  var el = function (id) { return document.getElementById(id); };
  if (el("chart-revenue")) {
    new Chart(el("chart-revenue"), { type: "bar", data: { labels: data.months, datasets: data.revenue.map(function (s, i) { return { label: s.label, data: s.data, backgroundColor: palette[i % palette.length] }; }) },
      options: Object.assign({}, base, { scales: { x: { stacked: true }, y: Object.assign({ stacked: true }, moneyAxis) }, plugins: { tooltip: tip } }) });
  }
  if (el("chart-ages")) {
    new Chart(el("chart-ages"), { type: "bar", data: { labels: data.ages, datasets: [{ label: "Open", data: data.receivables, backgroundColor: ["#12a17a", "#e0b100", "#e07b00", "#d1542d", "#a50e0e"] }] },
      options: Object.assign({}, base, { scales: { y: moneyAxis }, plugins: { legend: { display: false }, tooltip: tip } }) });
  }
  if (el("chart-commissions")) {
    new Chart(el("chart-commissions"), { type: "bar", data: { labels: data.commissions.labels, datasets: [
      { label: "Accrued", data: data.commissions.accrued, backgroundColor: "#9db9ee" },
      { label: "Approved, to pay", data: data.commissions.approved, backgroundColor: "#1d5fd1" }] },
      options: Object.assign({}, base, { indexAxis: "y", scales: { x: moneyAxis }, plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + money(c.parsed.x); } } } } }) });
  }
  if (el("chart-statuses")) {
    new Chart(el("chart-statuses"), { type: "doughnut", data: { labels: data.statuses.labels, datasets: [{ data: data.statuses.data, backgroundColor: ["#2a9fd6", "#12a17a", "#d12d5f", "#9aa3b2"] }] },
      options: Object.assign({}, base, { plugins: { legend: { position: "right" } } }) });
  }
});
