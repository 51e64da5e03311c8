//! The interpreter: runs a generator against real workers. Client threads run the
//! workload's transactions through an adapter, each under a timeout; the nemesis
//! thread runs faults. Every invocation and completion is written to the history as
//! it happens (buffered, flushed at least every 200 ms). A client never retries: a
//! timeout, a lost connection or a panic is `info`, and that thread then continues as a
//! new process (old id + concurrency).

use faultline_history::generator::{Ctx, Event, EventKind, Gen, Invocation, Step, Thread};
use faultline_history::{JsonlWriter, Op, OpType, Process};
use faultline_nemesis::Executor;
use faultline_workloads::adapter::{Adapter, TxnOutcome};
use faultline_workloads::Workload;
use futures_util::FutureExt;
use serde_json::Value;
use std::fs::File;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What the interpreter needs.
pub struct Interpreter {
    /// The workload (operations ↔ transactions).
    pub workload: Arc<dyn Workload>,
    /// How transactions reach the system.
    pub adapter: Arc<dyn Adapter>,
    /// Runs faults.
    pub executor: Arc<Executor>,
    /// The nodes; client thread i talks to node i mod n.
    pub nodes: Vec<String>,
    /// Client threads.
    pub concurrency: usize,
    /// How long a client operation may take before it is `info`.
    pub op_timeout: Duration,
    /// When the test began (times are nanoseconds since).
    pub started: Instant,
    /// The history being written.
    pub history: Arc<Mutex<HistoryLog>>,
}

/// How often buffered history events reach the file.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// Something that watches every history event as it is written (progress displays).
pub type EventWatcher = Box<dyn Fn(&Op) + Send>;

/// The history file and what was written to it.
pub struct HistoryLog {
    writer: JsonlWriter<File>,
    next_index: u64,
    last_flush: Instant,
    /// Client completions written, and how many of them were ok.
    completed: (u64, u64),
    /// Watchers of every event (progress display), called after each write.
    pub on_event: Option<EventWatcher>,
}

impl HistoryLog {
    /// A history written to `writer`.
    pub fn new(writer: JsonlWriter<File>) -> HistoryLog {
        HistoryLog { writer, next_index: 0, last_flush: Instant::now(), completed: (0, 0), on_event: None }
    }

    /// Appends an event (numbering it), flushing if the last flush is 200 ms old.
    pub fn append(&mut self, mut op: Op) -> std::io::Result<()> {
        op.index = self.next_index;
        self.next_index += 1;
        if matches!(op.process, Process::Client(_)) && op.kind != OpType::Invoke {
            self.completed.0 += 1;
            self.completed.1 += u64::from(op.kind == OpType::Ok);
        }
        self.writer.append(&op)?;
        self.flush_if_due()?;
        if let Some(f) = &self.on_event {
            f(&op);
        }
        Ok(())
    }

    /// Flushes buffered events if the last flush is 200 ms old (also called while
    /// idle, so a controller killed outright loses at most that much).
    pub fn flush_if_due(&mut self) -> std::io::Result<()> {
        if self.last_flush.elapsed() >= FLUSH_EVERY {
            self.writer.flush()?;
            self.last_flush = Instant::now();
        }
        Ok(())
    }

    /// Client completions written so far, and how many of them were ok.
    pub fn completed(&self) -> (u64, u64) {
        self.completed
    }

    /// Flushes and fsyncs everything written.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.writer.sync()
    }
}

/// A finished operation, reported by its worker.
struct Done {
    thread: Thread,
    op: Op,
}

impl Interpreter {
    fn now(&self) -> u64 {
        self.started.elapsed().as_nanos() as u64
    }

    fn record(&self, op: Op) -> std::io::Result<()> {
        self.history.lock().unwrap_or_else(|p| p.into_inner()).append(op)
    }

