//! `grant check --batch`: NDJSON requests in, decisions out in the same
//! order, decided in chunks on every core with bounded memory.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use serde_json::json;

use super::{CheckRequest, request};
use crate::error::{Code, Error, Exit, Result};
use crate::policy::engine::Compiled;

/// Longest line accepted by `check --batch`.
pub const MAX_BATCH_LINE: usize = 64 * 1024;

/// Totals of a batch run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchSummary {
    pub requests: u64,
    pub errors: u64,
    pub denied: u64,
}

/// One request line of a chunk: its bytes in `Chunk::data`.
#[derive(Debug, Clone, Copy)]
struct LineRef {
    start: usize,
    end: usize,
    /// Longer than `MAX_BATCH_LINE`: its bytes were dropped.
    too_long: bool,
}

/// Consecutive request lines, decided together by one thread.
#[derive(Debug, Default)]
struct Chunk {
    seq: u64,
    /// Line number of `lines[0]`.
    first_line: u64,
    data: Vec<u8>,
    lines: Vec<LineRef>,
}

/// Lines after which a chunk is handed on even if more input is buffered.
const CHUNK_LINES: usize = 4096;

/// Decide one request line, appending its decision or error line to `out`.
fn decide_line(
    policy: &Compiled,
    line: &[u8],
    too_long: bool,
    line_no: u64,
    explain: bool,
    out: &mut Vec<u8>,
    sum: &mut BatchSummary,
) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if !too_long && line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    sum.requests += 1;
    let result = if too_long {
        Err(Error::usage(format!(
            "line is longer than {MAX_BATCH_LINE} bytes"
        )))
    } else {
        serde_json::from_slice::<CheckRequest<'_>>(line)
            .map_err(|e| match std::str::from_utf8(line) {
                // Checked only for a line that failed: valid lines pay nothing.
                Err(u) => Error::usage(format!(
                    "malformed request: not valid UTF-8 (byte {})",
                    u.valid_up_to() + 1
                )),
                Ok(_) => Error::usage(format!("malformed request: {e}")),
            })
            .and_then(|r| {
                let req = request(&r.principal, &r.action, &r.resource)?;
                let outcome = policy.decide(&req, &[]);
                if !outcome.allow {
                    sum.denied += 1;
                }
                let d = policy.render(&req, &[], &outcome, explain);
                // Writing plain data into a Vec cannot fail.
                serde_json::to_writer(&mut *out, &d)
                    .map_err(|e| Error::internal(format!("encoding a decision: {e}")))
            })
    };
    if let Err(e) = result {
        sum.errors += 1;
        let v = json!({"error": {"code": e.code, "message": e.message, "line": line_no}});
        let _ = serde_json::to_writer(&mut *out, &v);
    }
    out.push(b'\n');
}

