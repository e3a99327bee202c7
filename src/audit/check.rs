//! `audit check`: a cron-friendly linter of the state for security problems.
//! Each finding has a stable id, a severity, the subject it is about, a
//! message and a hint; `--fail-on` turns them into an exit code.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::credential::CredentialKind;
use crate::error::Result;
use crate::policy::NamePattern;
use crate::policy::grant::Effect;
use crate::store::{GrantFilter, Store, TokenFilter};
use crate::time::{Millis, duration_ms, format_duration, rfc3339};
use crate::token::{TokenState, display_id, state_of};

/// How bad a finding is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    clap::ValueEnum,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    pub subject: String,
    pub message: String,
    pub hint: String,
}

fn finding(
    id: &'static str,
    severity: Severity,
    subject: impl Into<String>,
    message: String,
    hint: &str,
) -> Finding {
    Finding {
        id,
        severity,
        subject: subject.into(),
        message,
        hint: hint.to_owned(),
    }
}

/// What `audit check` looks at.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub now: Millis,
    /// Bound tokens unused this long are flagged.
    pub stale: Duration,
    /// Failed authentications in the last hour that count as a spike.
    pub spike: i64,
}

/// Enrol tokens may live at most this long without a finding.
const ENROL_TTL_LIMIT: i64 = 24 * 3_600_000;
/// Dead token records older than this should have been pruned.
const PRUNE_AFTER: i64 = 7 * 86_400_000;

/// More snapshots than this besides the active one should have been pruned.
const SNAPSHOTS_KEPT: usize = 20;

/// Free space in the state file worth a vacuum, when it is also most of it.
const FREE_SPACE_WORTH_VACUUM: u64 = 64 << 20;

/// File permission findings for the state file, its key and its directory
/// (for a PostgreSQL state, only the key file is a file here).
pub fn file_findings(state: &Path, key: &Path) -> Vec<Finding> {
    let mut out = Vec::new();
    let state = (!crate::store::is_database_url(state)).then_some(state);
    for (path, what) in [(state, "state file"), (Some(key), "key file")] {
        let Some(path) = path else { continue };
        if let Ok(m) = std::fs::metadata(path) {
            let mode = m.mode() & 0o777;
            if mode & 0o077 != 0 {
                out.push(finding(
                    "insecure_file_permissions",
                    Severity::High,
                    path.display().to_string(),
                    format!("the {what} has mode {mode:o}: group or others can access it"),
                    &format!("chmod 600 {}", path.display()),
                ));
            }
        }
    }
    let dir = state
        .and_then(Path::parent)
        .filter(|d| !d.as_os_str().is_empty());
    let dir_mode = dir.and_then(|d| std::fs::metadata(d).ok().map(|m| (d, m.mode() & 0o777)));
    if let Some((dir, mode)) = dir_mode.filter(|(_, mode)| mode & 0o022 != 0) {
        out.push(finding(
            "insecure_directory_permissions",
            Severity::Medium,
            dir.display().to_string(),
            format!("the state directory has mode {mode:o}: others can replace files in it"),
            &format!("chmod 700 {}", dir.display()),
        ));
    }
    out
}

