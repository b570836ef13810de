// lineage ui: the project's own script. Everything works without it; it adds shift-click
// sorting, the compare button's state, auto-submitting selects and live charts.
// It talks only to the server that served it.
(function () {
  "use strict";

  // A number to 4 significant figures, as the server writes it ("%.4g").
  function fmt(value) {
    var text = Number(value).toPrecision(4);
    if (text.indexOf("e") < 0 && text.indexOf(".") >= 0) text = text.replace(/\.?0+$/, "");
    return text;
  }

  function sortKeys(text) {
    return text.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
  }

  // Shift-click on a column header: add it as another sort key (or flip it if present).
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.sort");
    if (!link || !event.shiftKey) return;
    event.preventDefault();
    var url = new URL(window.location.href);
    var keys = sortKeys(url.searchParams.get("sort") || "");
    var key = link.getAttribute("data-key");
    var found = -1;
    keys.forEach(function (k, i) { if (k.replace(/^-/, "") === key) found = i; });
    if (found >= 0) {
      keys[found] = keys[found].charAt(0) === "-" ? key : "-" + key;
    } else {
      keys.push(key);
    }
    url.searchParams.set("sort", keys.join(","));
    url.searchParams.delete("page");
    window.location.assign(url.toString());
  });

  // The compare button: enabled for 2-10 ticked experiments.
  function updateSelection() {
    var form = document.getElementById("select");
    if (!form) return;
    var ticked = form.querySelectorAll("input[name=e]:checked").length;
    var button = document.getElementById("compare-button");
    var count = document.getElementById("selected-count");
    button.disabled = ticked < 2 || ticked > 10;
    count.textContent = ticked ? ticked + " selected" + (ticked > 10 ? " (at most 10)" : "")
      : "tick 2–10 experiments";
  }
  document.addEventListener("change", function (event) {
    if (event.target.name === "e") updateSelection();
    var auto = event.target.closest && event.target.closest("form.auto");
    if (auto && event.target.tagName === "SELECT") auto.submit();
  });

  // Live charts of a running experiment: poll the JSON twin, swap in the server's SVG.
  function startLive(section) {
    var url = section.getAttribute("data-live");
    var charts = document.getElementById("charts");
    var indicator = document.getElementById("live-indicator");
    if (indicator) indicator.classList.add("on");
    var parser = new DOMParser();
    function render(data) {
      Object.keys(data.charts).sort().forEach(function (name) {
        var box = charts.querySelector('[data-chart="' + CSS.escape(name) + '"]');
        if (!box) {
          box = document.createElement("figure");
          box.className = "chart-box";
          box.setAttribute("data-chart", name);
          charts.appendChild(box);
        }
        var doc = parser.parseFromString(data.charts[name], "image/svg+xml");
        var svg = doc.documentElement;
        if (svg && svg.nodeName === "svg") box.replaceChildren(document.importNode(svg, true));
        box.setAttribute("data-count", String(data.steps[name].count));
      });
      Object.keys(data.metrics).forEach(function (name) {
        var cell = document.querySelector('[data-metric="' + CSS.escape(name) + '"]');
        if (cell) cell.textContent = fmt(data.metrics[name]);
      });
      var status = document.querySelector("#status .status");
      if (status && status.textContent !== data.status) {
        status.textContent = data.status;
        status.className = "status status-" + data.status;
      }
    }
    function poll() {
      fetch(url, { headers: { "Accept": "application/json" }, cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (data) {
          render(data);
          if (data.status === "running") {
            window.setTimeout(poll, 1000);
          } else if (indicator) {
            indicator.classList.remove("on");
            indicator.textContent = data.status;
          }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    poll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    updateSelection();
    var live = document.querySelector("[data-live]");
    if (live) startLive(live);
  });
})();
