//! `faultline serve`: the store over HTTP. `/` lists the runs and the grading
//! scorecards, newest first, coloured by verdict and filterable; everything else is the
//! store's files (reports, logs, histories), served read-only from inside the store and
//! nowhere else: a directory as a listing, text files (`.jsonl`, `.log`, `.edn`) as text
//! so a browser shows them, and a missing path as a page that says so.

use super::escape;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use faultline_checkers::Validity;
use std::path::{Path, PathBuf};
use tower_http::services::ServeDir;

/// The head of a grading's `scorecard.json` (`grade::scorecard::Scorecard`), all the
/// index shows of it.
#[derive(Debug, serde::Deserialize)]
struct ScorecardHeadline {
    matrix: String,
    cells_run: usize,
    passed: usize,
    deviations: usize,
}

/// A stored run, as the index lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEntry {
    /// Its directory, relative to the store.
    pub path: String,
    /// valid, invalid, unknown, or "no results" (interrupted or running).
    pub verdict: String,
    /// Design, bugs, workload and nemesis.
    pub what: String,
    /// Its one-line summary.
    pub summary: String,
    /// Its page: `report.html`, or `scorecard.html` for a grading.
    pub page: &'static str,
}

/// Every run in `store` (`<name>/<timestamp>/`), newest first.
pub fn runs(store: &Path) -> Vec<RunEntry> {
    let mut entries = Vec::new();
    for test in std::fs::read_dir(store).into_iter().flatten().flatten().filter(|e| e.file_name() != "latest") {
        for run in std::fs::read_dir(test.path()).into_iter().flatten().flatten() {
            let dir = run.path();
            let path = dir.strip_prefix(store).unwrap_or(&dir).display().to_string();
            let test = crate::store::read_test(&dir);
            if test.is_err() {
                if let Ok(card) = crate::store::read_json::<ScorecardHeadline>(&dir, "scorecard.json") {
                    entries.push(RunEntry {
                        path,
                        verdict: if card.deviations == 0 { "valid" } else { "invalid" }.to_owned(),
                        what: format!("scorecard of {}", card.matrix),
                        summary: format!("{} of {} cells as expected, {} deviation(s)", card.passed, card.cells_run, card.deviations),
                        page: "scorecard.html",
                    });
                }
                continue;
            }
            let Ok(test) = test else { continue };
            let results = crate::store::read_results(&dir).ok();
            let o = &test.options;
            entries.push(RunEntry {
                path,
                verdict: match results.as_ref().map(|r| r.valid) {
                    Some(Validity::Valid) => "valid",
                    Some(Validity::Invalid) => "invalid",
                    Some(Validity::Unknown) => "unknown",
                    None => "no results",
                }
                .to_owned(),
                what: format!(
                    "{}{} · {} · {}",
                    test.design.name(),
                    if o.bugs.is_empty() { String::new() } else { format!(" [{}]", o.bugs.join(", ")) },
                    o.workload,
                    o.nemesis
                ),
                summary: results.map(|r| r.result.summary).unwrap_or_default(),
                page: "report.html",
            });
        }
    }
    entries.sort_by(|a, b| b.path.rsplit('/').next().cmp(&a.path.rsplit('/').next()));
    entries
}

/// The index page.
pub fn index(entries: &[RunEntry]) -> String {
    let mut rows = String::new();
    for e in entries {
        let colour = match e.verdict.as_str() {
            "valid" => "#d3f9d8",
            "invalid" => "#ffe3e3",
            _ => "#fff3bf",
        };
        let p = escape(&e.path);
        rows.push_str(&format!(
            r#"<tr style="background:{colour}" data-text="{}"><td><a href="/{p}/{}">{p}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            escape(&format!("{} {} {}", e.path, e.what, e.verdict).to_lowercase()),
            e.page,
            escape(&e.verdict),
            escape(&e.what),
            escape(&e.summary)
        ));
    }
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>faultline runs</title><style>body{{font:14px system-ui,sans-serif;margin:24px}} td,th{{padding:4px 8px;text-align:left}}</style></head><body>
<h1>faultline runs</h1><input id="q" placeholder="filter (design, bug, workload, verdict…)" size="50" oninput="for(const r of document.querySelectorAll('tr[data-text]'))r.hidden=!r.dataset.text.includes(this.value.toLowerCase())">
<table><tr><th>run</th><th>verdict</th><th>what</th><th>summary</th></tr>{rows}</table></body></html>"#
    )
}

