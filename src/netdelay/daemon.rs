//! The loop of `faultline delayd`: receive what iptables queued, hold it, accept it when
//! due. The kernel keeps a packet's place while userspace holds it, and verdicts may
//! come in any order, so holding costs no copies and reorders freely. On SIGTERM every
//! held packet is let go before the daemon exits, so stopping the fault loses nothing;
//! the rules use `--queue-bypass`, so without a daemon packets pass undelayed rather
//! than vanish.

use super::hold::{Held, Plan};
use faultline_history::generator::Rng;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Bytes of each packet copied to userspace: none are read, but the API needs a range.
const COPY_BYTES: u16 = 64;
/// The longest sleep between looks at the queue: new packets wait at most this long
/// before their holding time starts.
const TICK: Duration = Duration::from_millis(1);

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Delays every packet of NFQUEUE `queue` by `plan` (seeded with `seed`) until SIGTERM;
/// writes its pid to `pid_file` once the queue is bound (the sign to add the rules).
pub fn run(queue: u16, plan: Plan, seed: u64, pid_file: &Path) -> std::io::Result<()> {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, on_term as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_term as *const () as libc::sighandler_t);
    }
    let mut q = nfq::Queue::open()?;
    q.bind(queue)?;
    q.set_copy_range(queue, COPY_BYTES)?;
    // A full queue passes packets undelayed rather than dropping them.
    q.set_fail_open(queue, true)?;
    q.set_nonblocking(true);
    std::fs::write(pid_file, format!("{}\n", std::process::id()))?;
    let (started, mut rng, mut held) = (Instant::now(), Rng(seed), Held::default());
    while !STOP.load(Ordering::SeqCst) {
        loop {
            match q.recv() {
                Ok(msg) => {
                    let now = started.elapsed();
                    held.push(now + plan.hold_for(&mut rng), msg);
                }
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted) => break,
                // The kernel dropped messages it could not queue (ENOBUFS): go on.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => break,
                Err(e) => return Err(e),
            }
        }
        for mut msg in held.due(started.elapsed()) {
            msg.set_verdict(nfq::Verdict::Accept);
            q.verdict(msg)?;
        }
        let wait = held.next_release().map_or(TICK, |at| at.saturating_sub(started.elapsed()).min(TICK));
        std::thread::sleep(wait);
    }
    for mut msg in held.drain() {
        msg.set_verdict(nfq::Verdict::Accept);
        q.verdict(msg)?;
    }
    let _ = std::fs::remove_file(pid_file);
    Ok(())
}
