//! Grant and group operations, and policy checks.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Effect as After, Endpoint, Operation, Route, routes};
use crate::error::{Error, Result};
use crate::grant::{self, AddRequest, ApplyReport, GrantFile, GrantView, GroupView, ListFilter};
use crate::policy::engine::{Compiled, Decision};
use crate::policy::grant::{Actions, Effect, Subject};
use crate::policy::{Action, Principal, ResourcePattern};
use crate::store::Access;
use crate::token::Ctx;

/// A list of actions; each entry may itself be comma-separated (`"read,run"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionList(pub Actions);

impl utoipa::PartialSchema for ActionList {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::Array::new(super::wire::text_schema()).into()
    }
}

impl utoipa::ToSchema for ActionList {}

impl Serialize for ActionList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.names().serialize(s)
    }
}

impl<'de> Deserialize<'de> for ActionList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<Cow<'de, str>>::deserialize(d)?;
        Actions::parse_list(&names)
            .map(ActionList)
            .map_err(super::wire::refuse)
    }
}

fn allow() -> Effect {
    Effect::Allow
}

/// `grant add`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantAdd {
    pub subject: Subject,
    #[serde(default = "allow")]
    pub effect: Effect,
    pub actions: ActionList,
    pub resource: ResourcePattern,
    #[serde(default)]
    pub note: Option<String>,
}

impl GrantAdd {
    /// The domain's request.
    pub fn request(self) -> AddRequest {
        AddRequest {
            subject: self.subject,
            effect: self.effect,
            actions: self.actions.0,
            resource: self.resource,
            note: self.note,
        }
    }
}

impl Endpoint for GrantAdd {
    type Response = GrantView;
    const ROUTE: &'static Route = &routes::GRANT_ADD;
}

impl Operation for GrantAdd {
    fn effect(&self) -> After {
        After::Policy
    }
    fn run(self, mut store: impl Access, ctx: &Ctx) -> Result<GrantView> {
        let req = self.request();
        store.with(|s| grant::add(s, ctx, &req))
    }
}

/// Grant states to filter on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum GrantState {
    Active,
    Revoked,
}

/// `grant list`: filters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantList {
    pub subject: Option<String>,
    pub resource: Option<String>,
    pub source: Option<String>,
    pub state: Option<GrantState>,
}

impl Endpoint for GrantList {
    type Response = Vec<GrantView>;
    const ROUTE: &'static Route = &routes::GRANT_LIST;
}

impl Operation for GrantList {
    fn run(self, mut store: impl Access, _: &Ctx) -> Result<Vec<GrantView>> {
        let f = ListFilter {
            subject: self.subject,
            resource: self.resource,
            source: self.source,
            active: self.state.map(|s| s == GrantState::Active),
        };
        store.with(|s| grant::list(s, &f))
    }
}

checked_text!(
    /// A grant id (`grt_...`), checked on arrival.
    GrantId,
    grant::parse_id
);

/// `grant revoke`: all or nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRevoke {
    pub ids: Vec<GrantId>,
}

impl Endpoint for GrantRevoke {
    type Response = Vec<GrantView>;
    const ROUTE: &'static Route = &routes::GRANT_REVOKE;
}

impl Operation for GrantRevoke {
    fn effect(&self) -> After {
        After::Policy
    }
    fn run(self, mut store: impl Access, ctx: &Ctx) -> Result<Vec<GrantView>> {
        let ids: Vec<String> = self.ids.into_iter().map(|i| i.0).collect();
        store.with(|s| grant::revoke(s, ctx, &ids))
    }
}

/// `grant apply`: a declarative file under a source name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantApply {
    /// Source name: the grants become `file:<name>`.
    pub name: String,
    /// The file's text (JSON or NDJSON grants).
    pub text: String,
}

impl GrantApply {
    /// The source and its rules, parsed.
    pub fn parse(&self) -> Result<(String, Vec<AddRequest>)> {
        Ok((
            grant::parse_source_name(&self.name)?,
            grant::parse_file(&self.text)?,
        ))
    }
}

impl Endpoint for GrantApply {
    type Response = ApplyReport;
    const ROUTE: &'static Route = &routes::GRANT_APPLY;
}

impl Operation for GrantApply {
    fn effect(&self) -> After {
        After::Policy
    }
    fn run(self, mut store: impl Access, ctx: &Ctx) -> Result<ApplyReport> {
        let (source, rules) = self.parse()?;
        store.with(|s| grant::apply(s, ctx, &source, &rules))
    }
}