/// The content type faultline's own text files are served with (what a browser
/// would otherwise download), by the path's extension.
fn text_type(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.').map(|(_, e)| e)?;
    matches!(ext, "jsonl" | "log" | "edn" | "txt").then_some("text/plain; charset=utf-8")
}

/// `%XX` escapes of a URL path decoded (a store path may hold spaces).
fn decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A directory of the store as a page of links, or a page saying nothing is there.
fn listing_or_missing(store: &Path, url_path: &str) -> Response {
    let relative = decode(url_path.trim_start_matches('/'));
    let inside = !relative.split('/').any(|c| c == "..");
    let dir = store.join(&relative);
    if inside && dir.is_dir() {
        let mut names: Vec<(String, bool)> = std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| (e.file_name().to_string_lossy().into_owned(), e.path().is_dir())).collect();
        names.sort();
        let base = url_path.trim_end_matches('/');
        let items: String = names
            .iter()
            .map(|(n, is_dir)| {
                let shown = if *is_dir { format!("{n}/") } else { n.clone() };
                format!(r#"<li><a href="{}/{}">{}</a></li>"#, escape(base), escape(&shown), escape(&shown))
            })
            .collect();
        let title = escape(&format!("/{relative}"));
        return Html(format!(r#"<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head><body><p><a href="/">all runs</a></p><h1>{title}</h1><ul>{items}</ul></body></html>"#)).into_response();
    }
    let page = format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>not found</title></head><body><h1>Not found</h1><p>The store has nothing at {}.</p><p><a href="/">all runs</a></p></body></html>"#,
        escape(url_path)
    );
    (StatusCode::NOT_FOUND, Html(page)).into_response()
}

/// Gives faultline's text files a text content type.
async fn text_files(request: Request, next: Next) -> Response {
    let content_type = text_type(request.uri().path());
    let mut response = next.run(request).await;
    if let (Some(t), true) = (content_type, response.status().is_success()) {
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(t));
    }
    response
}

/// The server's routes over `store`.
pub fn router(store: PathBuf) -> Router {
    let missing_store = store.clone();
    let missing = axum::handler::HandlerWithoutStateExt::into_service(move |request: Request| {
        let store = missing_store.clone();
        async move { listing_or_missing(&store, request.uri().path()) }
    });
    let files = ServeDir::new(&store).append_index_html_on_directories(false).fallback(missing);
    Router::new()
        .route("/", get(move || { let store = store.clone(); async move { Html(index(&runs(&store))) } }))
        .fallback_service(files)
        .layer(axum::middleware::from_fn(text_files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_runs_newest_first_and_escapes_them() {
        let store = tempfile::tempdir().unwrap();
        for (name, stamp, valid) in [("raft-register", "20260101T000000Z", Validity::Valid), ("dynamo-set", "20260102T000000Z", Validity::Invalid)] {
            let dir = crate::store::RunDir { path: store.path().join(name).join(stamp) };
            std::fs::create_dir_all(&dir.path).unwrap();
            let mut test = crate::store::sample::test_record();
            test.design.spec.name = "<b>x</b>".into();
            dir.write_json("test.json", &test).unwrap();
            let result = faultline_checkers::CheckResult::new("c", valid, "s".into(), vec![], faultline_checkers::Evidence::None);
            dir.write_json("results.json", &crate::store::sample::results_record(result)).unwrap();
        }
        let card = store.path().join("scorecard").join("20260103T000000Z");
        std::fs::create_dir_all(&card).unwrap();
        std::fs::write(card.join("scorecard.json"), r#"{"matrix":"nightly","passed":3,"cells_run":4,"deviations":1}"#).unwrap();
        let entries = runs(store.path());
        assert_eq!(
            entries.iter().map(|e| (e.path.as_str(), e.verdict.as_str(), e.page)).collect::<Vec<_>>(),
            [("scorecard/20260103T000000Z", "invalid", "scorecard.html"), ("dynamo-set/20260102T000000Z", "invalid", "report.html"), ("raft-register/20260101T000000Z", "valid", "report.html")]
        );
        let page = index(&entries);
        assert!(!page.contains("<b>x</b>") && page.contains("&lt;b&gt;x&lt;/b&gt;"));
    }
}
