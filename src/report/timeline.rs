//! The report's operation timeline: one row per client process, or one per key (as
//! Porcupine draws it; a transaction sits in the row of each key it touched), each
//! operation a bar from invocation to completion, coloured by outcome and labelled
//! with its value where the bar is wide enough, fault windows shaded. The x axis is
//! time, or event order (each invocation and completion one step, so even a short
//! operation has room for its value). The operations travel as JSON inside the page
//! and a small script draws one page at a time, so a 100k-operation history opens as
//! fast as a small one. Links
//! to operations anywhere in the report (`.oplink`) page the timeline to them.

use super::data::ReportData;
use serde_json::json;

/// JSON that is safe inside a `<script>` element: no `<`, `>` or `&` survive
/// (they become `\u003c`…, which JSON reads back as the same characters).
fn script_safe_json(value: &serde_json::Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into()).replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

/// Each operation's invocation and completion as ranks among all client events in
/// time order: the x axis of the event-order view, where every operation gets room
/// for its value however short it was (as Jepsen's and Porcupine's timelines do).
fn event_ranks(d: &ReportData) -> (Vec<(usize, usize)>, Vec<f64>) {
    let mut events: Vec<(f64, bool, usize)> = Vec::with_capacity(d.points.len() * 2);
    for (i, p) in d.points.iter().enumerate() {
        events.push((p.t, false, i));
        events.push((p.t + p.latency_ms / 1e3, true, i));
    }
    // At equal times an invocation comes first, so no operation ends before it starts.
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut ranks = vec![(0, 0); d.points.len()];
    for (rank, &(_, completion, i)) in events.iter().enumerate() {
        if completion {
            ranks[i].1 = rank;
        } else {
            ranks[i].0 = rank;
        }
    }
    (ranks, events.iter().map(|e| e.0).collect())
}

/// The timeline section: controls, the drawing area, its data and its script.
pub fn section(d: &ReportData) -> String {
    let mut functions: Vec<&str> = d.points.iter().map(|p| p.f.as_str()).collect();
    functions.sort_unstable();
    functions.dedup();
    let mut keys: Vec<&str> = d.points.iter().flat_map(|p| p.keys.iter().map(String::as_str)).collect();
    keys.sort_unstable();
    keys.dedup();
    let (ranks, event_times) = event_ranks(d);
    let mut order: Vec<usize> = (0..d.points.len()).collect();
    order.sort_by(|&a, &b| d.points[a].t.total_cmp(&d.points[b].t).then(ranks[a].0.cmp(&ranks[b].0)));
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
            let ks: Vec<usize> = p.keys.iter().filter_map(|k| keys.binary_search(&k.as_str()).ok()).collect();
            json!([p.index, p.process, (p.t * 1e4).round() / 1e4, (p.latency_ms * 100.0).round() / 100.0, outcome, f, p.value, ks, ranks[i].0, ranks[i].1, p.brief])
        })
        .collect();
    let rank_of = |t: f64| event_times.partition_point(|&e| e < t);
    let faults: Vec<serde_json::Value> = d.faults.iter().map(|w| json!([w.start, w.end, w.kind, rank_of(w.start), rank_of(w.end)])).collect();
    let data = json!({"ops": ops, "fs": functions, "ks": keys, "faults": faults, "duration": d.duration, "events": event_times.len()});
    format!(
        r#"<h2>Timeline</h2><div id="timeline-controls"><button type="button" id="tl-prev">◀ earlier</button> <button type="button" id="tl-next">later ▶</button> rows <select id="tl-rows"><option value="process">per process</option><option value="key">per key</option></select> · x <select id="tl-x"><option value="time">time</option><option value="order">event order</option></select> · page <select id="tl-page"></select> <span id="tl-unit"></span> · go to operation # <input id="tl-goto" size="8"> <span id="tl-label"></span></div><div id="timeline"></div>
<script type="application/json" id="timeline-data">{}</script>
<script type="text/javascript">{}</script>"#,
        script_safe_json(&data),
        SCRIPT
    )
}

