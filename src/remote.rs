//! Remote mode: the management commands call serve's `/v1` API over HTTPS
//! (ureq + rustls, set up in [`crate::net`]) instead of opening the state file. The server answers
//! with the same JSON the local operation produces, so output is identical.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::error::{Code, Error, Exit, Result};
use crate::ops::{self, Endpoint, Method};

/// How long an ordinary request may take, unless `MOAT_REQUEST_TIMEOUT` says.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

fn request_timeout() -> Duration {
    std::env::var(crate::env::REQUEST_TIMEOUT)
        .ok()
        .and_then(|v| crate::time::parse_duration(&v).ok())
        .unwrap_or(REQUEST_TIMEOUT)
}

/// How long a request's signature stays valid (serve accepts up to 300 s).
pub const SIGNATURE_TTL_S: i64 = 60;

/// A client for one server.
pub struct Remote {
    base: String,
    bearer: Option<String>,
    /// With a signing key every request is signed (RFC 9421) and no bearer
    /// is sent.
    signer: Option<crate::sign::keys::Signer>,
    agent: ureq::Agent,
}

/// `base` with its host lowercased and a default port dropped, as the
/// HTTP client writes the Host header: what a signature covers and what
/// serve rebuilds must be the same text.
fn normalized(base: &str) -> Result<String> {
    let uri: http::Uri = base.parse().map_err(|_| {
        Error::usage(format!(
            "invalid --server '{}'",
            crate::credential::shown(base)
        ))
    })?;
    let (Some(scheme), Some(auth)) = (uri.scheme_str(), uri.authority()) else {
        return Err(Error::usage(format!(
            "invalid --server '{}'",
            crate::credential::shown(base)
        ))
        .with_hint("use https://HOST:PORT"));
    };
    let default = if scheme == "https" { 443 } else { 80 };
    let host = auth.host().to_ascii_lowercase();
    let authority = match auth.port_u16() {
        Some(p) if p != default => format!("{host}:{p}"),
        _ => host,
    };
    let path = uri.path().trim_end_matches('/');
    Ok(format!("{scheme}://{authority}{path}"))
}

fn unreachable(base: &str, e: &ureq::Error) -> Error {
    if let ureq::Error::Io(io) = e
        && let Some(why) = io
            .get_ref()
            .and_then(|i| i.downcast_ref::<crate::net::CertRefused>())
    {
        return crate::net::refused(base, &why.0, Exit::Unavailable);
    }
    Error::new(
        Exit::Unavailable,
        Code::ServerUnreachable,
        format!("cannot reach {base}: {e}"),
    )
    .with_hint("check --server, that serve is running, and --ca-file for a private CA")
}

impl Remote {
    /// Set up a client. `http://` is allowed only to loopback.
    pub fn new(
        url: &str,
        bearer: Option<String>,
        signer: Option<crate::sign::keys::Signer>,
        ca_file: Option<&Path>,
    ) -> Result<Self> {
        crate::tls::init();
        let base = url.trim_end_matches('/').to_owned();
        let host = base
            .strip_prefix("https://")
            .or_else(|| base.strip_prefix("http://"))
            .ok_or_else(|| {
                Error::usage(format!("invalid --server '{url}'")).with_hint("use https://HOST:PORT")
            })?;
        let hostname = host.rsplit_once(':').map_or(host, |(h, _)| h);
        if base.starts_with("http://") && !crate::net::is_loopback(hostname) {
            return Err(Error::usage(format!(
                "refusing plain http to {hostname}: tokens would cross the network in clear"
            ))
            .with_hint("use https://"));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(request_timeout()))
            .build();
        let agent = crate::net::agent(
            config,
            crate::net::client_config(ca_file, None, crate::net::CA_FILE)?,
        );
        Ok(Remote {
            base: normalized(&base)?,
            bearer,
            signer,
            agent,
        })
    }

    /// The headers that authenticate a request: a signature over it, or
    /// the bearer.
    fn auth(
        &self,
        method: &str,
        url: &str,
        body: Option<&[u8]>,
    ) -> Result<Vec<(&'static str, String)>> {
        let Some(signer) = &self.signer else {
            return Ok(self
                .bearer
                .as_ref()
                .map(|b| ("authorization", format!("Bearer {b}")))
                .into_iter()
                .collect());
        };
        let digest = body.map(crate::sign::http::content_digest);
        let lookup = |name: &str| match name {
            "content-digest" => digest.clone(),
            _ => None,
        };
        let msg = crate::sign::http::Message {
            method,
            target_uri: url,
            header: &lookup,
        };
        let mut components = vec!["@method", "@authority", "@target-uri"];
        if digest.is_some() {
            components.push("content-digest");
        }
        let created = crate::time::now_ms() / 1000;
        let params = crate::sign::http::Params {
            created,
            expires: created + SIGNATURE_TTL_S,
            nonce: crate::credential::random_id() + &crate::credential::random_id(),
            keyid: signer.public.fingerprint.clone(),
        };
        let (input, signature) =
            crate::sign::http::sign(&signer.key, &msg, &components, &params)
                .map_err(|m| Error::internal(format!("signing the request: {}", m.0)))?;
        let mut out = vec![("signature-input", input), ("signature", signature)];
        if let Some(d) = digest {
            out.push(("content-digest", d));
        }
        Ok(out)
    }

