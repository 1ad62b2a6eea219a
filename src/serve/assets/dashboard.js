// The dashboard's one script (served from /assets, allowed by the CSP as 'self'). Pages work
// without it; it submits the filters as they change, keeps the address bar a deep link to the
// open row, and applies the live page's server-sent updates. It only ever sets textContent:
// no HTML is built from data.
(function () {
  "use strict";

  function runPage() {
    var form = document.getElementById("filters");
    if (form) {
      Array.prototype.forEach.call(form.querySelectorAll("select"), function (select) {
        select.addEventListener("change", function () { form.submit(); });
      });
    }
    Array.prototype.forEach.call(document.querySelectorAll("details.scenario"), function (row) {
      row.addEventListener("toggle", function () {
        var url = new URL(window.location.href);
        if (row.open) {
          url = new URL(row.getAttribute("data-link"), window.location.href);
        } else if (url.searchParams.get("open") === row.getAttribute("data-id")) {
          url.searchParams.delete("open");
        } else {
          return;
        }
        window.history.replaceState(null, "", url.pathname + url.search);
      });
    });
    var open = document.querySelector("details.scenario[open]");
    if (open) open.scrollIntoView({ block: "start" });
  }

  function get(view, path) {
    return path.split(".").reduce(function (v, k) { return v === undefined || v === null ? v : v[k]; }, view);
  }

  function cell(tr, text, className) {
    var td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function link(href, text, className) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    if (className) a.className = className;
    return a;
  }

  function pill(status) {
    var span = document.createElement("span");
    span.className = "pill " + status;
    span.textContent = status;
    return span;
  }

  function apply(section, view) {
    Array.prototype.forEach.call(section.querySelectorAll("[data-live]"), function (el) {
      var value = get(view, el.getAttribute("data-live"));
      el.textContent = value === undefined || value === null ? "" : String(value);
    });
    Array.prototype.forEach.call(section.querySelectorAll("[data-live-href]"), function (el) {
      var value = get(view, el.getAttribute("data-live-href"));
      if (value) el.setAttribute("href", value);
    });
    var state = section.querySelector("[data-live='state']");
    if (state) state.className = "pill " + view.state;
    section.setAttribute("data-state", view.state);
    var progress = document.getElementById("progress");
    if (progress) progress.value = view.percent;

    var shards = section.querySelector("#shards tbody");
    if (shards) {
      shards.textContent = "";
      view.shards.forEach(function (s) {
        var tr = document.createElement("tr");
        cell(tr, "").appendChild(link(s.href, s.short, "mono"));
        cell(tr, s.partition);
        cell(tr, String(s.done), "num");
        cell(tr, String(s.planned), "num");
        cell(tr, s.finished ? "finished" : "running");
        shards.appendChild(tr);
      });
    }
    var failures = document.getElementById("failures");
    if (failures) {
      failures.textContent = "";
      view.failures.forEach(function (f) {
        var li = document.createElement("li");
        li.appendChild(pill(f.status));
        li.appendChild(document.createTextNode(" "));
        li.appendChild(link(f.href, f.id, "mono"));
        if (f.shard) {
          var shard = document.createElement("span");
          shard.className = "muted";
          shard.textContent = " shard " + f.shard;
          li.appendChild(shard);
        }
        var reason = document.createElement("span");
        reason.className = "headline";
        reason.textContent = " " + f.reason;
        li.appendChild(reason);
        failures.appendChild(li);
      });
    }
    var none = document.getElementById("no-failures");
    if (none) none.hidden = view.failures.length > 0;
    var updates = Number(section.getAttribute("data-updates") || "0") + 1;
    section.setAttribute("data-updates", String(updates));
  }

  function livePage() {
    var section = document.getElementById("live");
    if (!section || !window.EventSource) return;
    var status = document.getElementById("stream-state");
    var source = new EventSource(section.getAttribute("data-events"));
    source.addEventListener("update", function (event) {
      try {
        apply(section, JSON.parse(event.data));
        if (status) status.textContent = "Live: updated " + new Date().toLocaleTimeString() + ".";
      } catch (e) {
        if (status) status.textContent = "An update could not be read; reload the page.";
      }
    });
    source.addEventListener("error", function () {
      if (status) status.textContent = "Disconnected; reconnecting…";
    });
  }

  function start() {
    var page = document.body.getAttribute("data-page");
    if (page === "run") runPage();
    if (page === "live") livePage();
    document.documentElement.setAttribute("data-ready", "true");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
