//! Operations: every management operation defined once, as a typed request
//! (validated on arrival), a typed response, and one entry in the route
//! table (method, path, required permission). The local CLI runs an
//! operation on the store; remote mode sends the same request to `serve`,
//! whose route decodes it with the same codec and runs the same function.

#[macro_use]
pub mod wire;
pub mod audit;
mod codec;
pub mod grants;
pub mod openapi;
pub mod policy;
pub mod tokens;
pub mod workers;

use std::borrow::Cow;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::policy::Action;
use crate::store::Access;
use crate::token::Ctx;

/// HTTP method of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    /// The method's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One row of the route table.
#[derive(Debug)]
pub struct Route {
    /// Stable operation id (`token_create`), also the OpenAPI operationId.
    pub id: &'static str,
    pub method: Method,
    /// Path template; `{name}` segments are request fields.
    pub path: &'static str,
    /// The permission the caller needs: `action` on `resource`. A resource
    /// with `<field>` in it is completed from the request.
    pub action: Action,
    pub resource: &'static str,
    /// One line for people (OpenAPI summary).
    pub summary: &'static str,
    /// OpenAPI tag.
    pub tag: &'static str,
}

/// The wire contract of one operation: its request type, response type and route.
pub trait Endpoint: Serialize + DeserializeOwned + Send + 'static {
    type Response: Serialize + Send + 'static;
    const ROUTE: &'static Route;

    /// The resource the permission names (the route's, unless it depends on the request).
    fn resource(&self) -> Cow<'static, str> {
        Cow::Borrowed(Self::ROUTE.resource)
    }

    /// How long the request may take, when longer than an ordinary one.
    fn wait(&self) -> Option<std::time::Duration> {
        None
    }
}

/// What `serve` must do after an operation changed something it caches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    None,
    /// Grants, groups or snapshots changed: recompile (auto reload) and publish.
    Policy,
    /// These tokens (display ids) were revoked: drop them from the auth cache.
    TokensRevoked(Vec<String>),
    /// Workers were revoked: cut their sockets now.
    WorkersRevoked,
}

/// An operation that runs on the store, locally or inside `serve`.
pub trait Operation: Endpoint {
    /// Does slow work (argon2) between its reads and writes: `serve` runs it
    /// on the argon2 pool and the store is locked per read and write only.
    const SLOW: bool = false;

    /// What `serve` must refresh afterwards.
    fn effect(&self) -> Effect {
        Effect::None
    }

    /// Run the operation.
    fn run(self, store: impl Access, ctx: &Ctx) -> Result<Self::Response>;
}

/// The route table: every `/v1` operation, in documentation order.
pub const ROUTES: &[&Route] = &[
    &routes::WHOAMI,
    &routes::TOKEN_CREATE,
    &routes::TOKEN_LIST,
    &routes::TOKEN_SHOW,
    &routes::TOKEN_REVOKE,
    &routes::TOKEN_PRUNE,
    &routes::TOKEN_VERIFY,
    &routes::GRANT_ADD,
    &routes::GRANT_LIST,
    &routes::GRANT_REVOKE,
    &routes::GRANT_APPLY,
    &routes::GRANT_EXPORT,
    &routes::GROUP_LIST,
    &routes::GROUP_ADD,
    &routes::GROUP_REMOVE,
    &routes::CHECK,
    &routes::CHECK_BATCH,
    &routes::RELOAD,
    &routes::SNAPSHOT_LIST,
    &routes::SNAPSHOT_ROLLBACK,
    &routes::SNAPSHOT_PRUNE,
    &routes::AUDIT_LOG,
    &routes::AUDIT_VERIFY,
    &routes::AUDIT_CHECKPOINT,
    &routes::AUDIT_CHECK,
    &routes::AUDIT_PRUNE,
    &routes::AUDIT_EXPORT,
    &routes::WORKER_LIST,
    &routes::WORKER_SHOW,
    &routes::WORKER_REVOKE,
    &routes::WORKER_DRAIN,
    &routes::DISPATCH,
];

/// The worker socket (a WebSocket upgrade, not a JSON operation).
pub const WORKER_CONNECT: &str = "/v1/workers/connect";
/// Where `serve` publishes the OpenAPI document.
pub const OPENAPI: &str = "/v1/openapi.json";

/// The rows of the route table, one constant each.
pub mod routes {
    use super::{Method, Route};
    use crate::policy::Action;

