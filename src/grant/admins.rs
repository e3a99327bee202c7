//! `serve --admins`: the superuser grant of each listed principal,
//! materialized on every start (source `admins`, config wins).

use serde_json::json;

use crate::audit::NewEvent;
use crate::error::Result;
use crate::policy::grant::{Actions, Effect, Grant, Subject};
use crate::policy::{NamePattern, ResourcePattern};
use crate::store::{GrantFilter, Store};
use crate::token::Ctx;

/// The superuser grant `--admins` materializes for a principal.
fn admin_grant(p: &str, ctx: &Ctx) -> Result<Grant> {
    Ok(Grant {
        id: format!("grt_{}", crate::credential::random_id()),
        subject: p.parse::<Subject>()?,
        effect: Effect::Allow,
        actions: Actions(Actions::bit(crate::policy::Action::Admin)),
        resource: ResourcePattern {
            kind: Some("access".into()),
            name: NamePattern::Prefix(String::new()),
        },
        source: "admins".into(),
        active: true,
        note: Some("materialized from serve --admins".into()),
        created_at: ctx.now,
        created_by: "serve".into(),
    })
}

/// Make the `admins`-source grants match `--admins` exactly (config wins):
/// create or reactivate for listed principals, revoke for the rest.
pub fn materialize_admins(
    store: &mut Store,
    admins: &[String],
    ctx: &Ctx,
) -> Result<serde_json::Value> {
    store.write(|tx| {
        let existing = tx.grants(&GrantFilter {
            source: Some("admins".into()),
            ..Default::default()
        })?;
        let (mut created, mut reactivated, mut revoked) = (vec![], vec![], vec![]);
        for p in admins {
            let mine: Vec<&Grant> = existing.iter().filter(|g| g.subject.as_str() == p).collect();
            if mine.iter().any(|g| g.active) {
                continue;
            }
            if let Some(g) = mine.first() {
                tx.set_grant_active(&g.id, true, ctx.now)?;
                reactivated.push(g.id.clone());
            } else {
                let g = admin_grant(p, ctx)?;
                tx.insert_grant(&g)?;
                created.push(g.id);
            }
        }
        for g in existing.iter().filter(|g| g.active && !admins.iter().any(|a| a == g.subject.as_str())) {
            tx.set_grant_active(&g.id, false, ctx.now)?;
            revoked.push(g.id.clone());
        }
        let details = json!({"admins": admins, "created": created, "reactivated": reactivated, "revoked": revoked});
        let e = NewEvent::new(crate::audit::types::ADMINS_MATERIALIZED, &ctx.actor, Some("admins".into())).details(details.clone());
        tx.append_audit(e, ctx.now)?;
        Ok(details)
    })
}
