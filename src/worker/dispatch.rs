//! A dispatch's record: sent (with the secrets it resolved) and finished
//! (exit code, redacted output), each with its audit events in the same
//! transaction.

use serde_json::json;

use crate::audit::{NewEvent, types};
use crate::error::Result;
use crate::store::Store;
use crate::time::Millis;

/// Record that `actor` sent dispatch `id` to worker `worker_id` (bare),
/// with the names of the secrets it was given.
pub fn record_sent(
    store: &mut Store,
    actor: &str,
    id: &str,
    worker_id: &str,
    argv: &[String],
    secrets: &[String],
    now: Millis,
) -> Result<()> {
    let argv_json = json!(argv).to_string();
    store.write(|t| {
        t.insert_dispatch(
            id,
            worker_id,
            &argv_json,
            &json!(secrets).to_string(),
            actor,
            now,
        )?;
        for n in secrets {
            let e = NewEvent::new(types::SECRET_RESOLVED, actor, Some(format!("vault:{n}")))
                .details(json!({"dispatch": id}));
            t.append_audit(e, now)?;
        }
        let e = NewEvent::new(types::DISPATCH_SENT, actor, Some(id.to_owned())).details(json!({
            "worker": super::display_id(worker_id),
            "argv0": argv.first(),
            "secrets": secrets,
        }));
        t.append_audit(e, now).map(|_| ())
    })
}

/// Record dispatch `id`'s result (output already redacted).
pub fn record_finished(
    store: &mut Store,
    id: &str,
    exit_code: i32,
    stdout: &str,
    stderr: &str,
    duration_ms: u64,
    now: Millis,
) -> Result<()> {
    let dur = i64::try_from(duration_ms).unwrap_or(i64::MAX);
    // A step may print NUL bytes, which PostgreSQL text cannot hold: the
    // record shows them as ␀ on either engine.
    let (stdout, stderr) = (
        stdout.replace('\0', "\u{2400}"),
        stderr.replace('\0', "\u{2400}"),
    );
    store.write(|t| {
        t.finish_dispatch(id, i64::from(exit_code), &stdout, &stderr, dur, now)?;
        let e = NewEvent::new(types::DISPATCH_FINISHED, "serve", Some(id.to_owned()))
            .outcome(if exit_code == 0 { "success" } else { "failure" })
            .details(json!({"exit_code": exit_code, "duration_ms": duration_ms}));
        t.append_audit(e, now).map(|_| ())
    })
}
