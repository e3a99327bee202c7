//! The OpenAPI 3.1 document of `/v1`, generated from the route table and
//! the operation types' schemas (utoipa). Served at `/v1/openapi.json` and
//! committed as `openapi.json`; a test fails when the two drift apart.

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use super::{Endpoint, Method};
use crate::error::Code;

/// The error shape every route answers with on failure.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, for scripts (`code`, `exit`) and people (`message`, `hint`).
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: Code,
    pub message: String,
    pub hint: Option<String>,
    /// The exit status the CLI gives this error.
    pub exit: u8,
    pub request_id: String,
}

fn value(s: RefOr<Schema>) -> Value {
    serde_json::to_value(s).unwrap_or(Value::Null)
}

/// The document under construction.
struct Doc {
    paths: Map<String, Value>,
    schemas: Map<String, Value>,
}

impl Doc {
    fn components<T: utoipa::ToSchema>(&mut self) {
        let mut found = Vec::new();
        T::schemas(&mut found);
        for (name, s) in found {
            self.schemas.insert(name, value(s));
        }
    }

    /// Add one operation: its path and query parameters or JSON body from
    /// the request's schema, its 200 answer from the response's.
    fn add<E>(&mut self)
    where
        E: Endpoint + utoipa::ToSchema,
        E::Response: utoipa::ToSchema,
    {
        self.components::<E>();
        self.components::<E::Response>();
        let route = E::ROUTE;
        let req = value(<E as utoipa::PartialSchema>::schema());
        let empty = Map::new();
        let props = req["properties"].as_object().unwrap_or(&empty);
        let required: Vec<&str> = req["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let path_params: Vec<&str> = route.params().collect();
        let mut params: Vec<Value> = path_params
            .iter()
            .map(|name| {
                json!({"name": name, "in": "path", "required": true,
                       "schema": props.get(*name).cloned().unwrap_or(json!({"type": "string"}))})
            })
            .collect();
        let mut op = json!({
            "operationId": route.id,
            "summary": route.summary,
            "tags": [route.tag],
            "security": [{"bearer": []}],
            "responses": {
                "200": {"description": "the operation's result",
                        "content": {"application/json": {"schema": value(<E::Response as utoipa::PartialSchema>::schema())}}},
                "default": {"$ref": "#/components/responses/Error"},
            },
        });
        if !route.resource.is_empty() {
            op["description"] = json!(format!(
                "Needs `{}` on `{}`.",
                route.action.as_str(),
                route.resource
            ));
        }
        let rest: Map<String, Value> = props
            .iter()
            .filter(|(k, _)| !path_params.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        match route.method {
            Method::Get => {
                for (k, v) in &rest {
                    params.push(json!({"name": k, "in": "query",
                        "required": required.contains(&k.as_str()), "schema": v}));
                }
            }
            Method::Post => {
                let mut body = req.clone();
                body["properties"] = Value::Object(rest);
                body["required"] = json!(
                    required
                        .iter()
                        .filter(|r| !path_params.contains(r))
                        .collect::<Vec<_>>()
                );
                op["requestBody"] = json!({"required": true,
                    "content": {"application/json": {"schema": body}}});
            }
        }
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        self.put(route.path, route.method, op);
    }

    fn put(&mut self, path: &str, method: Method, op: Value) {
        let item = self
            .paths
            .entry(path.to_owned())
            .or_insert_with(|| json!({}));
        item[method.as_str().to_ascii_lowercase()] = op;
    }
}

/// The document, as served at `/v1/openapi.json` and committed as `openapi.json`.
pub fn document() -> Value {
    use super::{audit::*, grants::*, policy::*, tokens::*, workers::*};
    let mut d = Doc {
        paths: Map::new(),
        schemas: Map::new(),
    };
    d.add::<Whoami>();
    d.add::<crate::token::CreateRequest>();
    d.add::<TokenList>();
    d.add::<TokenShow>();
    d.add::<TokenRevoke>();
    d.add::<TokenPrune>();
    d.add::<TokenVerify>();
    d.add::<GrantAdd>();
    d.add::<GrantList>();
    d.add::<GrantRevoke>();
    d.add::<GrantApply>();
    d.add::<GrantExport>();
    d.add::<GroupList>();
    d.add::<GroupAdd>();
    d.add::<GroupRemove>();
    d.add::<Check>();
    d.add::<Reload>();
    d.add::<SnapshotList>();
    d.add::<SnapshotRollback>();
    d.add::<SnapshotPrune>();
    d.add::<AuditLog>();
    d.add::<AuditVerify>();
    d.add::<AuditCheckpoint>();
    d.add::<AuditCheck>();
    d.add::<AuditPrune>();
    d.add::<AuditExport>();
    d.add::<WorkerList>();
    d.add::<WorkerShow>();
    d.add::<WorkerRevoke>();
    d.add::<WorkerDrain>();
    d.add::<Dispatch>();
    // NDJSON in and out: the one operation whose body is not JSON.
    let batch = CheckBatch::ROUTE;
    d.put(
        batch.path,
        batch.method,
        json!({
            "operationId": batch.id,
            "summary": batch.summary,
            "tags": [batch.tag],
            "description": format!("Needs `{}` on `{}`. Counts are in the {BATCH_REQUESTS} and {BATCH_ERRORS} headers.", batch.action.as_str(), batch.resource),
            "security": [{"bearer": []}],
            "requestBody": {"required": true, "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            }},
            "responses": {
                "200": {"description": "one decision line per request line",
                        "content": {"application/x-ndjson": {"schema": {"type": "string"}}}},
                "default": {"$ref": "#/components/responses/Error"},
            },
        }),
    );
    d.components::<ErrorBody>();
    d.schemas.insert(
        "ErrorBody".into(),
        value(<ErrorBody as utoipa::PartialSchema>::schema()),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "moat serve",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The /v1 management API of moat's serve. Every operation is also a \
                CLI command (local or --server); both run the same library function.",
        },
        "paths": d.paths,
        "components": {
            "schemas": d.schemas,
            "responses": {"Error": {"description": "the error shape",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                "description": "an api token (mta_...) or a JWT"}},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_of_the_table_is_in_the_document() {
        let doc = document();
        for r in super::super::ROUTES {
            let op = &doc["paths"][r.path][r.method.as_str().to_ascii_lowercase()];
            assert_eq!(op["operationId"], r.id, "{} {}", r.method.as_str(), r.path);
        }
        let ops: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum();
        assert_eq!(ops, super::super::ROUTES.len());
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        for part in text.split("\"$ref\":\"").skip(1) {
            let target = &part[..part.find('"').unwrap()];
            let name = target.rsplit('/').next().unwrap();
            let kind = if target.contains("/responses/") {
                "responses"
            } else {
                "schemas"
            };
            assert!(
                doc["components"][kind].get(name).is_some(),
                "unresolved {target}"
            );
        }
    }
}
