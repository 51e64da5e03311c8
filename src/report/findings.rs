//! The report's findings section: each anomaly the checker found with its
//! explanation, a drawing (a dependency cycle, or the operations involved on a time
//! axis), and links from every operation it names (`T12`, `#12`) to the timeline.

use super::data::Point;
use super::{escape, svg};
use faultline_checkers::{CheckResult, Evidence};
use std::collections::HashMap;
use std::fmt::Write;

/// How many cycles, operation anomalies or failures are drawn (the rest are counted).
const DRAWN: usize = 10;

/// Escapes `text` and turns the operations it names (`T12`, `#12`) into links.
pub fn linkify(text: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts_word = i == 0 || !chars[i - 1].is_alphanumeric();
        if (c == 'T' || c == '#') && starts_word && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
            let digits: String = chars[i + 1..].iter().take_while(|d| d.is_ascii_digit()).collect();
            let end = i + 1 + digits.len();
            if chars.get(end).is_none_or(|n| !n.is_alphanumeric()) {
                if let Ok(index) = digits.parse::<u64>() {
                    out.push_str(&svg::op_link(index, &format!("{c}{digits}")));
                    i = end;
                    continue;
                }
            }
        }
        out.push_str(&escape(&c.to_string()));
        i += 1;
    }
    out
}

/// The operations with these history indices that the report knows, in order.
fn ops_of<'a>(points: &HashMap<u64, &'a Point>, indices: impl IntoIterator<Item = u64>) -> Vec<&'a Point> {
    let mut seen = Vec::new();
    let mut ops = Vec::new();
    for i in indices {
        if !seen.contains(&i) {
            seen.push(i);
            ops.extend(points.get(&i).copied());
        }
    }
    ops.sort_by(|a, b| a.t.total_cmp(&b.t));
    ops
}

/// The findings section of `result` (a stored `CheckResult`), drawing operations
/// from `points`.
pub fn section(result: &CheckResult, points: &[Point]) -> String {
    let by_index: HashMap<u64, &Point> = points.iter().map(|p| (p.index, p)).collect();
    let mut h = String::new();
    let _ = write!(h, r#"<h2 id="anomalies">Checker findings: {}</h2><p>{}</p>"#, escape(&result.checker), escape(&result.summary));
    if !result.anomalies.is_empty() {
        h.push_str(r#"<table id="anomaly-counts"><tr><th>anomaly</th><th>count</th></tr>"#);
        for (name, n) in &result.anomalies {
            let _ = write!(h, "<tr><td>{}</td><td>{n}</td></tr>", escape(name));
        }
        h.push_str("</table>");
    }
    let mut drawn = false;
    let (cycles, anomalies, failures) = match &result.evidence {
        Evidence::Elle(e) => (&e.cycles[..], &e.anomalies[..], &[][..]),
        Evidence::Linearizable(l) => (&[][..], &[][..], &l.failures[..]),
        _ => (&[][..], &[][..], &[][..]),
    };
    for c in cycles.iter().take(DRAWN) {
        drawn = true;
        let _ = write!(h, r#"<div class="finding"><h3>{}</h3>{}<pre>"#, escape(&c.anomaly), svg::cycle(c));
        for line in &c.text {
            let _ = writeln!(h, "{}", linkify(line));
        }
        h.push_str("</pre></div>");
    }
    for a in anomalies.iter().take(DRAWN) {
        drawn = true;
        let involved = ops_of(&by_index, std::iter::once(a.txn).chain(a.others.iter().copied()));
        let _ = write!(h, r#"<div class="finding"><h3>{}</h3><p>{}</p>{}</div>"#, escape(&a.anomaly), linkify(&a.text), svg::ops_diagram(&involved, &[]));
    }
    for f in failures.iter().take(DRAWN) {
        drawn = true;
        let blocking: Vec<u64> = f.blocking.into_iter().collect();
        let involved = ops_of(&by_index, f.prefix_tail.iter().copied().chain(blocking.iter().copied()).chain(f.candidates.iter().copied()));
        let _ = write!(h, r#"<div class="finding"><h3>key {} is not linearizable</h3><p>The operations at the end of the longest linearizable prefix, the one that could not be placed (outlined) and those that could have gone next:</p>{}<pre>"#, escape(&f.key.to_string()), svg::ops_diagram(&involved, &blocking));
        for line in &f.explanation {
            let _ = writeln!(h, "{}", linkify(line));
        }
        h.push_str("</pre></div>");
    }
    let witnesses: Vec<u64> = result.witnesses.iter().copied().take(20).collect();
    if !drawn && !witnesses.is_empty() {
        let _ = write!(h, r#"<div class="finding"><h3>Operations that witness it</h3>{}</div>"#, svg::ops_diagram(&ops_of(&by_index, witnesses.iter().copied()), &witnesses));
    }
    // An empty box reads as something missing: valid runs often explain nothing more.
    if result.explanation.iter().any(|l| !l.trim().is_empty()) {
        h.push_str("<details><summary>The checker's full explanation</summary><pre>");
        for line in &result.explanation {
            let _ = writeln!(h, "{}", linkify(line));
        }
        h.push_str("</pre></details>");
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_operations_become_links_and_the_rest_is_escaped() {
        let html = linkify("T12 read <x> after #7; AT3 and T4b stay text");
        assert!(html.starts_with(r##"<a class="oplink" href="#op-12" data-op="12">T12</a> read &lt;x&gt; after <a class="oplink" href="#op-7" data-op="7">#7</a>;"##), "{html}");
        assert!(html.ends_with("AT3 and T4b stay text"), "{html}");
    }
}
