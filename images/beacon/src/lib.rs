//! beacon: a trivial faultline node that answers `/health` and `/status` over HTTP and
//! counts its boots in its data directory. It replicates nothing; it exists to test the
//! Docker runtime and the faults' plumbing.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::ExitCode;

/// The node's whole life: records the boot, then serves until the process ends.
/// Configuration comes from the environment faultline's runtime sets.
pub fn run() -> ExitCode {
    let node = std::env::var("FAULTLINE_NODE").unwrap_or_else(|_| "n?".to_owned());
    let data = std::env::var("FAULTLINE_DATA").unwrap_or_else(|_| "/data".to_owned());
    let port = std::env::var("FAULTLINE_PORT").unwrap_or_else(|_| "8080".to_owned());
    let boots = match count_boot(Path::new(&data)) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("beacon {node}: cannot record the boot in {data}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match TcpListener::bind(format!("0.0.0.0:{port}")) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("beacon {node}: cannot listen on port {port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("beacon {node}: boot {boots}, listening on port {port}");
    for stream in listener.incoming().flatten() {
        let node = node.clone();
        std::thread::spawn(move || {
            if let Err(e) = serve(stream, &node, boots) {
                eprintln!("beacon {node}: connection error: {e}");
            }
        });
    }
    ExitCode::SUCCESS
}

/// Reads, increments and durably writes the boot counter.
fn count_boot(data: &Path) -> std::io::Result<u64> {
    std::fs::create_dir_all(data)?;
    let path = data.join("boots");
    let boots = std::fs::read_to_string(&path).ok().and_then(|s| s.trim().parse::<u64>().ok()).unwrap_or(0) + 1;
    let tmp = data.join("boots.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(boots.to_string().as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    std::fs::File::open(data)?.sync_all()?;
    Ok(boots)
}

/// Answers one request on a connection.
fn serve(stream: TcpStream, node: &str, boots: u64) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (status, body) = match (parts.next(), parts.next()) {
        (Some("GET"), Some("/health")) => ("200 OK", serde_json::json!({"ok": true, "node": node})),
        (Some("GET"), Some("/status")) => {
            ("200 OK", serde_json::json!({"node": node, "role": "beacon", "boots": boots, "pid": std::process::id()}))
        }
        (Some(_), Some(path)) => ("404 Not Found", serde_json::json!({"error": format!("no such endpoint: {path}")})),
        _ => ("400 Bad Request", serde_json::json!({"error": "malformed request line", "definite": true})),
    };
    let body = body.to_string();
    let mut out = stream;
    write!(out, "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
    out.flush()
}
