//! `audit export`: events as NDJSON in moat's own shape, as OCSF API Activity
//! (class 6003) records, or as CEF lines for SIEMs.

use serde_json::{Value, json};

use super::Event;
use crate::time::rfc3339;

/// Export schemas.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Schema {
    /// The event as `audit log` prints it.
    Moat,
    /// OCSF 1.1 API Activity (class_uid 6003).
    Ocsf,
    /// ArcSight Common Event Format.
    Cef,
}

/// OCSF `activity_id` for an event type: 1 Create, 3 Update, 4 Delete, 99 Other.
fn ocsf_activity(kind: &str) -> (u32, &'static str) {
    if kind.ends_with("_created") || kind.ends_with("_added") {
        (1, "Create")
    } else if kind.ends_with("_revoked") || kind.ends_with("_pruned") {
        (4, "Delete")
    } else if kind.ends_with("_applied")
        || kind.ends_with("_changed")
        || kind.ends_with("_reloaded")
        || kind.ends_with("_rolled_back")
    {
        (3, "Update")
    } else {
        (99, "Other")
    }
}

/// One event as an OCSF API Activity object.
pub fn ocsf(e: &Event) -> Value {
    const CLASS: u32 = 6003;
    let (activity_id, activity) = ocsf_activity(&e.kind);
    let ok = e.outcome == "success";
    let mut v = json!({
        "activity_id": activity_id,
        "activity_name": activity,
        "category_uid": 6,
        "category_name": "Application Activity",
        "class_uid": CLASS,
        "class_name": "API Activity",
        "type_uid": CLASS * 100 + activity_id,
        "time": e.ts,
        "severity_id": if ok { 1 } else { 3 },
        "severity": if ok { "Informational" } else { "Medium" },
        "status_id": if ok { 1 } else { 2 },
        "status": if ok { "Success" } else { "Failure" },
        "message": format!("{} {}", e.kind, e.target.as_deref().unwrap_or("")).trim_end(),
        "metadata": {
            "version": "1.1.0",
            "uid": e.seq.to_string(),
            "correlation_uid": e.request_id,
            "product": {"name": "moat", "vendor_name": "moat", "version": env!("CARGO_PKG_VERSION")},
            "logged_time": e.ts,
        },
        "actor": {"user": {"name": e.actor, "uid": e.actor}},
        "api": {"operation": e.kind, "request": {"uid": e.request_id}},
        "src_endpoint": {"name": e.source},
        "resources": e.target.as_ref().map(|t| vec![json!({"uid": t, "type": t.split('_').next().unwrap_or("")})]),
        "unmapped": {"moat": {"seq": e.seq, "details": e.details, "hash": e.hash, "prev_hash": e.prev_hash}},
    });
    // OCSF attributes are typed: an absent value is left out, never null
    // (`unmapped` keeps moat's own details as they are).
    if let Some(m) = v.as_object_mut() {
        drop_nulls(m, &["unmapped"]);
    }
    v
}

/// Remove null members, recursively, except under the `keep` keys.
fn drop_nulls(m: &mut serde_json::Map<String, Value>, keep: &[&str]) {
    m.retain(|_, v| !v.is_null());
    for (k, v) in m.iter_mut() {
        if keep.contains(&k.as_str()) {
            continue;
        }
        if let Some(inner) = v.as_object_mut() {
            drop_nulls(inner, &[]);
        }
    }
    // An object left empty (an `api.request` without a request id) goes too.
    m.retain(|_, v| v.as_object().is_none_or(|o| !o.is_empty()));
}

fn cef_header(s: &str) -> String {
    s.replace('\\', "\\\\").replace('|', "\\|")
}

fn cef_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

/// One event as a CEF line.
pub fn cef(e: &Event) -> String {
    let severity = if e.outcome == "success" { 3 } else { 7 };
    let mut ext = vec![
        format!("rt={}", e.ts),
        format!("suser={}", cef_value(&e.actor)),
        format!("outcome={}", cef_value(&e.outcome)),
        format!("externalId={}", e.seq),
        format!(
            "cs1Label=target cs1={}",
            cef_value(e.target.as_deref().unwrap_or(""))
        ),
        format!("cs2Label=source cs2={}", cef_value(&e.source)),
        format!("cs3Label=hash cs3={}", e.hash),
        format!("msg={}", cef_value(&e.details.to_string())),
    ];
    if let Some(r) = &e.request_id {
        ext.push(format!("cs4Label=request_id cs4={}", cef_value(r)));
    }
    format!(
        "CEF:0|moat|moat|{}|{}|{}|{severity}|{}",
        cef_header(env!("CARGO_PKG_VERSION")),
        cef_header(&e.kind),
        cef_header(&format!(
            "{} at {}",
            e.kind.replace('_', " "),
            rfc3339(e.ts)
        )),
        ext.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event {
            seq: 7,
            ts: 1_700_000_000_000,
            kind: "token_revoked".into(),
            actor: "local:alice".into(),
            target: Some("tok_abc".into()),
            outcome: "success".into(),
            source: "cli".into(),
            request_id: None,
            details: json!({"reason": "a=b|c"}),
            prev_hash: "00".into(),
            hash: "ff".into(),
        }
    }

    #[test]
    fn ocsf_has_the_api_activity_shape() {
        let v = ocsf(&event());
        assert_eq!(v["class_uid"], 6003);
        assert_eq!(v["activity_id"], 4);
        assert_eq!(v["type_uid"], 600304);
        assert_eq!(v["actor"]["user"]["name"], "local:alice");
    }

    #[test]
    fn cef_escapes_extension_values() {
        let line = cef(&event());
        assert!(line.starts_with("CEF:0|moat|moat|"), "{line}");
        assert!(line.contains(r#"msg={"reason":"a\=b|c"}"#), "{line}");
        assert_eq!(line.matches('|').count(), 7 + 1, "{line}");
    }
}

#[cfg(test)]
mod ocsf_nulls {
    use super::*;

    fn nulls(v: &Value, path: &str, out: &mut Vec<String>) {
        match v {
            Value::Null => out.push(path.to_owned()),
            Value::Object(m) if path != ".unmapped" => {
                for (k, v) in m {
                    nulls(v, &format!("{path}.{k}"), out);
                }
            }
            Value::Array(a) => a.iter().for_each(|v| nulls(v, &format!("{path}[]"), out)),
            _ => {}
        }
    }

    #[test]
    fn an_event_without_request_or_target_has_no_nulls() {
        let e = Event {
            seq: 1,
            ts: 1_700_000_000_000,
            kind: "serve_started".into(),
            actor: "serve".into(),
            target: None,
            outcome: "success".into(),
            source: "serve".into(),
            request_id: None,
            details: json!({"auth_mode": null}),
            prev_hash: "00".into(),
            hash: "ff".into(),
        };
        let v = ocsf(&e);
        let mut found = Vec::new();
        nulls(&v, "", &mut found);
        assert!(found.is_empty(), "null attributes: {found:?}");
        assert!(v["api"].get("request").is_none() && v.get("resources").is_none());
        assert_eq!(v["unmapped"]["moat"]["details"]["auth_mode"], Value::Null);
    }
}
