//! Grant and group operations (DESIGN §5): add, list, revoke, membership,
//! declarative apply/export, and decisions against the active or staged policy.

pub mod batch;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{NewEvent, types};
use crate::error::{Code, Error, Exit, Result};
use crate::policy::engine::{Compiled, Membership, Request, parse_resource};
use crate::policy::grant::{Actions, Effect, Grant, Subject, builtin_grants, is_group_name};
use crate::policy::snapshot::PolicySet;
use crate::policy::{Action, Principal, ResourcePattern};
use crate::store::{GrantFilter, Store, Tx};
use crate::time::rfc3339;
use crate::token::Ctx;

pub use batch::{BatchSummary, MAX_BATCH_LINE, check_batch};

/// Longest note.
const MAX_NOTE: usize = 500;

/// A grant in the DESIGN §5 JSON shape.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
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
        Err(Error::usage(format!(
            "'{}' is not a grant id",
            crate::credential::shown(s)
        ))
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
                    Code::BuiltinGrant,
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
                    Code::AlreadyRevoked,
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
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
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

/// One entry of a grant file. An unknown field is an error: a misspelt
/// `"efect": "deny"` must not quietly become an allow.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileGrant {
    pub subject: String,
    #[serde(default = "default_effect")]
    pub effect: String,
    pub actions: Vec<String>,
    pub resource: String,
    #[serde(default)]
    pub note: Option<String>,
    /// What `grant list` prints besides the rule, accepted so its output
    /// can be applied, and ignored.
    #[serde(default, skip_serializing, rename = "id")]
    _id: IgnoredAny,
    #[serde(default, skip_serializing, rename = "source")]
    _source: IgnoredAny,
    #[serde(default, skip_serializing, rename = "state")]
    _state: IgnoredAny,
    #[serde(default, skip_serializing, rename = "created_at")]
    _created_at: IgnoredAny,
    #[serde(default, skip_serializing, rename = "created_by")]
    _created_by: IgnoredAny,
}

fn default_effect() -> String {
    "allow".into()
}

/// A grant file as `export` writes and `apply` reads.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
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
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
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
                ..Default::default()
            })
            .collect(),
    })
}

/// The staged policy: active grants and memberships as they are in the tables now.
pub fn staged_set(tx: &Tx<'_>) -> Result<PolicySet> {
    Ok(PolicySet::new(tx.active_grants()?, tx.members()?))
}

/// `staged_set(tx).only_for(principal)`, read by subject through the
/// grants' subject index instead of reading every grant.
fn staged_set_for(tx: &Tx<'_>, principal: &str) -> Result<PolicySet> {
    let mut members = tx.members()?;
    members.retain(|m| m.principal == principal);
    let mut grants = Vec::new();
    for subject in crate::policy::snapshot::subjects_of(principal, &members) {
        grants.extend(tx.grants(&GrantFilter {
            subject: Some(subject),
            active: Some(true),
            ..Default::default()
        })?);
    }
    Ok(PolicySet::new(grants, members))
}

