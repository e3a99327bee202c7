//! The OpenAPI 3.1 document of `/v1`, generated from the route table and
//! the operation types.

use serde_json::Value;

/// The document, as served at `/v1/openapi.json` and committed as `openapi.json`.
pub fn document() -> Value {
    Value::Null
}
