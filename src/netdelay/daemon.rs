//! The loop of `faultline delayd`: receive what iptables queued, hold it, accept it when
//! due. The kernel keeps a packet's place while userspace holds it, and verdicts may
//! come in any order, so holding costs no copies and reorders freely. On SIGTERM every
//! held packet is let go before the daemon exits, so stopping the fault loses nothing;
//! the rules use `--queue-bypass`, so without a daemon packets pass undelayed rather
//! than vanish. On SIGHUP the daemon rereads its plan file and holds new packets by the
//! new plan, while those it holds keep their release times: a delay that changes (a
//! link growing slower in steps) never opens a gap in the traffic, as restarting the
//! daemon would, releasing everything at once and then nothing for the new delay.

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
static RELOAD: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

extern "C" fn on_hup(_: libc::c_int) {
    RELOAD.store(true, Ordering::SeqCst);
}

/// Delays every packet of NFQUEUE `queue` by `plan` (seeded with `seed`) until SIGTERM,
/// taking a new plan from `plan_file` on SIGHUP; writes its pid to `pid_file` once the
/// queue is bound and the signals are handled (the sign to add the rules).
pub fn run(queue: u16, mut plan: Plan, plan_file: Option<&Path>, seed: u64, pid_file: &Path) -> std::io::Result<()> {
    // SAFETY: the handlers only store to atomics, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, on_term as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_term as *const () as libc::sighandler_t);
        libc::signal(libc::SIGHUP, on_hup as *const () as libc::sighandler_t);
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
        if let Some(file) = plan_file.filter(|_| RELOAD.swap(false, Ordering::SeqCst)) {
            // A plan that cannot be read leaves the old one in force, said in the log.
            match std::fs::read_to_string(file).map_err(|e| e.to_string()).and_then(|text| Plan::parse(&text)) {
                Ok(new) => plan = new,
                Err(e) => eprintln!("delayd: keeping {plan:?}: cannot read {}: {e}", file.display()),
            }
        }
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
