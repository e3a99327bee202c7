//! Operations: every management operation defined once, as a typed request
//! (validated on arrival), a typed response, and one entry in the route
//! table (method, path, required permission). The local CLI runs an
//! operation on the store; remote mode sends the same request to `serve`,
//! whose route decodes it with the same codec and runs the same function.

#[macro_use]
pub mod wire;
pub mod audit;
pub mod grants;
pub mod openapi;
pub mod policy;
pub mod tokens;
pub mod workers;

use std::borrow::Cow;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
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

/// A request as it goes on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// The path with its `{field}` segments filled in.
    pub path: String,
    /// Query string (GET), without `?`; empty when there is none.
    pub query: String,
    /// JSON body (POST).
    pub body: Option<Value>,
}

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

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Put `req` on the wire for its route: path fields into the path, the
/// rest into the query (GET) or the JSON body (POST).
pub fn encode<E: Endpoint>(req: &E) -> Result<Encoded> {
    let route = E::ROUTE;
    let mut fields = match serde_json::to_value(req)
        .map_err(|e| Error::internal(format!("encoding {}: {e}", route.id)))?
    {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        other => {
            return Err(Error::internal(format!(
                "{} is not an object: {other}",
                route.id
            )));
        }
    };
    let mut path = route.path.to_owned();
    for name in route.params() {
        let v = fields
            .remove(name)
            .and_then(|v| scalar(&v))
            .ok_or_else(|| Error::internal(format!("{}: no value for {{{name}}}", route.id)))?;
        path = path.replace(&format!("{{{name}}}"), &v);
    }
    Ok(match route.method {
        Method::Get => {
            let pairs: Vec<(String, String)> = fields
                .iter()
                .filter_map(|(k, v)| scalar(v).map(|v| (k.clone(), v)))
                .collect();
            Encoded {
                path,
                query: serde_urlencoded::to_string(pairs)
                    .map_err(|e| Error::internal(format!("encoding a query: {e}")))?,
                body: None,
            }
        }
        Method::Post => Encoded {
            path,
            query: String::new(),
            body: Some(Value::Object(fields)),
        },
    })
}

/// Read a request of type `E` off the wire: the path's fields, then the
/// query (GET) or the JSON body (POST). A refused field gives its domain
/// error (message, hint, code), anything else a usage error.
pub fn decode<E: Endpoint>(path: &str, query: &str, body: Option<Value>) -> Result<E> {
    let route = E::ROUTE;
    let captures = route
        .captures(path)
        .ok_or_else(|| Error::not_found(format!("{path} is not {}", route.path)))?;
    wire::clear_refusal();
    let refused = |e: String| {
        wire::take_refusal().unwrap_or_else(|| Error::usage(format!("malformed request: {e}")))
    };
    match route.method {
        Method::Get => {
            let mut q = query.to_owned();
            for (k, v) in captures {
                if !q.is_empty() {
                    q.push('&');
                }
                q.push_str(
                    &serde_urlencoded::to_string([(k, v)])
                        .map_err(|e| Error::internal(e.to_string()))?,
                );
            }
            let d = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
            serde_path_to_error::deserialize(d).map_err(|e| refused(e.to_string()))
        }
        Method::Post => {
            let mut obj = match body.unwrap_or(Value::Object(Map::new())) {
                Value::Object(m) => m,
                Value::Null => Map::new(),
                _ => return Err(Error::usage("the request body must be a JSON object")),
            };
            for (k, v) in captures {
                if obj
                    .insert(k.to_owned(), Value::String(v.to_owned()))
                    .is_some()
                {
                    return Err(Error::usage(format!(
                        "'{k}' is part of the path; leave it out of the body"
                    )));
                }
            }
            serde_path_to_error::deserialize(Value::Object(obj)).map_err(|e| refused(e.to_string()))
        }
    }
}

