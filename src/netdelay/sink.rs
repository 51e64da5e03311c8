//! `faultline udp-sink`: a receiver that prints each UDP datagram it gets, in the order
//! it got them, so reordering and duplication can be observed where they matter, at
//! the receiving node (the Docker tests run it in a holder).

use std::io::Write;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

/// Prints every datagram that reaches `port` (one line each, its text trimmed) until
/// `quiet` passes without one after the first, or `limit` in all; answers how many.
pub fn run(port: u16, quiet: Duration, limit: Duration, out: &mut impl Write) -> std::io::Result<usize> {
    let socket = UdpSocket::bind(("0.0.0.0", port))?;
    let started = Instant::now();
    let mut buf = vec![0u8; 65_536];
    let mut count = 0;
    // Until the first datagram, wait up to the whole limit; then up to `quiet`.
    socket.set_read_timeout(Some(limit))?;
    while started.elapsed() < limit {
        match socket.recv(&mut buf) {
            Ok(n) => {
                writeln!(out, "{}", String::from_utf8_lossy(&buf[..n]).trim())?;
                count += 1;
                socket.set_read_timeout(Some(quiet))?;
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => break,
            Err(e) => return Err(e),
        }
    }
    out.flush()?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_datagrams_in_arrival_order_and_stops_when_quiet() {
        let port = {
            let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            for m in ["3", "1", "2\n"] {
                s.send_to(m.as_bytes(), ("127.0.0.1", port)).unwrap();
            }
        });
        let mut out = Vec::new();
        let n = run(port, Duration::from_millis(300), Duration::from_secs(5), &mut out).unwrap();
        sender.join().unwrap();
        assert_eq!((n, String::from_utf8(out).unwrap()), (3, "3\n1\n2\n".to_owned()));
    }
}