/// Decide NDJSON requests from `input`, writing one decision (or error)
/// per line to `out`, in input order, streaming: input is cut into chunks
/// (at most `CHUNK_LINES` lines, or what was buffered, so a line typed
/// into a pipe is answered without waiting for more), the chunks are
/// decided on every core, and their answers written back in order. Memory
/// is bounded by the chunks in flight, not by the input.
pub fn check_batch(
    policy: &Compiled,
    mut input: impl BufRead,
    out: &mut dyn Write,
    explain: bool,
) -> Result<BatchSummary> {
    let io_out = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Error::new(Exit::Success, Code::BrokenPipe, "stdout was closed")
        } else {
            Error::io("writing decisions", e)
        }
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let (work_tx, work_rx) = std::sync::mpsc::sync_channel::<Chunk>(threads * 2);
    let work_rx = std::sync::Mutex::new(work_rx);
    let (done_tx, done_rx) = std::sync::mpsc::channel::<(u64, Vec<u8>, BatchSummary)>();
    std::thread::scope(|scope| {
        // Owned here, so any early return closes it and the threads end.
        let work_tx = work_tx;
        for _ in 0..threads {
            let (work_rx, done_tx) = (&work_rx, done_tx.clone());
            scope.spawn(move || {
                loop {
                    let next = work_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok(chunk)) = next else { break };
                    let mut text = Vec::with_capacity(chunk.lines.len() * 160);
                    let mut sum = BatchSummary::default();
                    for (i, l) in chunk.lines.iter().enumerate() {
                        let line = &chunk.data[l.start..l.end];
                        let no = chunk.first_line + i as u64;
                        decide_line(policy, line, l.too_long, no, explain, &mut text, &mut sum);
                    }
                    if done_tx.send((chunk.seq, text, sum)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);

        // Answers come back in any order; write them in input order.
        let mut total = BatchSummary::default();
        let mut next_out = 0u64;
        let mut waiting: BTreeMap<u64, (Vec<u8>, BatchSummary)> = BTreeMap::new();
        let mut write_ready = |waiting: &mut BTreeMap<u64, (Vec<u8>, BatchSummary)>,
                               total: &mut BatchSummary,
                               next_out: &mut u64|
         -> Result<()> {
            while let Some((text, sum)) = waiting.remove(next_out) {
                out.write_all(&text).map_err(io_out)?;
                total.requests += sum.requests;
                total.errors += sum.errors;
                total.denied += sum.denied;
                *next_out += 1;
            }
            Ok(())
        };

        let mut chunk = Chunk {
            first_line: 1,
            ..Chunk::default()
        };
        let mut sent = 0u64;
        let mut line_start = 0usize;
        let mut skipping = false;
        let mut send = |chunk: &mut Chunk, line_start: &mut usize| -> Result<()> {
            // The unfinished line moves on to the next chunk.
            let rest = chunk.data.split_off(*line_start);
            let next_line = chunk.first_line + chunk.lines.len() as u64;
            let full = std::mem::replace(
                chunk,
                Chunk {
                    seq: sent + 1,
                    first_line: next_line,
                    data: rest,
                    lines: Vec::new(),
                },
            );
            *line_start = 0;
            sent += 1;
            work_tx
                .send(Chunk {
                    seq: sent - 1,
                    ..full
                })
                .map_err(|_| Error::internal("a decision thread stopped"))
        };
        loop {
            let buf = input
                .fill_buf()
                .map_err(|e| Error::io("reading requests", e))?;
            if buf.is_empty() {
                break;
            }
            let n = buf.len();
            let mut at = 0;
            while at < n {
                let (piece, newline) = match buf[at..].iter().position(|&b| b == b'\n') {
                    Some(i) => (&buf[at..at + i], true),
                    None => (&buf[at..], false),
                };
                at += piece.len() + usize::from(newline);
                if !skipping {
                    chunk.data.extend_from_slice(piece);
                    if chunk.data.len() - line_start > MAX_BATCH_LINE {
                        skipping = true;
                        chunk.data.truncate(line_start);
                    }
                }
                if newline {
                    chunk.lines.push(LineRef {
                        start: line_start,
                        end: chunk.data.len(),
                        too_long: skipping,
                    });
                    skipping = false;
                    line_start = chunk.data.len();
                    if chunk.lines.len() >= CHUNK_LINES {
                        send(&mut chunk, &mut line_start)?;
                    }
                }
            }
            input.consume(n);
            // Everything buffered is cut into chunks: hand on what is whole
            // before the next read, which may wait for more input.
            if !chunk.lines.is_empty() {
                send(&mut chunk, &mut line_start)?;
            }
            while let Ok((seq, text, sum)) = done_rx.try_recv() {
                waiting.insert(seq, (text, sum));
            }
            write_ready(&mut waiting, &mut total, &mut next_out)?;
        }
        // A last line without a newline.
        if line_start < chunk.data.len() || skipping {
            chunk.lines.push(LineRef {
                start: line_start,
                end: chunk.data.len(),
                too_long: skipping,
            });
            line_start = chunk.data.len();
        }
        if !chunk.lines.is_empty() {
            send(&mut chunk, &mut line_start)?;
        }
        drop(work_tx);
        for (seq, text, sum) in done_rx.iter() {
            waiting.insert(seq, (text, sum));
            write_ready(&mut waiting, &mut total, &mut next_out)?;
        }
        if next_out != sent {
            return Err(Error::internal("a decision thread stopped"));
        }
        Ok(total)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::grant::{Actions, Effect, Grant};
    use crate::policy::snapshot::PolicySet;

    #[test]
    fn batch_streams_decisions_and_numbers_bad_lines() {
        let policy = PolicySet::default().compile(0);
        let input = "{\"principal\":\"user:a\",\"action\":\"read\",\"resource\":\"worker:x\"}\n\
                     not json\n\
                     \n\
                     {\"principal\":\"user:a\",\"action\":\"fly\",\"resource\":\"worker:x\"}\n";
        let mut input = input.as_bytes().to_vec();
        input.extend_from_slice(b"{\"principal\":\"user:\xff\"}\n");
        let mut out = Vec::new();
        let sum = check_batch(&policy, &input[..], &mut out, false).unwrap();
        assert_eq!((sum.requests, sum.errors, sum.denied), (4, 3, 1));
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["decision"], "deny");
        assert_eq!(lines[0]["reason"], "no_matching_grant");
        assert_eq!(lines[1]["error"]["line"], 2);
        assert_eq!(lines[2]["error"]["line"], 4);
        assert!(
            lines[2]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("fly")
        );
        assert_eq!(lines[3]["error"]["line"], 5);
        assert_eq!(
            lines[3]["error"]["message"],
            "malformed request: not valid UTF-8 (byte 20)"
        );
    }

    #[test]
    fn over_long_lines_are_errors_and_the_batch_goes_on() {
        let policy = PolicySet::default().compile(0);
        let mut input = vec![b'x'; MAX_BATCH_LINE + 10];
        input.extend_from_slice(
            b"\n{\"principal\":\"user:a\",\"action\":\"read\",\"resource\":\"a:b\"}\n",
        );
        let mut out = Vec::new();
        let sum = check_batch(&policy, &input[..], &mut out, false).unwrap();
        assert_eq!((sum.requests, sum.errors), (2, 1));
        let text = String::from_utf8(out).unwrap();
        assert!(text.lines().nth(1).unwrap().contains("\"decision\""));
    }

    /// A policy where user:uN may read worker:wN only when N is even.
    fn even_policy() -> Compiled {
        let grants = (0..50)
            .filter(|n| n % 2 == 0)
            .map(|n| Grant {
                id: format!("grt_{n}"),
                subject: format!("user:u{n}").parse().unwrap(),
                effect: Effect::Allow,
                actions: Actions::parse_list(&["read"]).unwrap(),
                resource: format!("worker:w{n}").parse().unwrap(),
                source: "cli".into(),
                active: true,
                note: None,
                created_at: 0,
                created_by: "t".into(),
            })
            .collect();
        Compiled::new(1, grants, &[])
    }

    #[test]
    fn chunks_come_back_in_input_order_with_their_line_numbers() {
        let policy = even_policy();
        // 30,000 lines (several chunks), every 1,000th malformed, the last
        // one without a newline; read through a tiny buffer so lines are
        // cut at every possible place.
        let mut input = String::new();
        for i in 0..30_000u64 {
            if i % 1000 == 999 {
                input.push_str("{oops\n");
            } else {
                let n = i % 50;
                input.push_str(&format!(
                    "{{\"principal\":\"user:u{n}\",\"action\":\"read\",\"resource\":\"worker:w{n}\"}}\n"
                ));
            }
        }
        input.pop();
        for cap in [7, 4096, 1 << 20] {
            let mut out = Vec::new();
            let reader = std::io::BufReader::with_capacity(cap, input.as_bytes());
            let sum = check_batch(&policy, reader, &mut out, false).unwrap();
            assert_eq!((sum.requests, sum.errors), (30_000, 30), "buffer {cap}");
            let lines: Vec<serde_json::Value> = String::from_utf8(out)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(lines.len(), 30_000);
            for (i, v) in lines.iter().enumerate() {
                if i % 1000 == 999 {
                    assert_eq!(v["error"]["line"], i as u64 + 1, "buffer {cap}");
                } else {
                    let want = if (i % 50) % 2 == 0 { "allow" } else { "deny" };
                    assert_eq!(v["decision"], want, "line {} buffer {cap}", i + 1);
                }
            }
        }
    }

    #[test]
    fn an_over_long_line_across_reads_is_one_error() {
        let policy = even_policy();
        let mut input =
            b"{\"principal\":\"user:u2\",\"action\":\"read\",\"resource\":\"worker:w2\"}\n"
                .to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_BATCH_LINE * 3));
        input.extend_from_slice(
            b"\n{\"principal\":\"user:u2\",\"action\":\"read\",\"resource\":\"worker:w2\"}",
        );
        let reader = std::io::BufReader::with_capacity(1000, &input[..]);
        let mut out = Vec::new();
        let sum = check_batch(&policy, reader, &mut out, false).unwrap();
        assert_eq!((sum.requests, sum.errors), (3, 1));
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("\"allow\""));
        assert!(lines[1].contains("longer than") && lines[1].contains("\"line\":2"));
        assert!(lines[2].contains("\"allow\""));
    }

    /// A reader closing early must stop the batch, not hang it.
    #[test]
    fn a_closed_output_stops_the_batch() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let policy = even_policy();
        let line = "{\"principal\":\"user:u1\",\"action\":\"read\",\"resource\":\"worker:w1\"}\n";
        let input = line.repeat(100_000);
        let reader = std::io::BufReader::with_capacity(4096, input.as_bytes());
        let e = check_batch(&policy, reader, &mut Closed, false).unwrap_err();
        assert_eq!(e.code, "broken_pipe");
    }
}
