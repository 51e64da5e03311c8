//! `faultline serve` over real HTTP: listings, text files shown as text, 404 pages.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `GET path`: (status line, headers and body as text).
fn get(port: u16, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("the server listens");
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.lines().next().unwrap_or("").to_owned();
    (status, text)
}

#[test]
fn the_store_is_browsable() {
    let store = tempfile::tempdir().unwrap();
    let run = store.path().join("raft-register").join("20260101T000000Z");
    std::fs::create_dir_all(run.join("nodes/n1")).unwrap();
    std::fs::write(run.join("history.jsonl"), "{\"index\":0}\n").unwrap();
    std::fs::write(run.join("nodes/n1/node.log"), "node started\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_faultline")).args(["serve", "--store", store.path().to_str().unwrap(), "--bind", &format!("127.0.0.1:{port}")]).spawn().unwrap();
    let _server = Server(child);
    let until = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, text) = get(port, "/raft-register/20260101T000000Z/history.jsonl");
    assert!(status.contains("200") && text.to_lowercase().contains("content-type: text/plain"), "histories show as text: {text}");
    let (_, text) = get(port, "/raft-register/20260101T000000Z/nodes/n1/node.log");
    assert!(text.to_lowercase().contains("content-type: text/plain") && text.contains("node started"), "{text}");
    let (status, text) = get(port, "/raft-register/20260101T000000Z");
    assert!(status.contains("200") && text.contains(r#"href="/raft-register/20260101T000000Z/history.jsonl""#) && text.contains("nodes/"), "a run directory is listed: {text}");
    let (status, text) = get(port, "/raft-register/nothing-here");
    assert!(status.contains("404") && text.contains("The store has nothing at /raft-register/nothing-here"), "{text}");
    let (status, _) = get(port, "/../../etc/passwd");
    assert!(status.contains("404") || status.contains("400"), "nothing outside the store: {status}");
}