/// Every finding about the contents of the state file.
pub fn check(store: &mut Store, o: &CheckOptions) -> Result<Vec<Finding>> {
    store.read(|tx| {
        let mut out = Vec::new();
        let mut prunable = 0;
        for t in tx.tokens(&TokenFilter::default())? {
            let state = state_of(&t, o.now);
            let valid = matches!(state, TokenState::Pending | TokenState::Bound | TokenState::Exhausted);
            let id = display_id(&t.id);
            if t.kind == CredentialKind::Enrol && valid && state != TokenState::Exhausted {
                let ttl = t.expires_at - t.created_at;
                if ttl > ENROL_TTL_LIMIT {
                    out.push(finding(
                        "enrol_token_long_ttl",
                        Severity::Medium,
                        id.clone(),
                        format!(
                            "enrol token lives {} (more than 24h); a leaked token stays usable that long",
                            format_duration(Duration::from_millis(ttl as u64))
                        ),
                        "revoke it and mint tokens that live hours, not days",
                    ));
                }
                if t.max_uses.is_none() {
                    out.push(finding(
                        "enrol_token_unlimited_uses",
                        Severity::Medium,
                        id.clone(),
                        "enrol token has unlimited uses: anyone holding it can add machines".into(),
                        "revoke it and use --max-uses with the number of machines you expect",
                    ));
                }
            }
            let last_seen = t.last_used_at.unwrap_or(t.created_at);
            if t.kind == CredentialKind::Enrol
                && !t.machines.is_empty()
                && state != TokenState::Revoked
                && o.now - last_seen > duration_ms(o.stale)
            {
                out.push(finding(
                    "bound_token_stale",
                    Severity::Low,
                    id.clone(),
                    format!(
                        "token is bound to {} machine(s) not seen since {}",
                        t.machines.len(),
                        rfc3339(last_seen)
                    ),
                    "if those machines are gone, revoke the token",
                ));
            }
            let ended = t.revoked_at.or((t.expires_at <= o.now).then_some(t.expires_at));
            if ended.is_some_and(|at| o.now - at > PRUNE_AFTER) {
                prunable += 1;
            }
        }
        for w in tx.workers()? {
            let seen = w.last_seen_at.unwrap_or(w.created_at);
            if w.status != "revoked" && w.status != "connected" && o.now - seen > duration_ms(o.stale) {
                out.push(finding(
                    "worker_not_seen",
                    Severity::Low,
                    crate::worker::display_id(&w.id),
                    format!("worker {} ({}) has not been seen since {}", w.name, w.status, rfc3339(seen)),
                    "if the machine is gone, run `worker revoke` (and revoke its token)",
                ));
            }
        }
        if prunable > 0 {
            out.push(finding(
                "tokens_not_pruned",
                Severity::Low,
                "tokens",
                format!("{prunable} expired or revoked token record(s) ended more than 7 days ago"),
                "run: token prune --older-than 7d",
            ));
        }

        for g in tx.grants(&GrantFilter { active: Some(true), ..Default::default() })? {
            if g.source == "admins" {
                continue;
            }
            if g.is_superuser() {
                out.push(finding(
                    "superuser",
                    Severity::Low,
                    g.subject.to_string(),
                    format!("{} holds the superuser grant {} (source {})", g.subject, g.id, g.source),
                    "keep superusers few; prefer serve --admins so the list lives in configuration",
                ));
            } else if g.effect == Effect::Allow && g.resource.name == NamePattern::Prefix(String::new()) {
                let everything = g.resource.kind.is_none();
                out.push(finding(
                    "broad_allow_grant",
                    if everything { Severity::High } else { Severity::Medium },
                    g.subject.to_string(),
                    format!(
                        "{} {} allows {} on {}",
                        g.id,
                        g.subject,
                        g.actions.names().join(","),
                        g.resource
                    ),
                    "narrow the resource pattern, or use a built-in role group (role:viewer, role:operator)",
                ));
            }
        }

        let active = tx.active_snapshot()?;
        let old = tx.snapshots()?.iter().filter(|r| Some(r.version) != active).count();
        if old > SNAPSHOTS_KEPT {
            out.push(finding(
                "snapshots_not_pruned",
                Severity::Low,
                "snapshots",
                format!("{old} policy snapshots besides the active one, each a full copy of the policy"),
                &format!("run: reload prune --keep {}", crate::reload::DEFAULT_KEEP),
            ));
        }

        let (size, free) = tx.space()?;
        if free >= FREE_SPACE_WORTH_VACUUM && free * 2 > size {
            out.push(finding(
                "state_file_mostly_free",
                Severity::Low,
                "state file",
                format!(
                    "{} MB of the state file's {} MB is free space left by deleted records",
                    free >> 20,
                    size >> 20
                ),
                "run: reload prune --vacuum (it holds the write lock while it rewrites the file)",
            ));
        }

        let failures = tx.audit_count(&["auth_failure", "enrolment_refused"], "failure", o.now - 3_600_000)?;
        if failures >= o.spike {
            out.push(finding(
                "auth_failure_spike",
                Severity::High,
                "authentication",
                format!("{failures} failed authentications or enrolments in the last hour"),
                "look at `audit log --since 1h --outcome failure` for the source",
            ));
        }

        let v = tx.verify_audit(None)?;
        if !v.intact {
            out.push(finding(
                "audit_chain_broken",
                Severity::High,
                v.first_bad_seq.map_or_else(|| "audit".into(), |s| format!("event {s}")),
                v.problem.unwrap_or_default(),
                "the audit trail was edited outside moat; compare with your last checkpoint",
            ));
        }

        let last_start = tx.audit_last_of("serve_started")?;
        if let Some(e) = last_start.filter(|e| e.details["auth_mode"] == "none") {
            out.push(finding(
                "auth_mode_none",
                Severity::High,
                "serve",
                format!("serve last started at {} with --auth-mode none", rfc3339(e.ts)),
                "restart serve with --auth-mode token or jwt",
            ));
        }
        Ok(out)
    })
}
