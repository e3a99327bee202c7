//! Grant and group operations (DESIGN §5): add, list, revoke, membership,
//! declarative apply/export, and decisions against the active or staged policy.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{NewEvent, types};
use crate::error::{Error, Exit, Result};
use crate::policy::engine::{Compiled, Membership, Request, parse_resource};
use crate::policy::grant::{Actions, Effect, Grant, Subject, builtin_grants, is_group_name};
use crate::policy::snapshot::PolicySet;
use crate::policy::{Action, Principal, ResourcePattern};
use crate::store::{GrantFilter, Store, Tx};
use crate::time::rfc3339;
use crate::token::Ctx;

/// Longest note.
const MAX_NOTE: usize = 500;
/// Longest line accepted by `check --batch`.
pub const MAX_BATCH_LINE: usize = 64 * 1024;

/// A grant in the DESIGN §5 JSON shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GrantView {
    pub id: String,
    pub subject: String,
    pub effect: Effect,
    pub actions: Vec<&'static str>,
    pub resource: String,
    pub source: String,
    pub state: &'static str,
    pub note: Option<String>,
    pub created_at: String,
    pub created_by: String,
}

impl From<&Grant> for GrantView {
    fn from(g: &Grant) -> Self {
        GrantView {
            id: g.id.clone(),
            subject: g.subject.to_string(),
            effect: g.effect,
            actions: g.actions.names(),
            resource: g.resource.to_string(),
            source: g.source.clone(),
            state: if g.active { "active" } else { "revoked" },
            note: g.note.clone(),
            created_at: rfc3339(g.created_at),
            created_by: g.created_by.clone(),
        }
    }
}

fn check_note(note: Option<&str>) -> Result<()> {
    match note {
        Some(n) if n.chars().count() > MAX_NOTE || n.chars().any(char::is_control) => {
            Err(Error::usage(format!(
                "a note must be at most {MAX_NOTE} characters with no control characters"
            )))
        }
        _ => Ok(()),
    }
}

/// What `grant add` asks for.
#[derive(Debug, Clone)]
pub struct AddRequest {
    pub subject: Subject,
    pub effect: Effect,
    pub actions: Actions,
    pub resource: ResourcePattern,
    pub note: Option<String>,
}

impl AddRequest {
    /// Check the free-text parts (the typed parts are valid by construction).
    pub fn validate(&self) -> Result<()> {
        check_note(self.note.as_deref())
    }
}

fn new_grant(ctx: &Ctx, r: &AddRequest, source: &str) -> Grant {
    Grant {
        id: format!("grt_{}", crate::credential::random_id()),
        subject: r.subject.clone(),
        effect: r.effect,
        actions: r.actions,
        resource: r.resource.clone(),
        source: source.to_owned(),
        active: true,
        note: r.note.clone(),
        created_at: ctx.now,
        created_by: ctx.actor.clone(),
    }
}

fn grant_event(kind: &'static str, ctx: &Ctx, g: &Grant) -> NewEvent {
    NewEvent::new(kind, &ctx.actor, Some(g.id.clone())).details(json!({
        "subject": g.subject.as_str(),
        "effect": g.effect.as_str(),
        "actions": g.actions.names(),
        "resource": g.resource.to_string(),
        "source": g.source,
    }))
}

/// Stage a new grant (source `cli`).
pub fn add(store: &mut Store, ctx: &Ctx, req: &AddRequest) -> Result<GrantView> {
    req.validate()?;
    let g = new_grant(ctx, req, "cli");
    store.write(|tx| {
        tx.insert_grant(&g)?;
        tx.append_audit(grant_event(types::GRANT_ADDED, ctx, &g), ctx.now)?;
        Ok(())
    })?;
    Ok(GrantView::from(&g))
}

/// Filters of `grant list`.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub subject: Option<String>,
    pub resource: Option<String>,
    pub source: Option<String>,
    pub active: Option<bool>,
}

/// Grants, built-ins first, then stored ones oldest first.
pub fn list(store: &mut Store, f: &ListFilter) -> Result<Vec<GrantView>> {
    let stored = store.read(|tx| {
        tx.grants(&GrantFilter {
            subject: f.subject.clone(),
            resource: f.resource.clone(),
            source: f.source.clone(),
            active: f.active,
        })
    })?;
    let builtins = builtin_grants().into_iter().filter(|g| {
        f.subject.as_deref().is_none_or(|s| s == g.subject.as_str())
            && f.resource
                .as_deref()
                .is_none_or(|r| r == g.resource.to_string())
            && f.source.as_deref().is_none_or(|s| s == "builtin")
            && f.active.is_none_or(|a| a)
    });
    Ok(builtins
        .chain(stored)
        .map(|g| GrantView::from(&g))
        .collect())
}