/// Read a POST request of type `E` from its path and its JSON body bytes,
/// without building a JSON tree first when the path has no fields.
pub fn decode_json<E: Endpoint>(path: &str, body: &[u8]) -> Result<E> {
    let syntax = |e: &serde_json::Error| {
        Error::usage(format!("cannot parse the JSON body: {e}"))
            .with_hint("send one JSON object, e.g. {\"dry_run\": false}")
    };
    if E::ROUTE.params().next().is_some() {
        let v: Value = serde_json::from_slice(body).map_err(|e| syntax(&e))?;
        return decode(path, "", Some(v));
    }
    E::ROUTE
        .captures(path)
        .ok_or_else(|| Error::not_found(format!("{path} is not {}", E::ROUTE.path)))?;
    wire::clear_refusal();
    let mut de = serde_json::Deserializer::from_slice(body);
    let out: E = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        if e.inner().is_data() {
            wire::take_refusal().unwrap_or_else(|| Error::usage(format!("malformed request: {e}")))
        } else {
            syntax(e.inner())
        }
    })?;
    de.end().map_err(|e| syntax(&e))?;
    Ok(out)
}

/// An empty request or response body (`{}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

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

    /// What the client puts on the wire, serve reads back as the same request.
    fn round_trip<E: Endpoint + PartialEq + std::fmt::Debug>(req: E) {
        let w = encode(&req).unwrap();
        assert!(!w.path.contains('{'), "{}", w.path);
        let back: E = match E::ROUTE.method {
            Method::Get => decode(&w.path, &w.query, None).unwrap(),
            Method::Post => {
                let bytes = serde_json::to_vec(&w.body.clone().unwrap()).unwrap();
                let a: E = decode_json(&w.path, &bytes).unwrap();
                assert_eq!(a, decode(&w.path, "", w.body).unwrap());
                a
            }
        };
        assert_eq!(back, req, "{}", E::ROUTE.id);
    }

    #[test]
    fn requests_survive_the_wire() {
        use std::time::Duration;
        round_trip(tokens::TokenList {
            kind: Some(crate::credential::CredentialKind::Api),
            state: Some(crate::token::TokenState::Expired),
        });
        round_trip(tokens::TokenList::default());
        round_trip(tokens::TokenShow {
            id: "tok_0a1b2c3d4e5f".parse().unwrap(),
        });
        round_trip(tokens::TokenPrune {
            older_than: Some(Duration::from_secs(90)),
        });
        round_trip(crate::token::CreateRequest {
            kind: crate::credential::CredentialKind::Api,
            ttl: Some(Duration::from_secs(7200)),
            allow_long_ttl: false,
            max_uses: Some(crate::token::MaxUses::Unlimited),
            label: Some("ci \"deploy\" & co".into()),
            principal: Some("user:alice".parse().unwrap()),
            scopes: vec!["run:worker:build-*".parse().unwrap()],
        });
        round_trip(grants::GrantList {
            subject: Some("group:ops".into()),
            state: Some(grants::GrantState::Revoked),
            ..Default::default()
        });
        round_trip(grants::GroupAdd {
            group: "role:admin".parse().unwrap(),
            principals: vec!["user:a".parse().unwrap(), "user:b".parse().unwrap()],
        });
        round_trip(policy::SnapshotRollback { version: 12 });
        round_trip(audit::AuditLog {
            since: Some("90d".parse().unwrap()),
            kind: Some("token_created".into()),
            after_seq: Some(41),
            ..Default::default()
        });
        round_trip(workers::WorkerList {
            all: true,
            stale: Some(Duration::from_secs(600)),
            label: Some("pool=build & test".parse().unwrap()),
        });
        round_trip(workers::WorkerDrain {
            id: "wrk_0a1b2c3d4e5f".parse().unwrap(),
        });
    }

    #[test]
    fn a_refused_field_keeps_its_domain_error() {
        let e = decode_json::<grants::GrantAdd>(
            "/v1/grants",
            br#"{"subject":"nobody","actions":["read"],"resource":"vault:x"}"#,
        )
        .unwrap_err();
        assert!(e.message.contains("invalid subject"), "{}", e.message);
        assert!(e.hint.is_some_and(|h| h.contains("group:")));
        let e = decode::<workers::WorkerList>("/v1/workers", "stale=soon", None).unwrap_err();
        assert_eq!(e.exit, crate::error::Exit::Usage);
        let e = decode_json::<policy::Reload>("/v1/reload", b"{\"dry_run\": true} trailing")
            .unwrap_err();
        assert!(e.message.contains("parse"), "{}", e.message);
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
