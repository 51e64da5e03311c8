//! The report's operation timeline: one row per client process, each operation a bar
//! from invocation to completion, coloured by outcome, fault windows shaded. The
//! operations travel as JSON inside the page and a small script draws one page of
//! time at a time, so a 100k-operation history opens as fast as a small one. Links
//! to operations anywhere in the report (`.oplink`) page the timeline to them.

use super::data::ReportData;
use serde_json::json;

/// JSON that is safe inside a `<script>` element: no `<`, `>` or `&` survive
/// (they become `\u003c`…, which JSON reads back as the same characters).
fn script_safe_json(value: &serde_json::Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into()).replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

/// The timeline section: controls, the drawing area, its data and its script.
pub fn section(d: &ReportData) -> String {
    let mut functions: Vec<&str> = d.points.iter().map(|p| p.f.as_str()).collect();
    functions.sort_unstable();
    functions.dedup();
    let mut order: Vec<usize> = (0..d.points.len()).collect();
    order.sort_by(|&a, &b| d.points[a].t.total_cmp(&d.points[b].t));
    let ops: Vec<serde_json::Value> = order
        .iter()
        .map(|&i| {
            let p = &d.points[i];
            let outcome = match p.outcome {
                "ok" => 0,
                "fail" => 1,
                _ => 2,
            };
            let f = functions.iter().position(|f| *f == p.f).unwrap_or(0);
            json!([p.index, p.process, (p.t * 1e4).round() / 1e4, (p.latency_ms * 100.0).round() / 100.0, outcome, f, p.value])
        })
        .collect();
    let faults: Vec<serde_json::Value> = d.faults.iter().map(|w| json!([w.start, w.end, w.kind])).collect();
    let data = json!({"ops": ops, "fs": functions, "faults": faults, "duration": d.duration});
    format!(
        r#"<h2>Timeline</h2><div id="timeline-controls"><button type="button" id="tl-prev">◀ earlier</button> <button type="button" id="tl-next">later ▶</button> page <select id="tl-page"><option>1</option><option>5</option><option>10</option><option>30</option><option>60</option><option>300</option></select> s · go to operation # <input id="tl-goto" size="8"> <span id="tl-label"></span></div><div id="timeline"></div>
<script type="application/json" id="timeline-data">{}</script>
<script type="text/javascript">{}</script>"#,
        script_safe_json(&data),
        SCRIPT
    )
}

/// Draws the timeline page by page with DOM calls (no markup built from values).
const SCRIPT: &str = r#"
(function () {
  var D = JSON.parse(document.getElementById('timeline-data').textContent);
  var ops = D.ops, NS = 'http://www.w3.org/2000/svg', MAX = 4000;
  var colours = ['#2b8a3e', '#e67700', '#c92a2a'], names = ['ok', 'fail', 'info'];
  var at = {}, maxLatency = 0;
  ops.forEach(function (o, i) { at[o[0]] = i; maxLatency = Math.max(maxLatency, o[3] / 1000); });
  var select = document.getElementById('tl-page');
  var rate = ops.length / Math.max(D.duration, 1);
  var page = [1, 5, 10, 30, 60, 300].filter(function (s) { return s * rate <= 2000; }).pop() || 1;
  select.value = String(page);
  var start = 0, marked = null;
  function el(name, attrs, text) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function firstFrom(t) { var lo = 0, hi = ops.length; while (lo < hi) { var m = (lo + hi) >> 1; if (ops[m][2] < t) lo = m + 1; else hi = m; } return lo; }
  function render() {
    var end = start + page, shown = [], rows = {}, procs = [];
    for (var i = firstFrom(start - maxLatency); i < ops.length && ops[i][2] < end; i++) {
      var o = ops[i];
      if (o[2] + o[3] / 1000 < start) continue;
      if (shown.length >= MAX) break;
      shown.push(o);
      if (!(o[1] in rows)) { rows[o[1]] = 0; procs.push(o[1]); }
    }
    procs.sort(function (a, b) { return a - b; });
    procs.forEach(function (p, k) { rows[p] = k; });
    var W = 960, L = 56, R = 14, H = procs.length * R + 24;
    var x = function (t) { return L + (W - L - 6) * (Math.min(Math.max(t, start), end) - start) / page; };
    var svg = el('svg', { viewBox: '0 0 ' + W + ' ' + H, width: '100%' });
    D.faults.forEach(function (f) {
      if (f[1] < start || f[0] > end) return;
      var r = el('rect', { 'class': 'fault', x: x(f[0]), y: 0, width: Math.max(x(f[1]) - x(f[0]), 2), height: H - 20, fill: '#ffd8a8', 'fill-opacity': 0.5 });
      r.appendChild(el('title', {}, f[2]));
      svg.appendChild(r);
    });
    procs.forEach(function (p) { svg.appendChild(el('text', { x: 2, y: rows[p] * R + 10, 'font-size': 9, fill: '#555' }, 'p' + p)); });
    shown.forEach(function (o) {
      var a = x(o[2]), b = x(o[2] + o[3] / 1000);
      var attrs = { id: 'op-' + o[0], x: a, y: rows[o[1]] * R + 2, width: Math.max(b - a, 1.5), height: R - 4, fill: colours[o[4]] };
      if (o[0] === marked) { attrs.stroke = '#000'; attrs['stroke-width'] = 2; }
      var r = el('rect', attrs);
      r.appendChild(el('title', {}, '#' + o[0] + ' p' + o[1] + ' ' + D.fs[o[5]] + ' → ' + names[o[4]] + ' ' + o[6] + ' (' + o[2].toFixed(3) + ' s, ' + o[3] + ' ms)'));
      svg.appendChild(r);
    });
    for (var s = 0; s <= 10; s++) {
      svg.appendChild(el('text', { x: L + (W - L - 6) * s / 10, y: H - 6, 'font-size': 9, 'text-anchor': 'middle', fill: '#555' }, (start + page * s / 10).toFixed(page < 10 ? 1 : 0) + 's'));
    }
    var box = document.getElementById('timeline');
    box.replaceChildren(svg);
    box.setAttribute('data-rendered', String(shown.length));
    document.getElementById('tl-label').textContent = start.toFixed(1) + '–' + end.toFixed(1) + ' s of ' + D.duration.toFixed(1) + ' s · ' + shown.length + ' operations' + (shown.length >= MAX ? ' (the first ' + MAX + '; choose a shorter page)' : '');
  }
  function show(index) {
    if (!(index in at)) return;
    var o = ops[at[index]];
    start = Math.max(0, Math.floor(o[2] / page) * page);
    marked = index;
    render();
    document.getElementById('timeline').scrollIntoView();
  }
  document.getElementById('tl-prev').onclick = function () { start = Math.max(0, start - page); render(); };
  document.getElementById('tl-next').onclick = function () { if (start + page < D.duration) start += page; render(); };
  select.onchange = function () { page = Number(select.value); start = Math.floor(start / page) * page; render(); };
  document.getElementById('tl-goto').onchange = function (e) { show(Number(e.target.value.replace('#', ''))); };
  document.addEventListener('click', function (e) {
    var link = e.target.closest && e.target.closest('.oplink');
    if (!link) return;
    e.preventDefault();
    show(Number(link.getAttribute('data-op')));
  });
  render();
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_json_cannot_close_its_script_element() {
        let v = json!({"value": "</script><script>alert(1)</script> & more"});
        let safe = script_safe_json(&v);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'), "{safe}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&safe).ok(), Some(v), "the JSON reads back unchanged");
    }
}