/// Check the shape of a grant id.
pub fn parse_id(s: &str) -> Result<&str> {
    let ok = s
        .strip_prefix("grt_")
        .is_some_and(|rest| crate::credential::is_valid_id(rest) || rest.starts_with("builtin_"));
    if ok {
        Ok(s)
    } else {
        Err(Error::usage(format!("'{s}' is not a grant id"))
            .with_hint("grant ids look like grt_0a1b2c3d4e5f; see `grant list`"))
    }
}

/// Revoke grants, all or nothing.
pub fn revoke(store: &mut Store, ctx: &Ctx, ids: &[String]) -> Result<Vec<GrantView>> {
    let mut wanted: Vec<&str> = Vec::new();
    for id in ids {
        let id = parse_id(id)?;
        if !wanted.contains(&id) {
            wanted.push(id);
        }
    }
    store.write(|tx| {
        let mut out = Vec::new();
        for id in &wanted {
            if id.starts_with("grt_builtin_") {
                return Err(Error::new(
                    Exit::Conflict,
                    "builtin_grant",
                    format!("{id} is a built-in role grant and cannot be revoked"),
                )
                .with_hint(
                    "add a deny grant instead, or remove the principal from the role group",
                ));
            }
            let mut g = tx.grant(id)?.ok_or_else(|| {
                Error::not_found(format!("no grant {id}")).with_hint("see `grant list`")
            })?;
            if !g.active {
                return Err(Error::new(
                    Exit::Conflict,
                    "already_revoked",
                    format!("grant {id} is already revoked"),
                )
                .with_hint("nothing was changed; drop it from the list and retry"));
            }
            tx.set_grant_active(id, false, ctx.now)?;
            g.active = false;
            tx.append_audit(grant_event(types::GRANT_REVOKED, ctx, &g), ctx.now)?;
            out.push(GrantView::from(&g));
        }
        Ok(out)
    })
}

/// A group and its members.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupView {
    pub group: String,
    pub members: Vec<String>,
}

/// Validate a group name (`ops`, `role:admin`; without the `group:` prefix).
pub fn parse_group(name: &str) -> Result<&str> {
    let name = name.strip_prefix("group:").unwrap_or(name);
    if is_group_name(name) {
        Ok(name)
    } else {
        Err(Error::usage(format!("invalid group name '{name}'"))
            .with_hint("1–128 letters, digits, '.', '_', '@', ':' or '-', e.g. ops or role:admin"))
    }
}

/// Add (`add = true`) or remove principals; returns the group afterwards.
/// Adding an existing member is a no-op; removing a non-member is not found.
pub fn change_group(
    store: &mut Store,
    ctx: &Ctx,
    group: &str,
    principals: &[Principal],
    add: bool,
) -> Result<GroupView> {
    let group = parse_group(group)?.to_owned();
    store.write(|tx| {
        let mut changed = Vec::new();
        for p in principals {
            let m = Membership {
                group: group.clone(),
                principal: p.to_string(),
            };
            let did = if add {
                tx.add_member(&m, ctx.now, &ctx.actor)?
            } else if tx.remove_member(&m)? {
                true
            } else {
                return Err(Error::not_found(format!(
                    "{p} is not a member of group {group}"
                )));
            };
            if did {
                changed.push(p.to_string());
            }
        }
        if !changed.is_empty() {
            let event = NewEvent::new(
                types::GROUP_CHANGED,
                &ctx.actor,
                Some(format!("group:{group}")),
            )
            .details(json!({ if add { "added" } else { "removed" }: changed }));
            tx.append_audit(event, ctx.now)?;
        }
        let members = tx
            .members()?
            .into_iter()
            .filter(|m| m.group == group)
            .map(|m| m.principal)
            .collect();
        Ok(GroupView { group, members })
    })
}

/// Every group with members.
pub fn groups(store: &mut Store) -> Result<Vec<GroupView>> {
    let members = store.read(|tx| tx.members())?;
    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in members {
        by.entry(m.group).or_default().push(m.principal);
    }
    Ok(by
        .into_iter()
        .map(|(group, members)| GroupView { group, members })
        .collect())
}

/// One entry of a grant file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileGrant {
    pub subject: String,
    #[serde(default = "default_effect")]
    pub effect: String,
    pub actions: Vec<String>,
    pub resource: String,
    #[serde(default)]
    pub note: Option<String>,
}

