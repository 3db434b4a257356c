// The series page: two uPlot charts from the JSON block the server rendered (value with its
// expected band, and the anomaly score), with alert episodes shaded on both.
(function () {
  "use strict";
  var block = document.getElementById("chart-data");
  if (!block || typeof uPlot === "undefined") return;
  var d = JSON.parse(block.textContent);

  function shadeEpisodes(u) {
    var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
    ctx.save();
    ctx.fillStyle = "rgba(220, 40, 40, 0.12)";
    d.episodes.forEach(function (ep) {
      var end = ep.end === null ? d.t[d.t.length - 1] : ep.end;
      var x0 = u.valToPos(ep.start, "x", true), x1 = u.valToPos(end, "x", true);
      ctx.fillRect(Math.min(x0, x1), top, Math.max(2, Math.abs(x1 - x0)), height);
    });
    ctx.restore();
  }

  var width = Math.max(400, document.querySelector("main").clientWidth - 20);
  var common = { width: width, height: 260, hooks: { drawClear: [shadeEpisodes] }, scales: { x: { time: true } } };

  var valueChart = new uPlot(Object.assign({}, common, {
    title: "value",
    series: [
      {},
      { label: "value", stroke: "#1f5fbf", width: 1.5 },
      { label: "expected low", stroke: "#8fb38f", dash: [4, 4] },
      { label: "expected high", stroke: "#8fb38f", dash: [4, 4] },
    ],
    bands: [{ series: [3, 2], fill: "rgba(80, 160, 80, 0.15)" }],
  }), [d.t, d.value, d.low, d.high], document.getElementById("chart-value"));

  var scoreChart = new uPlot(Object.assign({}, common, {
    title: "anomaly score",
    scales: { x: { time: true }, y: { range: [0, 1] } },
    series: [{}, { label: "score", stroke: "#c0392b", width: 1.5 }],
  }), [d.t, d.score], document.getElementById("chart-score"));

  document.body.setAttribute("data-charts", String([valueChart, scoreChart].length));
})();
