//! Grants one at a time: add, list, revoke.

use super::*;

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