fn default_effect() -> String {
    "allow".into()
}

/// A grant file as `export` writes and `apply` reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrantFile {
    pub grants: Vec<FileGrant>,
}

/// Parse a grant file (JSON `{"grants":[...]}` or NDJSON of grant objects),
/// validating every entry. Errors name the entry or line.
pub fn parse_file(text: &str) -> Result<Vec<AddRequest>> {
    let head: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .take(10)
        .collect();
    let entries: Vec<(String, FileGrant)> = if head.starts_with("{\"grants\"") {
        let f: GrantFile = serde_json::from_str(text).map_err(|e| {
            Error::usage(format!("grant file: {e}"))
                .with_hint("expected {\"grants\":[{\"subject\",\"effect\",\"actions\",\"resource\",\"note\"}]} or NDJSON grant objects")
        })?;
        f.grants
            .into_iter()
            .enumerate()
            .map(|(i, g)| (format!("grant {}", i + 1), g))
            .collect()
    } else {
        let mut v = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let g: FileGrant = serde_json::from_str(line)
                .map_err(|e| Error::usage(format!("grant file line {}: {e}", n + 1)))?;
            v.push((format!("line {}", n + 1), g));
        }
        v
    };
    entries
        .into_iter()
        .map(|(at, g)| {
            let r = (|| {
                let req = AddRequest {
                    subject: g.subject.parse()?,
                    effect: g.effect.parse()?,
                    actions: Actions::parse_list(&g.actions)?,
                    resource: g.resource.parse()?,
                    note: g.note,
                };
                req.validate()?;
                Ok(req)
            })();
            r.map_err(|e: Error| Error::usage(format!("grant file {at}: {}", e.message)))
        })
        .collect()
}

/// Counts reported by `apply`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApplyReport {
    pub source: String,
    pub created: usize,
    pub reactivated: usize,
    pub revoked: usize,
    pub unchanged: usize,
}

/// Validate a file source name.
pub fn parse_source_name(name: &str) -> Result<String> {
    if !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
    {
        Ok(format!("file:{name}"))
    } else {
        Err(Error::usage(format!("invalid source name '{name}'"))
            .with_hint("use --name with 1–64 letters, digits, '.', '_' or '-'"))
    }
}

/// Make the file's rules hold, declaratively, in one transaction: a rule
/// already granted by any active grant is left alone; a rule this source once
/// had is reactivated; others are created with source `file:<name>`; and
/// this source's active grants not in the file are revoked.
pub fn apply(
    store: &mut Store,
    ctx: &Ctx,
    source: &str,
    rules: &[AddRequest],
) -> Result<ApplyReport> {
    let mut report = ApplyReport {
        source: source.to_owned(),
        created: 0,
        reactivated: 0,
        revoked: 0,
        unchanged: 0,
    };
    store.write(|tx| {
        let all = tx.grants(&GrantFilter::default())?;
        let key = |r: &AddRequest| (r.subject.clone(), r.effect, r.actions, r.resource.clone());
        let wanted: BTreeSet<_> = rules.iter().map(key).collect();
        let active: BTreeSet<_> = all.iter().filter(|g| g.active).map(Grant::rule_key).collect();
        let mut done = BTreeSet::new();
        let (mut created, mut reactivated, mut revoked) = (vec![], vec![], vec![]);
        for r in rules {
            let k = key(r);
            if !done.insert(k.clone()) {
                continue;
            }
            if active.contains(&k) {
                report.unchanged += 1;
            } else if let Some(old) = all.iter().find(|g| !g.active && g.source == source && g.rule_key() == k) {
                tx.set_grant_active(&old.id, true, ctx.now)?;
                reactivated.push(old.id.clone());
            } else {
                let g = new_grant(ctx, r, source);
                tx.insert_grant(&g)?;
                created.push(g.id);
            }
        }
        for g in all.iter().filter(|g| g.active && g.source == source) {
            if !wanted.contains(&g.rule_key()) {
                tx.set_grant_active(&g.id, false, ctx.now)?;
                revoked.push(g.id.clone());
            }
        }
        report.created = created.len();
        report.reactivated = reactivated.len();
        report.revoked = revoked.len();
        if created.is_empty() && reactivated.is_empty() && revoked.is_empty() {
            // A no-op writes nothing, not even an audit event.
            return Ok(());
        }
        let event = NewEvent::new(types::GRANT_APPLIED, &ctx.actor, Some(source.to_owned())).details(json!({
            "created": created, "reactivated": reactivated, "revoked": revoked, "unchanged": report.unchanged,
        }));
        tx.append_audit(event, ctx.now)?;
        Ok(())
    })?;
    Ok(report)
}