/// Draws the timeline page by page with DOM calls (no markup built from values).
/// An operation is `[index, process, t, latency ms, outcome, f, value, keys,
/// invocation rank, completion rank, value without its key]`; the x axis is time or
/// event rank.
const SCRIPT: &str = r#"
(function () {
  var D = JSON.parse(document.getElementById('timeline-data').textContent);
  var ops = D.ops, NS = 'http://www.w3.org/2000/svg', MAX = 4000;
  var colours = ['#2b8a3e', '#e67700', '#c92a2a'], outcomes = ['ok', 'fail', 'info'];
  var at = {}, maxLatency = 0, maxRanks = 0;
  ops.forEach(function (o, i) { at[o[0]] = i; maxLatency = Math.max(maxLatency, o[3] / 1000); maxRanks = Math.max(maxRanks, o[9] - o[8] + 1); });
  var pageSelect = document.getElementById('tl-page'), rowsSelect = document.getElementById('tl-rows'), xSelect = document.getElementById('tl-x');
  var byKey = false, byOrder = false, start = 0, page = 1, marked = null;
  var choices = { time: [1, 5, 10, 30, 60, 300], order: [20, 30, 50, 100, 200, 500, 1000] };
  // Where an operation starts and ends on the current axis.
  function lo(o) { return byOrder ? o[8] : o[2]; }
  function hi(o) { return byOrder ? o[9] + 1 : o[2] + o[3] / 1000; }
  function total() { return byOrder ? D.events : D.duration; }
  function setAxis(order) {
    byOrder = order;
    var rate = ops.length / Math.max(D.duration, 1), options = choices[order ? 'order' : 'time'];
    page = order ? 30 : (options.filter(function (s) { return s * rate <= 2000; }).pop() || 1);
    pageSelect.replaceChildren();
    options.forEach(function (v) { var o = document.createElement('option'); o.textContent = String(v); pageSelect.appendChild(o); });
    pageSelect.value = String(page);
    document.getElementById('tl-unit').textContent = order ? 'events' : 's';
    start = 0;
  }
  function el(name, attrs, text) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function firstFrom(v) { var a = 0, b = ops.length; while (a < b) { var m = (a + b) >> 1; if (lo(ops[m]) < v) a = m + 1; else b = m; } return a; }
  // The rows an operation is drawn in: its process, or each key it touched.
  function rowsOf(o) {
    if (!byKey) return ['p' + o[1]];
    return o[7].length ? o[7].map(function (k) { return 'key ' + D.ks[k]; }) : ['(no key)'];
  }
  function rowOrder(a, b) {
    if (!byKey) return Number(a.slice(1)) - Number(b.slice(1));
    var na = Number(a.slice(4)), nb = Number(b.slice(4));
    if (a.slice(0, 4) === 'key ' && b.slice(0, 4) === 'key ' && !isNaN(na) && !isNaN(nb)) return na - nb;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  function render() {
    var end = start + page, shown = [], rows = {}, names = [], bars = 0;
    for (var i = firstFrom(start - (byOrder ? maxRanks : maxLatency)); i < ops.length && lo(ops[i]) < end; i++) {
      var o = ops[i];
      if (hi(o) < start) continue;
      if (bars >= MAX) break;
      shown.push(o);
      rowsOf(o).forEach(function (r) { bars++; if (!(r in rows)) { rows[r] = 0; names.push(r); } });
    }
    names.sort(rowOrder);
    names.forEach(function (r, k) { rows[r] = k; });
    var W = 960, L = byKey ? 90 : 56, R = 14, H = names.length * R + 24;
    var x = function (v) { return L + (W - L - 6) * (Math.min(Math.max(v, start), end) - start) / page; };
    var svg = el('svg', { viewBox: '0 0 ' + W + ' ' + H, width: '100%' });
    D.faults.forEach(function (f) {
      var a = byOrder ? f[3] : f[0], b = byOrder ? f[4] : f[1];
      if (b < start || a > end) return;
      var r = el('rect', { 'class': 'fault', x: x(a), y: 0, width: Math.max(x(b) - x(a), 2), height: H - 20, fill: '#ffd8a8', 'fill-opacity': 0.5 });
      r.appendChild(el('title', {}, f[2]));
      svg.appendChild(r);
    });
    names.forEach(function (r) {
      var label = el('text', { x: 2, y: rows[r] * R + 10, 'font-size': 9, fill: '#555' }, r.length > 16 ? r.slice(0, 15) + '…' : r);
      label.appendChild(el('title', {}, r));
      svg.appendChild(label);
    });
    shown.forEach(function (o) {
      var a = x(lo(o)), b = x(hi(o)), w = Math.max(b - a - (byOrder ? 1 : 0), 1.5);
      var title = '#' + o[0] + ' p' + o[1] + ' ' + D.fs[o[5]] + ' → ' + outcomes[o[4]] + ' ' + o[6] + ' (' + o[2].toFixed(3) + ' s, ' + o[3] + ' ms)';
      rowsOf(o).forEach(function (row, n) {
        var y = rows[row] * R + 2;
        // The first bar of an operation carries its id, so links find one element.
        var attrs = { 'class': 'op', x: a, y: y, width: w, height: R - 4, fill: colours[o[4]] };
        if (n === 0) attrs.id = 'op-' + o[0];
        if (o[0] === marked) { attrs.stroke = '#000'; attrs['stroke-width'] = 2; }
        var r = el('rect', attrs);
        r.appendChild(el('title', {}, title));
        svg.appendChild(r);
        // The value on the bar, as Jepsen's timeline shows it, cut to the bar's width.
        var fits = Math.floor((w - 4) / 4.6);
        if (fits >= 3) {
          var text = D.fs[o[5]] + ' ' + o[10];
          var t = el('text', { 'class': 'op-label', x: a + 2, y: y + R - 6, 'font-size': 8, fill: '#fff' }, text.length > fits ? text.slice(0, fits - 1) + '…' : text);
          t.appendChild(el('title', {}, title));
          svg.appendChild(t);
        }
      });
    });
    for (var s = 0; s <= 10; s++) {
      var v = start + page * s / 10;
      var label = byOrder ? '#' + Math.round(v) : v.toFixed(page < 10 ? 1 : 0) + 's';
      svg.appendChild(el('text', { x: L + (W - L - 6) * s / 10, y: H - 6, 'font-size': 9, 'text-anchor': 'middle', fill: '#555' }, label));
    }
    var box = document.getElementById('timeline');
    box.replaceChildren(svg);
    box.setAttribute('data-rendered', String(shown.length));
    box.setAttribute('data-rows', String(names.length));
    box.setAttribute('data-labels', String(svg.querySelectorAll('.op-label').length));
    var span = byOrder ? 'events ' + start + '–' + end + ' of ' + D.events : start.toFixed(1) + '–' + end.toFixed(1) + ' s of ' + D.duration.toFixed(1) + ' s';
    document.getElementById('tl-label').textContent = span + ' · ' + shown.length + ' operations' + (bars >= MAX ? ' (the first ' + MAX + ' bars; choose a shorter page)' : '');
  }
  function show(index) {
    if (!(index in at)) return;
    var o = ops[at[index]];
    start = Math.max(0, Math.floor(lo(o) / page) * page);
    marked = index;
    render();
    document.getElementById('timeline').scrollIntoView();
  }
  document.getElementById('tl-prev').onclick = function () { start = Math.max(0, start - page); render(); };
  document.getElementById('tl-next').onclick = function () { if (start + page < total()) start += page; render(); };
  pageSelect.onchange = function () { page = Number(pageSelect.value); start = Math.floor(start / page) * page; render(); };
  rowsSelect.onchange = function () { byKey = rowsSelect.value === 'key'; render(); };
  xSelect.onchange = function () { setAxis(xSelect.value === 'order'); render(); };
  document.getElementById('tl-goto').onchange = function (e) { show(Number(e.target.value.replace('#', ''))); };
  document.addEventListener('click', function (e) {
    var link = e.target.closest && e.target.closest('.oplink');
    if (!link) return;
    e.preventDefault();
    show(Number(link.getAttribute('data-op')));
  });
  // report.html#by-key opens the per-key rows in event order, the view that fits
  // every operation's value.
  var keyed = location.hash === '#by-key' && D.ks.length > 0;
  if (keyed) { rowsSelect.value = 'key'; xSelect.value = 'order'; byKey = true; }
  setAxis(keyed);
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

#[cfg(test)]
mod rank_tests {
    use super::*;

    #[test]
    fn ranks_put_every_invocation_before_its_completion() {
        use faultline_history::{Op, OpType, Process};
        let mut ops = Vec::new();
        for (p, inv, done) in [(0u64, 0i64, 30i64), (1, 10, 10), (2, 20, 40)] {
            for (kind, ms) in [(OpType::Invoke, inv), (OpType::Ok, done)] {
                let mut o = Op::new(kind, Process::Client(p), "write", json!([1, p]));
                o.time = ms * 1_000_000;
                ops.push(o);
            }
        }
        ops.sort_by_key(|o| o.time);
        let d = crate::report::data::compute(&ops);
        let (ranks, times) = event_ranks(&d);
        let by_process: std::collections::BTreeMap<u64, (usize, usize)> = d.points.iter().zip(&ranks).map(|(p, r)| (p.process, *r)).collect();
        assert_eq!(by_process.into_values().collect::<Vec<_>>(), [(0, 4), (1, 2), (3, 5)]);
        assert_eq!(times.len(), 6);
    }
}
