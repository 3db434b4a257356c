// The Now page: refresh the groups from now.json every 5 s, with the page's own filters.
// Everything is built with textContent, so no label value is ever parsed as HTML.
(function () {
  "use strict";
  var root = document.getElementById("groups");
  var status = document.getElementById("status");
  var form = document.getElementById("filters");
  if (!root || !form) return;
  var base = root.getAttribute("data-source");
  var page = location.pathname.replace(/\/now$/, "");

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function selector(s) {
    var parts = Object.keys(s.labels).map(function (k) { return k + '="' + s.labels[k] + '"'; });
    return s.name + "{" + parts.join(", ") + "}";
  }

  function render(data) {
    status.textContent = data.connected
      ? "Live from the scores topic; refreshed every 5 s (last " + new Date().toISOString().slice(11, 19) + " UTC)."
      : "Not connected to the scores topic" + (data.error ? ": " + data.error : "") + ".";
    var frag = document.createDocumentFragment();
    if (!data.groups.length) frag.appendChild(el("p", "No series matches.", "muted"));
    data.groups.forEach(function (g) {
      var section = el("section", null, "group");
      section.appendChild(el("h2", g.target));
      var table = el("table");
      var head = el("tr");
      ["score", "series", "value", "at", "state"].forEach(function (h) { head.appendChild(el("th", h)); });
      table.appendChild(el("thead")).appendChild(head);
      var body = el("tbody");
      g.series.forEach(function (s) {
        var tr = el("tr");
        tr.appendChild(el("td", s.score.toFixed(4), "score"));
        var td = el("td");
        var a = el("a", selector(s));
        a.href = page + "/series/" + encodeURIComponent(s.series_id) + "?tenant=" + encodeURIComponent(s.tenant);
        td.appendChild(a);
        tr.appendChild(td);
        tr.appendChild(el("td", s.value === null ? "" : s.value));
        tr.appendChild(el("td", s.at));
        tr.appendChild(el("td", s.outage ? "target down" : s.warming_up ? "warming up" : "alert-grade"));
        body.appendChild(tr);
      });
      table.appendChild(body);
      section.appendChild(table);
      frag.appendChild(section);
    });
    root.replaceChildren(frag);
  }

  function refresh() {
    var query = new URLSearchParams(new FormData(form)).toString();
    fetch(base + "?" + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401) { location.reload(); throw new Error("logged out"); }
        return r.json();
      })
      .then(function (data) { if (!data.error) render(data); else status.textContent = data.error; })
      .catch(function () {});
  }

  setInterval(refresh, 5000);
})();