    /// Runs `gen` until it is exhausted and every operation has completed.
    pub async fn run(&self, gen: Gen) -> std::io::Result<()> {
        let mut ctx = Ctx::new(self.concurrency);
        let mut gen = gen;
        let mut processes: Vec<u64> = (0..self.concurrency as u64).collect();
        let mut seqs: Vec<u64> = vec![0; self.concurrency];
        let (tx, mut rx) = mpsc::unbounded_channel::<Done>();
        let mut outstanding = 0usize;
        loop {
            ctx.time = self.now();
            let wait_until = match gen.clone().op(&ctx) {
                None if outstanding == 0 => return Ok(()),
                None => None,
                Some((Step::Pending, next)) => {
                    gen = next;
                    Some(self.started + Duration::from_nanos(ctx.time) + Duration::from_millis(10))
                }
                Some((Step::Op(inv), next)) if inv.at <= ctx.time => {
                    gen = next;
                    let event = self.invoke(&inv, &mut processes, &mut seqs, &tx)?;
                    outstanding += 1;
                    ctx.free.remove(&inv.thread);
                    gen = gen.update(&ctx, &event);
                    continue;
                }
                // Due later: sleep until then unless a completion comes first (the op is
                // then asked for again, from the old generator).
                Some((Step::Op(inv), _)) => Some(self.started + Duration::from_nanos(inv.at)),
            };
            // Wake at least every flush period, to flush what is buffered.
            let flush_at = Instant::now() + FLUSH_EVERY;
            let until = wait_until.map_or(flush_at, |t| t.min(flush_at));
            let done = match tokio::time::timeout_at(until.into(), rx.recv()).await {
                Ok(d) => d,
                Err(_) => {
                    self.history.lock().unwrap_or_else(|p| p.into_inner()).flush_if_due()?;
                    continue;
                }
            };
            let Some(done) = done else { return Ok(()) };
            outstanding -= 1;
            ctx.time = self.now();
            ctx.free.insert(done.thread);
            let kind = match done.op.kind {
                OpType::Ok => EventKind::Ok,
                OpType::Fail => EventKind::Fail,
                _ => EventKind::Info,
            };
            if let (Thread::Client(i), OpType::Info) = (done.thread, done.op.kind) {
                processes[i] += self.concurrency as u64;
                seqs[i] = 0;
            }
            let event = Event { thread: done.thread, kind, f: done.op.f.clone(), value: done.op.value.clone() };
            self.record(done.op)?;
            gen = gen.update(&ctx, &event);
        }
    }

    /// Records the invocation and starts its worker.
    fn invoke(&self, inv: &Invocation, processes: &mut [u64], seqs: &mut [u64], tx: &mpsc::UnboundedSender<Done>) -> std::io::Result<Event> {
        let time = self.now() as i64;
        let (process, node) = match inv.thread {
            Thread::Client(i) => (Process::Client(processes[i]), Some(self.nodes[i % self.nodes.len()].clone())),
            Thread::Nemesis => (Process::Nemesis, None),
        };
        let mut op = Op::new(OpType::Invoke, process, inv.f.clone(), inv.value.clone());
        op.time = time;
        op.node = node.clone();
        self.record(op.clone())?;
        let event = Event { thread: inv.thread, kind: EventKind::Invoke, f: inv.f.clone(), value: inv.value.clone() };
        let tx = tx.clone();
        let thread = inv.thread;
        match (thread, node) {
            (Thread::Client(i), Some(node)) => {
                seqs[i] += 1;
                let (workload, adapter, timeout, started, seq) = (self.workload.clone(), self.adapter.clone(), self.op_timeout, self.started, seqs[i]);
                tokio::spawn(async move {
                    let work = client_op(&*workload, &*adapter, &node, seq, &op, timeout);
                    let (kind, value, error) = std::panic::AssertUnwindSafe(work).catch_unwind().await.unwrap_or_else(|_| (OpType::Info, op.value.clone(), Some("the client panicked".to_owned())));
                    let mut done = Op::new(kind, op.process, op.f.clone(), value);
                    done.time = started.elapsed().as_nanos() as i64;
                    done.node = Some(node);
                    done.error = error.map(Value::String);
                    let _ = tx.send(Done { thread, op: done });
                });
            }
            _ => {
                let (executor, started) = (self.executor.clone(), self.started);
                tokio::spawn(async move {
                    let run = async {
                        let fault = faultline_nemesis::Fault::from_op(&op.f, &op.value)?;
                        executor.execute(&fault).await
                    };
                    let outcome = std::panic::AssertUnwindSafe(run).catch_unwind().await.unwrap_or_else(|_| Err("the nemesis panicked".to_owned()));
                    let mut done = Op::new(OpType::Info, Process::Nemesis, op.f.clone(), op.value.clone());
                    match outcome {
                        Ok(v) => done.value = v,
                        Err(e) => done.error = Some(Value::String(e)),
                    }
                    done.time = started.elapsed().as_nanos() as i64;
                    let _ = tx.send(Done { thread, op: done });
                });
            }
        }
        Ok(event)
    }
}

/// Runs one client operation: its kind, completion value and error.
async fn client_op(workload: &dyn Workload, adapter: &dyn Adapter, node: &str, seq: u64, op: &Op, timeout: Duration) -> (OpType, Value, Option<String>) {
    let ops = match workload.to_txn(&op.f, &op.value) {
        Ok(ops) => ops,
        Err(e) => return (OpType::Fail, op.value.clone(), Some(format!("not sent: {e}"))),
    };
    let client = match op.process {
        Process::Client(p) => format!("p{p}"),
        Process::Nemesis => "nemesis".to_owned(),
    };
    match tokio::time::timeout(timeout, adapter.txn(node, &client, seq, ops)).await {
        Ok(TxnOutcome::Ok(results)) => (OpType::Ok, workload.completion(&op.f, &op.value, &results), None),
        Ok(TxnOutcome::Fail(e)) => (OpType::Fail, op.value.clone(), Some(e)),
        Ok(TxnOutcome::Info(e)) => (OpType::Info, op.value.clone(), Some(e)),
        Err(_) => (OpType::Info, op.value.clone(), Some(format!("no answer within {} ms", timeout.as_millis()))),
    }
}
