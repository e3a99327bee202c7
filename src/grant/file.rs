//! Declarative grant files: parse, apply as a named source, export.

use super::*;

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