/// Compile the policy to decide with: what serve enforces (the active
/// snapshot plus the superuser grants `serve --admins` keeps, which take
/// effect at serve's start whatever `--grant-reload` says), or the staged
/// tables (labelled version 0) when `staged`. The one loader of the
/// enforced policy: serve, local `grant check` and batch checks all use it,
/// so a local and a remote check agree. With `only`, just what deciding for
/// that one principal reads ([`PolicySet::only_for`]): a single check then
/// skips compiling everyone else's grants.
pub fn load_policy(store: &mut Store, staged: bool, only: Option<&str>) -> Result<Compiled> {
    store.read(|tx| {
        if staged {
            return Ok(match only {
                Some(p) => staged_set_for(tx, p)?,
                None => staged_set(tx)?,
            }
            .compile(0));
        }
        // Read only where the tables do not already hold them.
        let admins = || {
            tx.grants(&GrantFilter {
                source: Some("admins".into()),
                active: Some(true),
                ..Default::default()
            })
        };
        let Some(v) = tx.active_snapshot()? else {
            let mut set = PolicySet::default();
            set.grants.extend(admins()?);
            return Ok(set.compile(0));
        };
        // No grant or membership has changed since snapshot v was made (or
        // last found equal to them): the tables hold exactly its content
        // (the live admins grants included), and the principal's rows are
        // a few index lookups away.
        if let Some(p) = only
            && tx.tables_match_snapshot(v)?
        {
            return Ok(staged_set_for(tx, p)?.compile(v));
        }
        let mut active = tx
            .snapshot_set_for(v, only)?
            .ok_or_else(|| Error::internal(format!("active snapshot {v} is missing")))?;
        active.set.grants.retain(|g| g.source != "admins");
        active.set.grants.extend(admins()?);
        Ok(active.set.compile(v))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// One check's answer (explained) from the policy it would load, and
    /// from the whole active snapshot, which it must equal.
    fn both_ways(store: &mut Store, resource: &str) -> (serde_json::Value, serde_json::Value) {
        let req = request("user:a", "read", resource).unwrap();
        let mut answer = |only| {
            let policy = load_policy(store, false, only).unwrap();
            let o = policy.decide(&req, &[]);
            serde_json::to_value(policy.render(&req, &[], &o, true)).unwrap()
        };
        (answer(Some("user:a")), answer(None))
    }

    fn fresh(store: &mut Store) -> bool {
        store
            .read(|tx| {
                let v = tx.active_snapshot()?.unwrap();
                tx.tables_match_snapshot(v)
            })
            .unwrap()
    }

    #[test]
    fn one_check_reads_the_tables_only_while_they_equal_the_active_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.db")).unwrap();
        let ctx = Ctx::local();
        let rule = |subject: &str, resource: &str| AddRequest {
            subject: subject.parse().unwrap(),
            effect: Effect::Allow,
            actions: Actions::parse_list(&["read"]).unwrap(),
            resource: resource.parse().unwrap(),
            note: None,
        };
        let p = |s: &str| s.parse::<Principal>().unwrap();
        let kept = add(&mut store, &ctx, &rule("user:a", "vault:a"))
            .unwrap()
            .id;
        add(&mut store, &ctx, &rule("group:ops", "vault:ops")).unwrap();
        change_group(&mut store, &ctx, "ops", &[p("user:a")], true).unwrap();
        crate::reload::reload(&mut store, &ctx, false).unwrap();
        assert!(fresh(&mut store), "right after a reload");
        let (part, whole) = both_ways(&mut store, "vault:ops");
        assert_eq!(part, whole);
        assert_eq!(part["decision"], "allow");

        // Every kind of staged change sends a check back to the snapshot,
        // whose answers it keeps until the next reload.
        type Change<'a> = Box<dyn Fn(&mut Store) + 'a>;
        let changes: [(&str, Change); 5] = [
            (
                "add",
                Box::new(|s| drop(add(s, &ctx, &rule("user:a", "vault:new")).unwrap())),
            ),
            (
                "revoke",
                Box::new(|s| drop(revoke(s, &ctx, std::slice::from_ref(&kept)).unwrap())),
            ),
            (
                "group remove",
                Box::new(|s| drop(change_group(s, &ctx, "ops", &[p("user:a")], false).unwrap())),
            ),
            (
                "group add",
                Box::new(|s| drop(change_group(s, &ctx, "dev", &[p("user:a")], true).unwrap())),
            ),
            (
                "apply",
                Box::new(|s| {
                    let rules = parse_file(r#"{"grants":[{"subject":"group:dev","actions":["read"],"resource":"vault:dev"}]}"#).unwrap();
                    drop(apply(s, &ctx, "file:t", &rules).unwrap());
                }),
            ),
        ];
        let resources = ["vault:a", "vault:ops", "vault:new", "vault:dev"];
        for (what, change) in &changes {
            crate::reload::reload(&mut store, &ctx, false).unwrap();
            assert!(fresh(&mut store), "reloaded before {what}");
            let before: Vec<_> = resources.map(|r| both_ways(&mut store, r).0).into();
            change(&mut store);
            assert!(!fresh(&mut store), "after {what}");
            for (resource, before) in resources.iter().zip(&before) {
                let (part, whole) = both_ways(&mut store, resource);
                assert_eq!(part, whole, "{what}, {resource}");
                assert_eq!(&part, before, "{what} took effect before a reload");
            }
        }
        crate::reload::reload(&mut store, &ctx, false).unwrap();
        assert!(fresh(&mut store));
        assert_eq!(both_ways(&mut store, "vault:new").0["decision"], "allow");
        assert_eq!(both_ways(&mut store, "vault:dev").0["decision"], "allow");
        assert_eq!(both_ways(&mut store, "vault:a").0["decision"], "deny");
        assert_eq!(both_ways(&mut store, "vault:ops").0["decision"], "deny");

        // Rolled back, the tables no longer match; a reload that finds them
        // equal to the active snapshot (after undoing the change) says so.
        crate::reload::rollback(&mut store, &ctx, 1).unwrap();
        assert!(!fresh(&mut store));
        assert_eq!(both_ways(&mut store, "vault:new").0["decision"], "deny");
        let extra = add(&mut store, &ctx, &rule("user:b", "vault:b"))
            .unwrap()
            .id;
        revoke(&mut store, &ctx, &[extra]).unwrap();
        let newest = store.read(|tx| Ok(tx.snapshots()?.len() as i64)).unwrap();
        crate::reload::rollback(&mut store, &ctx, newest).unwrap();
        let r = crate::reload::reload(&mut store, &ctx, false).unwrap();
        assert!(!r.changed);
        assert!(
            fresh(&mut store),
            "an unchanged reload marks the snapshot current"
        );
        let (part, whole) = both_ways(&mut store, "vault:new");
        assert_eq!(part, whole);
    }

    #[test]
    fn the_staged_part_read_by_subject_equals_the_whole_cut_down() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.db")).unwrap();
        let ctx = Ctx::local();
        let mut ids = Vec::new();
        for (subject, resource) in [
            ("user:a", "worker:x"),
            ("user:b", "worker:x"),
            ("group:ops", "vault:*"),
            ("group:dev", "queue:q"),
            ("group:ops", "worker:build-*"),
            ("user:a", "vault:gone"),
        ] {
            let req = AddRequest {
                subject: subject.parse().unwrap(),
                effect: Effect::Allow,
                actions: Actions::parse_list(&["read"]).unwrap(),
                resource: resource.parse().unwrap(),
                note: None,
            };
            ids.push(add(&mut store, &ctx, &req).unwrap().id);
        }
        revoke(&mut store, &ctx, &ids[5..]).unwrap();
        let p = |s: &str| s.parse::<Principal>().unwrap();
        change_group(&mut store, &ctx, "ops", &[p("user:a"), p("user:c")], true).unwrap();
        change_group(&mut store, &ctx, "dev", &[p("user:b")], true).unwrap();
        for principal in ["user:a", "user:b", "user:c", "user:nobody"] {
            let (part, whole) = store
                .read(|tx| Ok((staged_set_for(tx, principal)?, staged_set(tx)?)))
                .unwrap();
            assert_eq!(part, whole.only_for(principal), "{principal}");
        }
        let a = store.read(|tx| staged_set_for(tx, "user:a")).unwrap();
        assert_eq!(a.grants.len(), 3, "its own live grant and two of ops'");
    }

    #[test]
    fn grant_files_validate_every_entry() {
        let ok = r#"{"grants":[{"subject":"group:ops","effect":"allow","actions":["run"],"resource":"worker:build-*","note":null}]}"#;
        assert_eq!(parse_file(ok).unwrap().len(), 1);
        let nd = "{\"subject\":\"user:a\",\"actions\":[\"read\"],\"resource\":\"*:*\",\"id\":\"grt_x\",\"state\":\"revoked\"}\n";
        assert_eq!(parse_file(nd).unwrap()[0].effect, Effect::Allow);
        // A whole `grant list` line applies; a field it does not print is refused.
        let listed = r#"{"id":"grt_x","subject":"user:a","effect":"deny","actions":["read"],"resource":"vault:x","source":"cli","state":"active","note":null,"created_at":"2026-01-01T00:00:00Z","created_by":"local:uid-0"}"#;
        assert_eq!(parse_file(listed).unwrap()[0].effect, Effect::Deny);
        let typo = r#"{"subject":"user:a","efect":"deny","actions":["read"],"resource":"vault:x"}"#;
        let e = parse_file(typo).unwrap_err();
        assert!(e.message.contains("unknown field `efect`"), "{}", e.message);
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