/// `grant export`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantExport {}

impl Endpoint for GrantExport {
    type Response = GrantFile;
    const ROUTE: &'static Route = &routes::GRANT_EXPORT;
}

impl Operation for GrantExport {
    fn run(self, mut store: impl Access, _: &Ctx) -> Result<GrantFile> {
        store.with(grant::export)
    }
}

/// `grant group list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupList {}

impl Endpoint for GroupList {
    type Response = Vec<GroupView>;
    const ROUTE: &'static Route = &routes::GROUP_LIST;
}

impl Operation for GroupList {
    fn run(self, mut store: impl Access, _: &Ctx) -> Result<Vec<GroupView>> {
        store.with(grant::groups)
    }
}

checked_text!(
    /// A group name, checked on arrival.
    GroupName,
    grant::parse_group
);

/// `grant group add`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupAdd {
    pub group: GroupName,
    pub principals: Vec<Principal>,
}

/// `grant group remove`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRemove {
    pub group: GroupName,
    pub principals: Vec<Principal>,
}

impl Endpoint for GroupAdd {
    type Response = GroupView;
    const ROUTE: &'static Route = &routes::GROUP_ADD;
}

impl Operation for GroupAdd {
    fn effect(&self) -> After {
        After::Policy
    }
    fn run(self, mut store: impl Access, ctx: &Ctx) -> Result<GroupView> {
        store.with(|s| grant::change_group(s, ctx, &self.group.0, &self.principals, true))
    }
}

impl Endpoint for GroupRemove {
    type Response = GroupView;
    const ROUTE: &'static Route = &routes::GROUP_REMOVE;
}

impl Operation for GroupRemove {
    fn effect(&self) -> After {
        After::Policy
    }
    fn run(self, mut store: impl Access, ctx: &Ctx) -> Result<GroupView> {
        store.with(|s| grant::change_group(s, ctx, &self.group.0, &self.principals, false))
    }
}

checked_text!(
    /// A concrete resource `kind:name`, checked on arrival.
    Resource,
    crate::policy::engine::parse_resource
);

/// `grant check`: one decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub principal: Principal,
    pub action: Action,
    pub resource: Resource,
    /// Add the near misses: grants that almost matched, and why not.
    #[serde(default)]
    pub explain: bool,
    /// Decide with the staged grants instead of the active snapshot.
    #[serde(default)]
    pub staged: bool,
}

impl Check {
    /// The decision of `policy`, in the DESIGN §5 shape.
    pub fn answer(&self, policy: &Compiled) -> Result<Value> {
        self.render(policy, |d| serde_json::to_value(d))?
            .map_err(|e| Error::internal(e.to_string()))
    }

    /// Decide by `policy` and hand the rendered decision to `f` (serve
    /// writes it straight into the response).
    pub fn render<R>(&self, policy: &Compiled, f: impl FnOnce(&Decision<'_>) -> R) -> Result<R> {
        let principal = self.principal.to_string();
        let req = grant::request(&principal, self.action.as_str(), &self.resource.0)?;
        let outcome = policy.decide(&req, &[]);
        Ok(f(&policy.render(&req, &[], &outcome, self.explain)))
    }

    /// The policy this check is decided by, read from the store: only the
    /// principal's grants, since one decision needs no more.
    pub fn policy(&self, store: &mut crate::store::Store) -> Result<Compiled> {
        grant::load_policy(store, self.staged, Some(&self.principal.to_string()))
    }
}

impl Endpoint for Check {
    type Response = Value;
    const ROUTE: &'static Route = &routes::CHECK;
}

impl Operation for Check {
    fn run(self, mut store: impl Access, _: &Ctx) -> Result<Value> {
        let policy = store.with(|s| self.policy(s))?;
        self.answer(&policy)
    }
}

/// `grant check --batch`: the body is NDJSON check requests, the answer
/// NDJSON decisions (one per line, in order), with the counts in the
/// `x-moat-batch-requests` and `x-moat-batch-errors` headers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckBatch {}

impl Endpoint for CheckBatch {
    type Response = String;
    const ROUTE: &'static Route = &routes::CHECK_BATCH;
}

/// Header with how many request lines a batch held.
pub const BATCH_REQUESTS: &str = "x-moat-batch-requests";
/// Header with how many of them were malformed.
pub const BATCH_ERRORS: &str = "x-moat-batch-errors";