/// Every active, non-built-in grant as a file `apply` accepts.
pub fn export(store: &mut Store) -> Result<GrantFile> {
    let grants = store.read(|tx| {
        tx.grants(&GrantFilter {
            active: Some(true),
            ..Default::default()
        })
    })?;
    Ok(GrantFile {
        grants: grants
            .iter()
            .map(|g| FileGrant {
                subject: g.subject.to_string(),
                effect: g.effect.as_str().to_owned(),
                actions: g.actions.names().into_iter().map(str::to_owned).collect(),
                resource: g.resource.to_string(),
                note: g.note.clone(),
            })
            .collect(),
    })
}

/// The staged policy: active grants and memberships as they are in the tables now.
pub fn staged_set(tx: &Tx<'_>) -> Result<PolicySet> {
    let grants = tx.grants(&GrantFilter {
        active: Some(true),
        ..Default::default()
    })?;
    Ok(PolicySet::new(grants, tx.members()?))
}

/// Compile the policy to decide with: the active snapshot, or the staged
/// tables (labelled version 0) when `staged`.
pub fn load_policy(store: &mut Store, staged: bool) -> Result<Compiled> {
    store.read(|tx| {
        if staged {
            return Ok(staged_set(tx)?.compile(0));
        }
        match tx.active_snapshot()? {
            None => Ok(PolicySet::default().compile(0)),
            Some(v) => {
                let row = tx
                    .snapshot(v, true)?
                    .ok_or_else(|| Error::internal(format!("active snapshot {v} is missing")))?;
                let content = row.content.unwrap_or_default();
                Ok(PolicySet::decode(&content)?.compile(v))
            }
        }
    })
}

/// A check request (`grant check --batch` line, `POST /v1/check`).
#[derive(Debug, Deserialize)]
pub struct CheckRequest<'a> {
    #[serde(borrow)]
    pub principal: Cow<'a, str>,
    #[serde(borrow)]
    pub action: Cow<'a, str>,
    #[serde(borrow)]
    pub resource: Cow<'a, str>,
}

/// Validate the three parts of a check into a [`Request`].
pub fn request<'a>(principal: &'a str, action: &str, resource: &'a str) -> Result<Request<'a>> {
    // Principal's FromStr validates; the borrowed string is what we keep.
    principal.parse::<Principal>()?;
    let action: Action = action.parse()?;
    let (kind, name) = parse_resource(resource)?;
    Ok(Request {
        principal,
        action,
        kind,
        name,
    })
}

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
            .map_err(|e| Error::usage(format!("malformed request: {e}")))
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
            Error::new(Exit::Success, "broken_pipe", "stdout was closed")
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

    #[test]
    fn batch_streams_decisions_and_numbers_bad_lines() {
        let policy = PolicySet::default().compile(0);
        let input = "{\"principal\":\"user:a\",\"action\":\"read\",\"resource\":\"worker:x\"}\n\
                     not json\n\
                     \n\
                     {\"principal\":\"user:a\",\"action\":\"fly\",\"resource\":\"worker:x\"}\n";
        let mut out = Vec::new();
        let sum = check_batch(&policy, input.as_bytes(), &mut out, false).unwrap();
        assert_eq!((sum.requests, sum.errors, sum.denied), (3, 2, 1));
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

    #[test]
    fn grant_files_validate_every_entry() {
        let ok = r#"{"grants":[{"subject":"group:ops","effect":"allow","actions":["run"],"resource":"worker:build-*","note":null}]}"#;
        assert_eq!(parse_file(ok).unwrap().len(), 1);
        let nd = "{\"subject\":\"user:a\",\"actions\":[\"read\"],\"resource\":\"*:*\",\"id\":\"grt_x\",\"state\":\"revoked\"}\n";
        assert_eq!(parse_file(nd).unwrap()[0].effect, Effect::Allow);
        let bad =
            r#"{"grants":[{"subject":"group:ops","actions":["run"],"resource":"wor*ker:x"}]}"#;
        let e = parse_file(bad).unwrap_err();
        assert!(e.message.contains("grant 1"), "{}", e.message);
        assert!(
            parse_file("{\"subject\":\"user:a\"}\n")
                .unwrap_err()
                .message
                .contains("line 1")
        );
    }
}
