/*
Copyright 2026 The kntrace Authors

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package jaeger

import (
	"html/template"
	"io"
	"time"

	"github.com/kntrace/kntrace/coldstart"
)

// WriteHTML writes t as one self-contained HTML page (inline CSS and
// JavaScript, no external assets) that draws the same waterfall as
// WriteWaterfall: one row per span with the tree, service, operation,
// duration and a time bar; errors, cold-start phases and the critical path
// are highlighted, and clicking a row shows its tags.
//
// The script lays the bars out in percent of the trace and then records each
// bar's rendered position in pixels in data-left and data-right (and the
// page width in the body's data-page-width), so that a headless browser's
// DOM dump shows where the bars landed.
//
// Phase rows name their source (whose clock bounds the phase); the phases
// taken from Kubernetes' records are drawn nested under their
// coldstart.SpanKubernetes row, and each cold start the activator recorded
// gets its summary line (ColdStartEpisode.Summary).
func WriteHTML(w io.Writer, t *Trace) error {
	episodes, _ := ColdStartEpisodes([]*Trace{t}, ColdStartFilter{})
	summaries := make([]string, 0, len(episodes))
	for _, e := range episodes {
		if len(e.Phases) > 0 {
			summaries = append(summaries, e.Summary())
		}
	}
	return htmlPage.Execute(w, struct {
		T          *Trace
		Duration   string
		Start      string
		Summaries  []string
		Kubernetes string
		AttrImage  string
		Present    string
	}{t, FormatDuration(t.Duration()), t.StartTime.UTC().Format(time.RFC3339Nano), summaries,
		coldstart.SpanKubernetes, coldstart.AttrImage, coldstart.ImagePresent})
}

var htmlPage = template.Must(template.New("trace").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Trace {{.T.TraceID}}</title>
<style>
:root { --fg:#1d2330; --muted:#6b7385; --bg:#ffffff; --grid:#e6e9ef; --bar:#4a7bd0; --crit:#23458a;
        --err:#d0453a; --phase:#1b9aaa; --cold:#e0a526; --sel:#f2f5fb; }
@media (prefers-color-scheme: dark) {
  :root { --fg:#dfe3ea; --muted:#9aa3b5; --bg:#161a22; --grid:#2a303c; --bar:#5b8ee6; --crit:#9dbcf5;
          --err:#ef6b5f; --phase:#35c0cf; --cold:#f0bd4a; --sel:#202633; }
}
* { box-sizing: border-box; }
body { margin: 0; padding: 16px 20px; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
h1 { font-size: 16px; margin: 0 0 4px; font-weight: 600; }
h1 code { font-size: 15px; }
.summary, .coldstart, .coldstart-summary { color: var(--muted); margin: 2px 0; }
.coldstart, .coldstart-summary { color: var(--cold); }
.legend { margin: 8px 0 12px; color: var(--muted); display: flex; gap: 16px; flex-wrap: wrap; }
.legend i { display: inline-block; width: 18px; height: 9px; border-radius: 2px; margin-right: 5px; vertical-align: middle; }
#waterfall { width: 100%; border-top: 1px solid var(--grid); }
.row { display: grid; grid-template-columns: minmax(180px, 34%) 70px 1fr; align-items: center; min-height: 22px;
       border-bottom: 1px solid var(--grid); cursor: pointer; }
.row:hover, .row.selected { background: var(--sel); }
.head { cursor: default; color: var(--muted); font-size: 12px; }
.head:hover { background: none; }
.label { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; padding-right: 8px; }
.svc { font-weight: 600; margin-right: 5px; }
.dur { text-align: right; padding-right: 10px; font-variant-numeric: tabular-nums; color: var(--muted); }
.track { position: relative; height: 22px; margin-right: 4px; }
.axis { position: relative; height: 18px; margin-right: 4px; }
.axis span { position: absolute; top: 2px; font-size: 11px; }
.tick { position: absolute; top: 0; bottom: 0; border-left: 1px solid var(--grid); }
.bar { position: absolute; top: 6px; height: 10px; min-width: 2px; border-radius: 2px; background: var(--bar); }
.critical .bar { background: var(--crit); }
.phase .bar { background: repeating-linear-gradient(135deg, var(--phase) 0 4px, transparent 4px 6px); border: 1px solid var(--phase); }
.cold .bar { box-shadow: 0 0 0 2px var(--cold); }
.error .bar { background: var(--err); }
.error .label { color: var(--err); }
.kube .bar { background: none; border: 1px dashed var(--phase); }
.kube .op { color: var(--phase); }
.source { margin-left: 6px; padding: 0 4px; border: 1px solid var(--phase); border-radius: 3px; font-size: 11px; color: var(--phase); }
.flag { display: inline-block; width: 14px; font-weight: 700; }
.error .flag { color: var(--err); } .phase .flag { color: var(--phase); } .cold .flag { color: var(--cold); }
#details { margin-top: 14px; }
#details table { border-collapse: collapse; }
#details td { padding: 2px 12px 2px 0; vertical-align: top; font-family: ui-monospace, monospace; font-size: 12px; }
#details td:first-child { color: var(--muted); }
.warn { color: var(--err); }
</style>
</head>
<body>
<h1>Trace <code>{{.T.TraceID}}</code></h1>
<p class="summary">{{.T.RootService}} {{.T.RootOperation}} · started {{.Start}} · {{.Duration}} · {{.T.SpanCount}} spans · {{len .T.Services}} services{{if .T.Errors}} · <span class="warn">{{.T.Errors}} error(s)</span>{{end}}</p>
<p class="coldstart" id="coldstart"></p>
{{range .Summaries}}<p class="coldstart-summary">{{.}}</p>
{{end}}
<div class="legend">
  <span><i style="background:var(--bar)"></i>span</span>
  <span><i style="background:var(--crit)"></i>critical path</span>
  <span><i style="background:repeating-linear-gradient(135deg,var(--phase) 0 4px,transparent 4px 6px);border:1px solid var(--phase)"></i>cold-start phase</span>
  <span><i style="border:1px dashed var(--phase)"></i>phases from Kubernetes' records</span>
  <span><i style="box-shadow:0 0 0 2px var(--cold);background:var(--bar)"></i>waited for a cold start</span>
  <span><i style="background:var(--err)"></i>error</span>
</div>
<div id="waterfall" role="table" aria-label="trace waterfall"></div>
<div id="details"></div>
<script id="trace-data" type="application/json">{{.T}}</script>
<script>
(function () {
  "use strict";
  var trace = JSON.parse(document.getElementById("trace-data").textContent);
  var KUBERNETES = {{.Kubernetes}}, ATTR_IMAGE = {{.AttrImage}}, PRESENT = {{.Present}};
  var total = Math.max(trace.durationMicros, 1);
  var root = document.getElementById("waterfall");

  function fmt(us) {
    if (us === 0) return "0";
    if (us < 1000) return us + "\u00b5s";
    var ms = us / 1000;
    if (ms < 10) return +ms.toFixed(2) + "ms";
    if (ms < 100) return +ms.toFixed(1) + "ms";
    if (ms < 1000) return Math.round(ms) + "ms";
    var s = ms / 1000;
    if (s < 60) return +s.toFixed(2) + "s";
    return Math.floor(s / 60) + "m" + Math.round(s % 60) + "s";
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  var cs = trace.coldStart;
  if (cs) {
    var parts = [];
    if (cs.spanID) parts.push("waited " + fmt(cs.waitMicros) + " in " + cs.service + " \u201c" + cs.operationName + "\u201d");
    if (cs.phases) parts.push("phases: " + cs.phases.map(function (p) { return p.name + " " + fmt(p.durationMicros); }).join(", "));
    document.getElementById("coldstart").textContent = "Cold start: " + parts.join("; ");
  }

  var head = el("div", "row head");
  head.appendChild(el("div", "label", "service operation"));
  head.appendChild(el("div", "dur", "duration"));
  var axis = el("div", "axis");
  [0, 0.25, 0.5, 0.75, 1].forEach(function (f) {
    var tick = el("div", "tick"); tick.style.left = (f * 100) + "%"; axis.appendChild(tick);
    var lab = el("span", "", fmt(Math.round(f * total)));
    if (f === 1) { lab.style.right = "0"; } else { lab.style.left = "calc(" + (f * 100) + "% + 3px)"; }
    axis.appendChild(lab);
  });
  head.appendChild(axis);
  root.appendChild(head);

  var details = document.getElementById("details");
  function show(span, row) {
    var prev = root.querySelector(".row.selected");
    if (prev) prev.classList.remove("selected");
    row.classList.add("selected");
    details.textContent = "";
    details.appendChild(el("h2", "", span.service + " " + span.operationName)).style.fontSize = "14px";
    var table = el("table");
    function add(k, v) { var tr = el("tr"); tr.appendChild(el("td", "", k)); tr.appendChild(el("td", "", String(v))); table.appendChild(tr); }
    add("spanID", span.spanID);
    if (span.parentSpanID) add("parentSpanID", span.parentSpanID + (span.orphan ? " (not in the trace)" : ""));
    add("start", "+" + fmt(span.offsetMicros));
    add("duration", fmt(span.durationMicros));
    if (span.errorMessage) add("error", span.errorMessage);
    if (span.coldStartPhase) add("cold-start phase", span.coldStartPhase);
    if (span.coldStartSource) add("cold-start source", span.coldStartSource);
    Object.keys(span.tags || {}).sort().forEach(function (k) { add(k, span.tags[k]); });
    Object.keys(span.processTags || {}).sort().forEach(function (k) { add("process " + k, span.processTags[k]); });
    details.appendChild(table);
  }

  trace.spans.forEach(function (s) {
    var cls = "row span-row";
    var flag = "";
    if (s.critical) cls += " critical";
    if (s.coldStart) { cls += " cold"; flag = "*"; }
    if (s.coldStartPhase) { cls += " phase"; flag = "~"; }
    if (s.operationName === KUBERNETES) { cls += " kube"; flag = "~"; }
    if (s.error) { cls += " error"; flag = "!"; }
    var row = el("div", cls);
    row.setAttribute("role", "row");
    row.dataset.spanId = s.spanID;
    row.dataset.depth = s.depth;
    var label = el("div", "label");
    label.style.paddingLeft = (s.depth * 14) + "px";
    label.appendChild(el("span", "flag", flag));
    label.appendChild(el("span", "svc", s.service));
    label.appendChild(el("span", "op", s.operationName));
    if (s.coldStartPhase && s.coldStartSource) {
      var origin = s.coldStartSource;
      if (s.tags && s.tags[ATTR_IMAGE] === PRESENT) origin += " \u00b7 " + PRESENT;
      label.appendChild(el("span", "source", origin));
      row.dataset.source = s.coldStartSource;
    }
    label.title = s.service + " " + s.operationName;
    row.appendChild(label);
    row.appendChild(el("div", "dur", fmt(s.durationMicros)));
    var track = el("div", "track");
    var bar = el("div", "bar");
    bar.style.left = (s.offsetMicros / total * 100) + "%";
    bar.style.width = (s.durationMicros / total * 100) + "%";
    bar.title = fmt(s.durationMicros) + " at +" + fmt(s.offsetMicros);
    track.appendChild(bar);
    row.appendChild(track);
    row.addEventListener("click", function () { show(s, row); });
    root.appendChild(row);
  });

  function measure() {
    document.body.dataset.pageWidth = document.documentElement.clientWidth;
    root.querySelectorAll(".bar").forEach(function (b) {
      var r = b.getBoundingClientRect();
      b.dataset.left = Math.round(r.left);
      b.dataset.right = Math.round(r.right);
    });
    root.dataset.rendered = trace.spans.length;
  }
  measure();
  window.addEventListener("resize", measure);
})();
</script>
</body>
</html>
`))