    macro_rules! route {
        ($name:ident, $id:literal, $m:ident, $path:literal, $a:ident, $res:literal, $tag:literal, $sum:literal) => {
            pub const $name: Route = Route {
                id: $id,
                method: Method::$m,
                path: $path,
                action: Action::$a,
                resource: $res,
                summary: $sum,
                tag: $tag,
            };
        };
    }

    route!(
        WHOAMI,
        "whoami",
        Get,
        "/v1/whoami",
        Read,
        "",
        "session",
        "Who the caller is: principal, groups, scopes"
    );
    route!(
        TOKEN_CREATE,
        "token_create",
        Post,
        "/v1/tokens",
        Write,
        "access:tokens",
        "tokens",
        "Create an enrol or api token (the raw token is in this response only)"
    );
    route!(
        TOKEN_LIST,
        "token_list",
        Get,
        "/v1/tokens",
        Read,
        "access:tokens",
        "tokens",
        "List tokens with their computed state"
    );
    route!(
        TOKEN_SHOW,
        "token_show",
        Get,
        "/v1/tokens/{id}",
        Read,
        "access:tokens",
        "tokens",
        "Show one token"
    );
    route!(
        TOKEN_REVOKE,
        "token_revoke",
        Post,
        "/v1/tokens/revoke",
        Write,
        "access:tokens",
        "tokens",
        "Revoke tokens, all or nothing"
    );
    route!(
        TOKEN_PRUNE,
        "token_prune",
        Post,
        "/v1/tokens/prune",
        Write,
        "access:tokens",
        "tokens",
        "Delete long-ended token records"
    );
    route!(
        TOKEN_VERIFY,
        "token_verify",
        Post,
        "/v1/tokens/verify",
        Read,
        "access:tokens",
        "tokens",
        "Which record a raw token is, and whether it is usable"
    );
    route!(
        GRANT_ADD,
        "grant_add",
        Post,
        "/v1/grants",
        Admin,
        "access:grants",
        "grants",
        "Stage a grant"
    );
    route!(
        GRANT_LIST,
        "grant_list",
        Get,
        "/v1/grants",
        Read,
        "access:grants",
        "grants",
        "List grants"
    );
    route!(
        GRANT_REVOKE,
        "grant_revoke",
        Post,
        "/v1/grants/revoke",
        Admin,
        "access:grants",
        "grants",
        "Revoke grants, all or nothing"
    );
    route!(
        GRANT_APPLY,
        "grant_apply",
        Post,
        "/v1/grants/apply",
        Admin,
        "access:grants",
        "grants",
        "Make a named source's grants equal a declarative file"
    );
    route!(
        GRANT_EXPORT,
        "grant_export",
        Get,
        "/v1/grants/export",
        Read,
        "access:grants",
        "grants",
        "Export the staged grants as a declarative file"
    );
    route!(
        GROUP_LIST,
        "group_list",
        Get,
        "/v1/groups",
        Read,
        "access:groups",
        "grants",
        "List groups and their members"
    );
    route!(
        GROUP_ADD,
        "group_add",
        Post,
        "/v1/groups/{group}/add",
        Admin,
        "access:groups",
        "grants",
        "Add principals to a group"
    );
    route!(
        GROUP_REMOVE,
        "group_remove",
        Post,
        "/v1/groups/{group}/remove",
        Admin,
        "access:groups",
        "grants",
        "Remove principals from a group"
    );
    route!(
        CHECK,
        "check",
        Post,
        "/v1/check",
        Read,
        "access:grants",
        "checks",
        "Decide one request, optionally with the explanation"
    );
    route!(
        CHECK_BATCH,
        "check_batch",
        Post,
        "/v1/check/batch",
        Read,
        "access:grants",
        "checks",
        "Decide NDJSON check requests, one decision line each"
    );
    route!(
        RELOAD,
        "reload",
        Post,
        "/v1/reload",
        Admin,
        "access:reload",
        "policy",
        "Compile the staged policy and activate it as a new snapshot"
    );
    route!(
        SNAPSHOT_LIST,
        "snapshot_list",
        Get,
        "/v1/snapshots",
        Read,
        "access:reload",
        "policy",
        "Snapshot history"
    );
    route!(
        SNAPSHOT_ROLLBACK,
        "snapshot_rollback",
        Post,
        "/v1/snapshots/{version}/rollback",
        Admin,
        "access:reload",
        "policy",
        "Activate an earlier snapshot"
    );
    route!(
        SNAPSHOT_PRUNE,
        "snapshot_prune",
        Post,
        "/v1/snapshots/prune",
        Admin,
        "access:reload",
        "policy",
        "Delete old inactive snapshots"
    );
    route!(
        AUDIT_LOG,
        "audit_log",
        Get,
        "/v1/audit",
        Read,
        "access:audit",
        "audit",
        "Audit events matching the filters"
    );
    route!(
        AUDIT_VERIFY,
        "audit_verify",
        Post,
        "/v1/audit/verify",
        Read,
        "access:audit",
        "audit",
        "Verify the audit chain, optionally against a checkpoint"
    );
    route!(
        AUDIT_CHECKPOINT,
        "audit_checkpoint",
        Get,
        "/v1/audit/checkpoint",
        Read,
        "access:audit",
        "audit",
        "The chain's head, to keep elsewhere"
    );
    route!(
        AUDIT_CHECK,
        "audit_check",
        Post,
        "/v1/audit/check",
        Read,
        "access:audit",
        "audit",
        "Security findings about the store and its policy"
    );
    route!(
        AUDIT_PRUNE,
        "audit_prune",
        Post,
        "/v1/audit/prune",
        Admin,
        "access:audit",
        "audit",
        "Drop events before a time behind a sealed anchor"
    );
    route!(
        AUDIT_EXPORT,
        "audit_export",
        Get,
        "/v1/audit/export",
        Read,
        "access:audit",
        "audit",
        "Events as lines in a SIEM schema"
    );
    route!(
        WORKER_LIST,
        "worker_list",
        Get,
        "/v1/workers",
        Read,
        "access:workers",
        "workers",
        "List workers"
    );
    route!(
        WORKER_SHOW,
        "worker_show",
        Get,
        "/v1/workers/{id}",
        Read,
        "access:workers",
        "workers",
        "Show one worker"
    );
    route!(
        WORKER_REVOKE,
        "worker_revoke",
        Post,
        "/v1/workers/revoke",
        Write,
        "access:workers",
        "workers",
        "Revoke workers and cut their sockets"
    );
    route!(
        WORKER_DRAIN,
        "worker_drain",
        Post,
        "/v1/workers/{id}/drain",
        Write,
        "access:workers",
        "workers",
        "Stop sending a worker new dispatches"
    );
    route!(
        DISPATCH,
        "dispatch",
        Post,
        "/v1/dispatches",
        Run,
        "worker:<to>",
        "workers",
        "Run a step on a worker and wait for its result"
    );
}

