// Draws each chart of the dashboard from the statistics embedded in the page
// (<script type="application/json" id="tx-stats">), with the vendored Apache ECharts.
(function () {
  "use strict";
  var source = document.getElementById("tx-stats");
  if (!source || typeof echarts === "undefined") { return; }
  var stats = JSON.parse(source.textContent);
  var lang = document.documentElement.lang === "en" ? "en" : "zh-CN";
  function pick(path) {
    return path.split(".").reduce(function (v, k) { return v == null ? v : v[k]; }, stats);
  }
  var charts = [];
  document.querySelectorAll(".chart").forEach(function (el) {
    var items = pick(el.dataset.source) || [];
    var names = items.map(function (i) { return i.label[lang]; });
    var values = items.map(function (i) { return i.count; });
    var option;
    if (el.dataset.chart === "pie") {
      option = {
        tooltip: { trigger: "item" },
        series: [{ type: "pie", radius: ["35%", "65%"],
                   data: items.map(function (i) { return { name: i.label[lang], value: i.count }; }) }]
      };
    } else {
      option = {
        tooltip: { trigger: "axis" },
        grid: { left: 40, right: 10, top: 10, bottom: 60 },
        xAxis: { type: "category", data: names, axisLabel: { interval: 0, rotate: names.length > 4 ? 30 : 0 } },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ type: "bar", data: values }]
      };
    }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(option);
    el.dataset.ready = "true";
    charts.push(chart);
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