    fn finish(
        &self,
        resp: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<(Value, u16)> {
        let mut resp = resp.map_err(|e| unreachable(&self.base, &e))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(256 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| unreachable(&self.base, &e))?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status >= 400 {
            return Err(error_from(status, &v));
        }
        Ok((v, status))
    }

    /// Send an operation's request on its route; the answer is its
    /// response as the server wrote it (printed unchanged, so output is
    /// identical to local mode's).
    pub fn call<E: Endpoint>(&self, req: &E) -> Result<Value> {
        let wire = ops::encode(req)?;
        let url = format!("{}{}", self.base, wire.path);
        let wait = req.wait().unwrap_or_else(request_timeout);
        let resp = match E::ROUTE.method {
            Method::Get => {
                let url = if wire.query.is_empty() {
                    url
                } else {
                    format!("{url}?{}", wire.query)
                };
                let mut r = self
                    .agent
                    .get(&url)
                    .config()
                    .timeout_global(Some(wait))
                    .build();
                for (k, v) in self.auth("GET", &url, None)? {
                    r = r.header(k, v);
                }
                r.call()
            }
            Method::Post => {
                let body = serde_json::to_vec(&wire.body.unwrap_or(Value::Null))
                    .map_err(|e| Error::internal(format!("encoding JSON: {e}")))?;
                let mut r = self
                    .agent
                    .post(&url)
                    .config()
                    .timeout_global(Some(wait))
                    .build()
                    .content_type("application/json");
                for (k, v) in self.auth("POST", &url, Some(&body))? {
                    r = r.header(k, v);
                }
                r.send(&body[..])
            }
        };
        self.finish(resp).map(|r| r.0)
    }

    /// POST text to `E`'s route, receive text and the response headers
    /// (batch checks: NDJSON both ways).
    pub fn post_text<E: Endpoint>(&self, body: String) -> Result<(String, ureq::http::HeaderMap)> {
        let url = format!("{}{}", self.base, E::ROUTE.path);
        let mut req = self.agent.post(&url).content_type("application/x-ndjson");
        for (k, v) in self.auth("POST", &url, Some(body.as_bytes()))? {
            req = req.header(k, v);
        }
        let mut resp = req.send(body).map_err(|e| unreachable(&self.base, &e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp
            .body_mut()
            .with_config()
            .limit(1024 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| unreachable(&self.base, &e))?;
        if status >= 400 {
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            return Err(error_from(status, &v));
        }
        Ok((text, headers))
    }
}

/// Turn a server error response into the same error local mode would give.
fn error_from(status: u16, v: &Value) -> Error {
    let e = &v["error"];
    let exit = match e["exit"].as_u64() {
        Some(code) => Exit::ALL.into_iter().find(|x| u64::from(x.code()) == code),
        None => None,
    }
    .unwrap_or(match status {
        400 | 413 | 422 => Exit::Usage,
        401 | 403 | 429 => Exit::Auth,
        404 => Exit::NotFound,
        409 => Exit::Conflict,
        502..=504 => Exit::Unavailable,
        _ => Exit::Internal,
    });
    // 401/403/429 are always "unauthenticated or forbidden" for the client.
    let exit = if matches!(status, 401 | 403 | 429) {
        Exit::Auth
    } else {
        exit
    };
    let code = serde_json::from_value(e["code"].clone()).unwrap_or(Code::ServerError);
    let message = e["message"]
        .as_str()
        .map_or_else(|| format!("the server answered {status}"), str::to_owned);
    let mut err = Error::new(exit, code, message);
    if let Some(h) = e["hint"].as_str() {
        err = err.with_hint(h);
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_error_keeps_its_code_exit_and_hint() {
        let v = serde_json::json!({"error": {"code": "token_revoked", "message": "m", "hint": "h", "exit": 4}});
        let e = error_from(409, &v);
        assert_eq!(
            (e.code, e.exit, e.hint.as_deref()),
            (Code::TokenRevoked, Exit::Conflict, Some("h"))
        );
        let v =
            serde_json::json!({"error": {"code": "from_a_newer_serve", "message": "m", "exit": 3}});
        assert_eq!(error_from(404, &v).code, Code::Other);
        assert_eq!(
            error_from(502, &serde_json::json!("bad gateway")).code,
            Code::ServerError
        );
    }
}