pub use codec::{Encoded, decode, decode_json, encode};

impl Route {
    /// Names of the path's `{field}` segments.
    pub fn params(&self) -> impl Iterator<Item = &'static str> {
        self.path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    }

    /// The `{field}` values in a concrete `path`, or None when it is not this route's.
    pub fn captures<'p>(&self, path: &'p str) -> Option<Vec<(&'static str, &'p str)>> {
        let (mut want, mut got) = (self.path.split('/'), path.split('/'));
        let mut out = Vec::new();
        loop {
            match (want.next(), got.next()) {
                (None, None) => return Some(out),
                (Some(w), Some(g)) => match w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                    Some(name) if !g.is_empty() => out.push((name, g)),
                    None if w == g => {}
                    _ => return None,
                },
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_unique_and_under_v1() {
        let (mut routes, mut ids) = (
            std::collections::HashSet::new(),
            std::collections::HashSet::new(),
        );
        for r in ROUTES {
            assert!(r.path.starts_with("/v1/"), "{}", r.id);
            assert!(
                routes.insert((r.method, r.path)),
                "duplicate {} {}",
                r.method.as_str(),
                r.path
            );
            assert!(ids.insert(r.id), "duplicate id {}", r.id);
        }
    }

    #[test]
    fn captures_match_templates_only() {
        let r = &routes::SNAPSHOT_ROLLBACK;
        assert_eq!(
            r.captures("/v1/snapshots/3/rollback"),
            Some(vec![("version", "3")])
        );
        assert_eq!(r.captures("/v1/snapshots/3"), None);
        assert_eq!(r.captures("/v1/snapshots//rollback"), None);
        assert_eq!(routes::TOKEN_LIST.captures("/v1/tokens"), Some(vec![]));
    }
}
