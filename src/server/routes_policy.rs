//! Route handlers: grants, groups, checks, reload and snapshots.

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::Value;

use super::api::{ApiResult, Caller, Checked, IdsBody, JsonBody, bad, body};
use super::with_store;
use crate::error::{Error, Result};
use crate::policy::Action;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GrantBody {
    subject: String,
    #[serde(default = "allow")]
    effect: String,
    actions: Vec<String>,
    resource: String,
    note: Option<String>,
}

fn allow() -> String {
    "allow".into()
}

pub(super) async fn grant_add(c: Caller, JsonBody(v): JsonBody<Value>) -> ApiResult {
    let b: GrantBody = body(&c, v)?;
    let req = (|| -> Result<crate::grant::AddRequest> {
        let r = crate::grant::AddRequest {
            subject: b.subject.parse()?,
            effect: b.effect.parse()?,
            actions: crate::policy::grant::Actions::parse_list(&b.actions)?,
            resource: b.resource.parse()?,
            note: b.note,
        };
        r.validate()?;
        Ok(r)
    })()
    .map_err(|e| bad(e, &c))?;
    let resp = c
        .run(Action::Admin, "access:grants", move |s, ctx| {
            crate::grant::add(s, ctx, &req)
        })
        .await?;
    c.after_policy_change().await;
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GrantListQuery {
    subject: Option<String>,
    resource: Option<String>,
    source: Option<String>,
    state: Option<String>,
}

pub(super) async fn grant_list(
    c: Caller,
    Checked(Query(q)): Checked<Query<GrantListQuery>>,
) -> ApiResult {
    let active = match q.state.as_deref() {
        None => None,
        Some("active") => Some(true),
        Some("revoked") => Some(false),
        Some(s) => {
            return Err(bad(
                Error::usage(format!("invalid state '{}'", crate::credential::shown(s))),
                &c,
            ));
        }
    };
    let f = crate::grant::ListFilter {
        subject: q.subject,
        resource: q.resource,
        source: q.source,
        active,
    };
    c.run(Action::Read, "access:grants", move |s, _| {
        crate::grant::list(s, &f)
    })
    .await
}

pub(super) async fn grant_revoke(c: Caller, JsonBody(v): JsonBody<Value>) -> ApiResult {
    let b: IdsBody = body(&c, v)?;
    for id in &b.ids {
        crate::grant::parse_id(id).map_err(|e| bad(e, &c))?;
    }
    let resp = c
        .run(Action::Admin, "access:grants", move |s, ctx| {
            crate::grant::revoke(s, ctx, &b.ids)
        })
        .await?;
    c.after_policy_change().await;
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ApplyBody {
    name: String,
    text: String,
}

pub(super) async fn grant_apply(c: Caller, JsonBody(v): JsonBody<Value>) -> ApiResult {
    let b: ApplyBody = body(&c, v)?;
    let source = crate::grant::parse_source_name(&b.name).map_err(|e| bad(e, &c))?;
    let rules = crate::grant::parse_file(&b.text).map_err(|e| bad(e, &c))?;
    let resp = c
        .run(Action::Admin, "access:grants", move |s, ctx| {
            crate::grant::apply(s, ctx, &source, &rules)
        })
        .await?;
    c.after_policy_change().await;
    Ok(resp)
}

pub(super) async fn grant_export(c: Caller) -> ApiResult {
    c.run(Action::Read, "access:grants", |s, _| {
        crate::grant::export(s)
    })
    .await
}

pub(super) async fn group_list(c: Caller) -> ApiResult {
    c.run(Action::Read, "access:groups", |s, _| {
        crate::grant::groups(s)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MembersBody {
    principals: Vec<String>,
}

pub(super) async fn group_change(
    c: Caller,
    Checked(Path((group, op))): Checked<Path<(String, String)>>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult {
    let b: MembersBody = body(&c, v)?;
    let add = match op.as_str() {
        "add" => true,
        "remove" => false,
        _ => {
            return Err(bad(
                Error::not_found(format!("no group operation '{op}'")),
                &c,
            ));
        }
    };
    crate::grant::parse_group(&group).map_err(|e| bad(e, &c))?;
    let principals: Vec<crate::policy::Principal> = b
        .principals
        .iter()
        .map(|p| p.parse())
        .collect::<Result<_>>()
        .map_err(|e| bad(e, &c))?;
    let resp = c
        .run(Action::Admin, "access:groups", move |s, ctx| {
            crate::grant::change_group(s, ctx, &group, &principals, add)
        })
        .await?;
    c.after_policy_change().await;
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CheckBody {
    principal: String,
    action: String,
    resource: String,
    #[serde(default)]
    explain: bool,
    #[serde(default)]
    staged: bool,
}

pub(super) async fn check(c: Caller, JsonBody(v): JsonBody<Value>) -> ApiResult {
    let b: CheckBody = body(&c, v)?;
    crate::grant::request(&b.principal, &b.action, &b.resource).map_err(|e| bad(e, &c))?;
    c.authorize(Action::Read, "access:grants")?;
    let render = |policy: &crate::policy::engine::Compiled| -> Result<Value> {
        let req = crate::grant::request(&b.principal, &b.action, &b.resource)?;
        let outcome = policy.decide(&req, &[]);
        serde_json::to_value(policy.render(&req, &[], &outcome, b.explain))
            .map_err(|e| Error::internal(e.to_string()))
    };
    let out = if b.staged {
        let store = c.state.store.clone();
        let only = b.principal.clone();
        let policy = with_store(&store, move |s| {
            crate::grant::load_policy(s, true, Some(&only))
        })
        .await
        .map_err(|e| bad(e, &c))?;
        render(&policy)
    } else {
        render(&c.state.policy.load())
    };
    Ok(Json(out.map_err(|e| bad(e, &c))?).into_response())
}

pub(super) async fn check_batch(c: Caller, text: String) -> ApiResult {
    c.authorize(Action::Read, "access:grants")?;
    let policy = c.state.policy.load_full();
    let (out, sum) = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let sum = crate::grant::check_batch(&policy, text.as_bytes(), &mut out, false);
        (out, sum)
    })
    .await
    .map_err(|e| bad(Error::internal(e.to_string()), &c))?;
    let sum = sum.map_err(|e| bad(e, &c))?;
    let mut resp = ([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response();
    if let Ok(v) = HeaderValue::from_str(&sum.errors.to_string()) {
        resp.headers_mut().insert("x-moat-batch-errors", v);
    }
    if let Ok(v) = HeaderValue::from_str(&sum.requests.to_string()) {
        resp.headers_mut().insert("x-moat-batch-requests", v);
    }
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReloadBody {
    #[serde(default)]
    dry_run: bool,
}

pub(super) async fn reload(c: Caller, JsonBody(v): JsonBody<Value>) -> ApiResult {
    let b: ReloadBody = body(&c, v)?;
    let resp = c
        .run(Action::Admin, "access:reload", move |s, ctx| {
            crate::reload::reload(s, ctx, b.dry_run)
        })
        .await?;
    c.after_policy_change().await;
    Ok(resp)
}

pub(super) async fn snapshots(c: Caller) -> ApiResult {
    c.run(Action::Read, "access:reload", |s, _| {
        crate::reload::history(s)
    })
    .await
}

pub(super) async fn rollback(c: Caller, Checked(Path(version)): Checked<Path<i64>>) -> ApiResult {
    let resp = c
        .run(Action::Admin, "access:reload", move |s, ctx| {
            crate::reload::rollback(s, ctx, version)
        })
        .await?;
    c.after_policy_change().await;
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PruneBody {
    keep: usize,
    #[serde(default)]
    dry_run: bool,
}

pub(super) async fn prune_snapshots(c: Caller, JsonBody(v): JsonBody<Value>) -> ApiResult {
    let b: PruneBody = body(&c, v)?;
    c.run(Action::Admin, "access:reload", move |s, ctx| {
        crate::reload::prune(s, ctx, b.keep, b.dry_run)
    })
    .await
}
