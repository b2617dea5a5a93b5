// Programme dashboard charts (vendored ECharts, SVG renderer so print and screenshots stay sharp).
// The CSP forbids inline scripts: the data comes from <script type="application/json" id="dashboard-data">.
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }
  var COLORS = ["#2f6fde", "#13a8a8", "#f0a020", "#8a5cd6", "#e05a47"];

  function funnelChart(el, stages) {
    var chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption({
      animation: false,
      color: COLORS,
      tooltip: { trigger: "item", formatter: function (p) {
        var s = stages[p.dataIndex];
        return s.name + "：" + s.value + " 项" + (s.amount ? "<br>合同金额 " + s.amount.toFixed(1) + " 万元" : "");
      } },
      series: [{
        type: "funnel", sort: "none", left: "8%", right: "8%", top: 6, bottom: 6, minSize: "18%", gap: 2,
        label: { show: true, position: "inside", formatter: "{b} {c}", color: "#fff", fontSize: 13 },
        data: stages.map(function (s) { return { name: s.name, value: s.value }; })
      }]
    });
    chart.on("click", function (p) { window.location.href = stages[p.dataIndex].url; });
    return chart;
  }

  function trendChart(el, trends) {
    var chart = echarts.init(el, null, { renderer: "svg" });
    var byKey = {};
    trends.series.forEach(function (s) { byKey[s.key] = s; });
    var bars = ["recorded", "published", "signed", "trainings"].filter(function (k) { return byKey[k]; });
    var series = bars.map(function (k) {
      return { name: byKey[k].name, type: "bar", data: byKey[k].data, barMaxWidth: 14, emphasis: { focus: "series" } };
    });
    if (byKey.amount) {
      series.push({ name: byKey.amount.name, type: "line", yAxisIndex: 1, data: byKey.amount.data,
        smooth: false, symbolSize: 6, lineStyle: { width: 2 } });
    }
    var order = bars.concat(byKey.amount ? ["amount"] : []);
    chart.setOption({
      animation: false,
      color: COLORS,
      tooltip: { trigger: "axis" },
      legend: { top: 0, textStyle: { fontSize: 12 } },
      grid: { left: 36, right: 48, top: 34, bottom: 24 },
      xAxis: { type: "category", data: trends.months, axisTick: { alignWithLabel: true } },
      yAxis: [{ type: "value", name: "项/场", minInterval: 1 }, { type: "value", name: "万元", splitLine: { show: false } }],
      series: series
    });
    chart.on("click", function (p) {
      var s = byKey[order[p.seriesIndex]];
      if (s && s.url) window.location.href = s.url.replace("__MONTH__", String(p.dataIndex + 1));
    });
    return chart;
  }

  ready(function () {
    document.querySelectorAll("[data-print]").forEach(function (el) {
      el.addEventListener("click", function () { window.print(); });
    });
    var src = document.getElementById("dashboard-data");
    if (!src || typeof echarts === "undefined") return;
    var data = JSON.parse(src.textContent);
    var charts = [];
    var f = document.getElementById("chart-funnel");
    if (f) charts.push(funnelChart(f, data.funnel));
    var t = document.getElementById("chart-trends");
    if (t) charts.push(trendChart(t, data.trends));
    document.body.setAttribute("data-charts-ready", "1");
    var resize = function () { charts.forEach(function (c) { c.resize(); }); };
    window.addEventListener("resize", resize);
    window.addEventListener("beforeprint", resize);
    window.addEventListener("afterprint", resize);
  });
})();
