//! The credential rotation thread: heartbeats that need the store (a
//! rotation fell due, a new credential was acknowledged, `last_seen_at` is
//! due) are committed in batches, so a fleet costs a few commits a second,
//! not one per heartbeat, and waiting API requests get the store first.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::worker;

/// A heartbeat waiting for the store (a rotation, an acknowledgement, or
/// `last_seen_at` falling due).
struct Beat {
    worker: String,
    ack: Option<String>,
    issue: bool,
    reply: oneshot::Sender<Result<Option<worker::Issued>>>,
}

/// Rotates credentials for heartbeats on its own thread, committing all the
/// heartbeats that arrived together in one transaction: with thousands of
/// workers a commit per heartbeat would keep the store saturated and queue
/// everything else behind it.
pub struct Rotator {
    tx: std::sync::mpsc::Sender<Beat>,
}

/// Most heartbeats in one transaction, so others' writes wait at most a few ms.
const MAX_BATCH: usize = 512;
/// Heartbeats per transaction: what a waiting request may queue behind.
const CHUNK: usize = 32;
/// How long the first heartbeat of a batch waits for others.
const BATCH_WINDOW: Duration = Duration::from_millis(10);

impl Rotator {
    /// Start the rotation thread; it ends when the rotator is dropped.
    pub fn start(store: Arc<super::pool::Pool>, rotation: worker::Rotation) -> Result<Rotator> {
        let (tx, rx) = std::sync::mpsc::channel::<Beat>();
        std::thread::Builder::new()
            .name("moat-rotate".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    // Group commit: gather what arrives in a short window.
                    // std's mutex is not fair, and a thread that re-locks
                    // as soon as it unlocks would starve dispatches.
                    std::thread::sleep(BATCH_WINDOW);
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(b) => batch.push(b),
                            Err(_) => break,
                        }
                    }
                    let now = crate::time::now_ms();
                    let mut answers = Vec::with_capacity(batch.len());
                    for chunk in batch.chunks(CHUNK) {
                        let beats: Vec<worker::Beat<'_>> = chunk
                            .iter()
                            .map(|b| worker::Beat {
                                worker: &b.worker,
                                ack: b.ack.as_deref(),
                                issue: b.issue,
                            })
                            .collect();
                        // Let waiting requests have the store first (bounded).
                        for _ in 0..100 {
                            if super::STORE_WAITERS.load(Ordering::SeqCst) == 0 {
                                break;
                            }
                            std::thread::sleep(Duration::from_micros(100));
                        }
                        let done = {
                            let mut st = store.lock();
                            worker::rotate_many(&mut st, now, &beats, &rotation)
                        };
                        match done {
                            Ok(a) => answers.extend(a),
                            Err(e) => answers.extend(
                                chunk
                                    .iter()
                                    .map(|_| Err(Error::new(e.exit, e.code, e.message.clone()))),
                            ),
                        }
                    }
                    for (b, a) in batch.into_iter().zip(answers) {
                        let _ = b.reply.send(a);
                    }
                }
            })
            .map_err(|e| Error::io("starting the credential rotation thread", e))?;
        Ok(Rotator { tx })
    }

    /// Queue one worker's heartbeat; the answer arrives when its batch commits.
    pub(super) fn submit(&self, worker: &str, ack: Option<String>, issue: bool) -> Rotation {
        let (reply, answer) = oneshot::channel();
        let beat = Beat {
            worker: worker.to_owned(),
            ack,
            issue,
            reply,
        };
        // If the thread is gone the receiver reports it (the sender is dropped).
        let _ = self.tx.send(beat);
        answer
    }
}

/// A heartbeat's store work in flight.
pub(super) type Rotation = oneshot::Receiver<Result<Option<worker::Issued>>>;
