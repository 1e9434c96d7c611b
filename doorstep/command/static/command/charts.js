// Charts of the command pages: the data comes in a <script type="application/json"> element
// (json_script), so no inline script is needed (the CSP allows none).
(function () {
  function start() {
    if (typeof echarts === "undefined") return;
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var data = JSON.parse(document.getElementById(el.dataset.chart).textContent);
      var chart = echarts.init(el, null, { renderer: "svg" });
      chart.setOption({
        tooltip: { trigger: "axis" },
        legend: { top: 0 },
        grid: { left: 40, right: 16, top: 40, bottom: 24, containLabel: true },
        xAxis: { type: "category", data: data.days },
        yAxis: { type: "value" },
        series: data.series.map(function (s) { return { name: s.name, type: data.kind || "line", data: s.data }; }),
      });
      window.addEventListener("resize", function () { chart.resize(); });
      el.dataset.chartReady = "1";
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
