//! The access log: one JSON line per request on stderr, written in batches
//! by its own thread (at most [`TICK`] later) so a request never waits for
//! the terminal or the pipe behind stderr (only if 64 Ki lines are pending does it wait: lines are never
//! dropped). Never headers, tokens, bodies or secret values.

use std::io::Write;
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::time::Duration;

use serde::Serialize;

/// The fields of one line, in this order.
#[derive(Serialize)]
pub(super) struct Line<'a> {
    pub ts: String,
    pub request_id: &'a str,
    pub method: &'a str,
    pub route: &'a str,
    pub status: u16,
    pub duration_ms: f64,
    pub principal: Option<&'a str>,
    #[serde(serialize_with = "as_text")]
    pub remote: std::net::SocketAddr,
}

fn as_text<S: serde::Serializer>(a: &std::net::SocketAddr, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(a)
}

enum Msg {
    Line(Vec<u8>),
    Flush(SyncSender<()>),
}

/// Lines waiting before a request must wait for the writer.
const PENDING: usize = 64 * 1024;

fn writer() -> &'static SyncSender<Msg> {
    static TX: OnceLock<SyncSender<Msg>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = sync_channel(PENDING);
        let spawned = std::thread::Builder::new()
            .name("moat-access-log".into())
            .spawn(move || write_lines(&rx));
        if let Err(e) = spawned {
            eprintln!("serve: cannot start the access log thread ({e}); lines go out as they come");
        }
        tx
    })
}

/// How often the writer wakes to write what queued up: one write (and no
/// thread wake-up) per request would cost the request path more than the
/// line itself.
const TICK: Duration = Duration::from_millis(20);

fn write_lines(rx: &Receiver<Msg>) {
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, std::io::stderr());
    loop {
        loop {
            match rx.try_recv() {
                Ok(Msg::Line(l)) => {
                    let _ = out.write_all(&l);
                }
                Ok(Msg::Flush(done)) => {
                    let _ = out.flush();
                    let _ = done.send(());
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    let _ = out.flush();
                    return;
                }
            }
        }
        let _ = out.flush();
        std::thread::sleep(TICK);
    }
}

/// Queue one line.
pub(super) fn write(line: &Line<'_>) {
    let mut bytes = serde_json::to_vec(line).unwrap_or_default();
    bytes.push(b'\n');
    if let Err(e) = writer().send(Msg::Line(bytes)) {
        // The writer thread is gone: write it here rather than lose it.
        if let Msg::Line(b) = e.0 {
            let _ = std::io::stderr().write_all(&b);
        }
    }
}

/// Wait (at most a second) until every queued line is on stderr: at shutdown.
pub(super) fn flush() {
    let (done, wait) = sync_channel(1);
    if writer().send(Msg::Flush(done)).is_ok() {
        let _ = wait.recv_timeout(Duration::from_secs(1));
    }
}
