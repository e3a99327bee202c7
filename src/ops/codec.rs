//! The wire codec of operations, one for the client and for serve: a
//! request's path fields go into its route's path, the rest into the query
//! (GET) or the JSON body (POST), and come back out as the same request.

use serde_json::{Map, Value};

use super::{Endpoint, Method, wire};
use crate::error::{Error, Result};

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

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::*;

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
            public_key: Some("ssh-ed25519 AAAA".into()),
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
}
