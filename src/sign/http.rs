//! HTTP Message Signatures (RFC 9421) with Ed25519, and `Content-Digest`
//! (RFC 9530): building the signature base, signing a request, and reading
//! a presented signature back into what a verifier needs. No I/O and no
//! policy here: the server decides what must be covered and how old a
//! signature may be.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sfv::{BareItem, Dictionary, FieldType, InnerList, Item, List, ListEntry, Parser};
use sha2::{Digest, Sha256, Sha512};

/// The label moat signs under (a verifier accepts any one label).
pub const LABEL: &str = "sig1";
/// The algorithm name in `alg` (RFC 9421 §6.2.2).
pub const ALG: &str = "ed25519";
/// Longest signature header moat reads.
const MAX_FIELD: usize = 8 * 1024;

/// Why a presented signature cannot even be checked. The text is for
/// people and never repeats header bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

fn bad(msg: impl Into<String>) -> Malformed {
    Malformed(msg.into())
}

/// The parts of a request a signature can cover. `header` returns a
/// field's value (several lines joined with ", "), or `None`.
pub struct Message<'a> {
    pub method: &'a str,
    /// The absolute target URI: `https://host:port/path?query`.
    pub target_uri: &'a str,
    pub header: &'a dyn Fn(&str) -> Option<String>,
}

/// The signature parameters moat requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    pub created: i64,
    pub expires: i64,
    pub nonce: String,
    pub keyid: String,
}

/// A signature as presented, ready to verify.
#[derive(Debug, Clone)]
pub struct Presented {
    pub label: String,
    /// Covered component names, in order (all lowercase, no parameters).
    pub components: Vec<String>,
    pub params: Params,
    signature: Vec<u8>,
    base: String,
}

impl Presented {
    /// Does the signature verify with `key` over this request's base?
    pub fn verifies(&self, key: &VerifyingKey) -> bool {
        Signature::from_slice(&self.signature)
            .is_ok_and(|s| key.verify_strict(self.base.as_bytes(), &s).is_ok())
    }

    /// Is `name` among the covered components?
    pub fn covers(&self, name: &str) -> bool {
        self.components.iter().any(|c| c == name)
    }
}

/// `sha-256=:BASE64:` for a body.
pub fn content_digest(body: &[u8]) -> String {
    let mut d = Dictionary::new();
    d.insert(
        name("sha-256"),
        ListEntry::Item(Item::new(BareItem::ByteSequence(
            Sha256::digest(body).to_vec(),
        ))),
    );
    d.serialize().unwrap_or_default()
}

/// A dictionary or parameter key; only called with moat's fixed
/// lowercase names, which are valid keys.
fn name(s: &'static str) -> sfv::Key {
    sfv::KeyRef::constant(s).to_owned()
}

/// Does `body` match a `Content-Digest` value? Every digest given must be
/// sha-256 or sha-512 and match; at least one must be given.
pub fn digest_matches(value: &str, body: &[u8]) -> Result<bool, Malformed> {
    let d: Dictionary = Parser::new(value)
        .parse()
        .map_err(|_| bad("the Content-Digest header is not a structured dictionary"))?;
    if d.is_empty() {
        return Err(bad("the Content-Digest header is empty"));
    }
    let mut ok = true;
    for (alg, entry) in &d {
        let ListEntry::Item(Item {
            bare_item: BareItem::ByteSequence(got),
            ..
        }) = entry
        else {
            return Err(bad("a Content-Digest member is not a byte sequence"));
        };
        let want = match alg.as_str() {
            "sha-256" => Sha256::digest(body).to_vec(),
            "sha-512" => Sha512::digest(body).to_vec(),
            _ => {
                return Err(bad(
                    "Content-Digest uses an algorithm other than sha-256 or sha-512",
                ));
            }
        };
        ok &= bool::from(subtle::ConstantTimeEq::ct_eq(
            got.as_slice(),
            want.as_slice(),
        ));
    }
    Ok(ok)
}

/// The value of one covered component of `msg`.
fn component(msg: &Message<'_>, name: &str) -> Result<String, Malformed> {
    if !name.starts_with('@') {
        let v = (msg.header)(name).ok_or_else(|| {
            bad(format!(
                "the signature covers the {} header, which the request lacks",
                shown(name)
            ))
        })?;
        return Ok(v.trim().to_owned());
    }
    let uri: http::Uri = msg
        .target_uri
        .parse()
        .map_err(|_| bad("the request's target URI cannot be read"))?;
    let path = if uri.path().is_empty() {
        "/"
    } else {
        uri.path()
    };
    Ok(match name {
        "@method" => msg.method.to_owned(),
        "@target-uri" => msg.target_uri.to_owned(),
        "@authority" => authority(&uri),
        "@scheme" => uri.scheme_str().unwrap_or("").to_ascii_lowercase(),
        "@path" => path.to_owned(),
        "@query" => format!("?{}", uri.query().unwrap_or("")),
        "@request-target" => match uri.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        },
        _ => {
            return Err(bad(format!(
                "the signature covers {}, which moat does not support",
                shown(name)
            )));
        }
    })
}

/// `@authority`: lowercase, without the scheme's default port.
fn authority(uri: &http::Uri) -> String {
    let Some(a) = uri.authority() else {
        return String::new();
    };
    let default = match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    };
    let host = a.host().to_ascii_lowercase();
    match a.port_u16() {
        Some(p) if Some(p) != default => format!("{host}:{p}"),
        _ => host,
    }
}

/// A name fit for a message: printable ASCII, cut short.
fn shown(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(40)
        .collect()
}

/// The inner list `("@method" ...);created=..;...` as serialized.
fn params_value(components: &[String], params: &sfv::Parameters) -> Result<String, Malformed> {
    let items = components
        .iter()
        .map(|c| {
            sfv::String::from_string(c.clone())
                .map(|s| Item::new(BareItem::String(s)))
                .map_err(|_| bad("a component name is not printable ASCII"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let list: List = vec![ListEntry::InnerList(InnerList::with_params(
        items,
        params.clone(),
    ))];
    list.serialize()
        .ok_or_else(|| bad("the signature parameters cannot be serialized"))
}

/// The signature base (RFC 9421 §2.5).
fn base(msg: &Message<'_>, components: &[String], params_value: &str) -> Result<String, Malformed> {
    let mut out = String::new();
    for c in components {
        let v = component(msg, c)?;
        if v.contains(['\r', '\n']) || !v.is_ascii() {
            return Err(bad(format!(
                "the value of {} cannot be signed (not plain ASCII on one line)",
                shown(c)
            )));
        }
        out.push('"');
        out.push_str(c);
        out.push_str("\": ");
        out.push_str(&v);
        out.push('\n');
    }
    out.push_str("\"@signature-params\": ");
    out.push_str(params_value);
    Ok(out)
}

/// Sign `msg` over `components`; returns the `Signature-Input` and
/// `Signature` header values.
pub fn sign(
    key: &SigningKey,
    msg: &Message<'_>,
    components: &[&str],
    p: &Params,
) -> Result<(String, String), Malformed> {
    let components: Vec<String> = components.iter().map(|c| (*c).to_owned()).collect();
    let mut params = sfv::Parameters::new();
    params.insert(name("created"), BareItem::Integer(int(p.created)?));
    params.insert(name("expires"), BareItem::Integer(int(p.expires)?));
    params.insert(name("nonce"), BareItem::String(string(&p.nonce)?));
    params.insert(name("keyid"), BareItem::String(string(&p.keyid)?));
    params.insert(name("alg"), BareItem::String(string(ALG)?));
    let value = params_value(&components, &params)?;
    let b = base(msg, &components, &value)?;
    let sig = key.sign(b.as_bytes());
    let mut d = Dictionary::new();
    d.insert(
        name(LABEL),
        ListEntry::Item(Item::new(BareItem::ByteSequence(sig.to_bytes().to_vec()))),
    );
    let signature = d
        .serialize()
        .ok_or_else(|| bad("the signature cannot be serialized"))?;
    Ok((format!("{LABEL}={value}"), signature))
}

fn int(v: i64) -> Result<sfv::Integer, Malformed> {
    sfv::Integer::try_from(v).map_err(|_| bad("a timestamp is out of range"))
}

fn string(v: &str) -> Result<sfv::String, Malformed> {
    sfv::String::from_string(v.to_owned()).map_err(|_| bad("a parameter is not printable ASCII"))
}

/// Read the signature a request presents (`Signature-Input` and
/// `Signature` values) and build its base from `msg`. With several labels,
/// the first one present in both headers is used.
pub fn presented(
    msg: &Message<'_>,
    signature_input: &str,
    signature: &str,
) -> Result<Presented, Malformed> {
    if signature_input.len() > MAX_FIELD || signature.len() > MAX_FIELD {
        return Err(bad("the signature headers are too long"));
    }
    let inputs: Dictionary = Parser::new(signature_input)
        .parse()
        .map_err(|_| bad("the Signature-Input header is not a structured dictionary"))?;
    let sigs: Dictionary = Parser::new(signature)
        .parse()
        .map_err(|_| bad("the Signature header is not a structured dictionary"))?;
    let (label, input) = inputs
        .iter()
        .find(|(l, _)| sigs.contains_key(*l))
        .ok_or_else(|| bad("no label appears in both Signature-Input and Signature"))?;
    let ListEntry::InnerList(list) = input else {
        return Err(bad("a Signature-Input member must be an inner list"));
    };
    let Some(ListEntry::Item(Item {
        bare_item: BareItem::ByteSequence(sig_bytes),
        ..
    })) = sigs.get(label)
    else {
        return Err(bad("a Signature member must be a byte sequence"));
    };
    let mut components = Vec::with_capacity(list.items.len());
    for item in &list.items {
        let BareItem::String(s) = &item.bare_item else {
            return Err(bad("a covered component must be a string"));
        };
        if !item.params.is_empty() {
            return Err(bad(
                "covered components with parameters (sf, key, bs, req, name) are not supported",
            ));
        }
        let s = s.as_str();
        if s != s.to_ascii_lowercase() || s.is_empty() {
            return Err(bad("covered component names must be lowercase"));
        }
        if s == "@signature-params" || components.iter().any(|c| c == s) {
            return Err(bad("a covered component appears twice"));
        }
        components.push(s.to_owned());
    }
    let p = &list.params;
    let int_param = |name: &str| match p.get(name) {
        Some(BareItem::Integer(i)) => Ok(i64::from(*i)),
        Some(_) => Err(bad(format!("the {name} parameter must be an integer"))),
        None => Err(bad(format!("the signature has no {name} parameter"))),
    };
    let str_param = |name: &str| match p.get(name) {
        Some(BareItem::String(s)) => Ok(s.as_str().to_owned()),
        Some(_) => Err(bad(format!("the {name} parameter must be a string"))),
        None => Err(bad(format!("the signature has no {name} parameter"))),
    };
    if p.get("alg").is_some() && str_param("alg")? != ALG {
        return Err(bad("the signature's alg is not ed25519"));
    }
    let params = Params {
        created: int_param("created")?,
        expires: int_param("expires")?,
        nonce: str_param("nonce")?,
        keyid: str_param("keyid")?,
    };
    if params.nonce.is_empty() || params.nonce.len() > 256 {
        return Err(bad("the nonce must be 1 to 256 characters"));
    }
    let value = params_value(&components, &list.params)?;
    let base = base(msg, &components, &value)?;
    Ok(Presented {
        label: label.as_str().to_owned(),
        components,
        params,
        signature: sig_bytes.clone(),
        base,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg<'a>(uri: &'a str, headers: &'a dyn Fn(&str) -> Option<String>) -> Message<'a> {
        Message {
            method: "POST",
            target_uri: uri,
            header: headers,
        }
    }

    fn params() -> Params {
        Params {
            created: 1_700_000_000,
            expires: 1_700_000_060,
            nonce: "n1".into(),
            keyid: "key_abc".into(),
        }
    }

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let sk = SigningKey::from_bytes(&[7; 32]);
        let digest = content_digest(b"{}");
        let h = |n: &str| (n == "content-digest").then(|| digest.clone());
        let m = msg("https://127.0.0.1:8443/v1/check?x=1", &h);
        let comps = ["@method", "@authority", "@target-uri", "content-digest"];
        let (input, sig) = sign(&sk, &m, &comps, &params()).unwrap();
        assert!(input.starts_with("sig1=(\"@method\" \"@authority\" \"@target-uri\" \"content-digest\");created=1700000000;expires=1700000060;nonce=\"n1\";keyid=\"key_abc\";alg=\"ed25519\""), "{input}");
        let p = presented(&m, &input, &sig).unwrap();
        assert_eq!(p.params, params());
        assert!(p.verifies(&sk.verifying_key()));
        assert!(p.base.contains("\"@authority\": 127.0.0.1:8443\n"));
        // Another target, another key, another digest: no.
        let m2 = msg("https://127.0.0.1:8443/v1/check?x=2", &h);
        assert!(
            !presented(&m2, &input, &sig)
                .unwrap()
                .verifies(&sk.verifying_key())
        );
        let other = SigningKey::from_bytes(&[8; 32]);
        assert!(!p.verifies(&other.verifying_key()));
        let h3 = |n: &str| (n == "content-digest").then(|| content_digest(b"{ }"));
        assert!(
            !presented(
                &msg("https://127.0.0.1:8443/v1/check?x=1", &h3),
                &input,
                &sig
            )
            .unwrap()
            .verifies(&sk.verifying_key())
        );
        // A changed parameter changes the base.
        let tampered = input.replace("expires=1700000060", "expires=1800000060");
        assert!(
            !presented(&m, &tampered, &sig)
                .unwrap()
                .verifies(&sk.verifying_key())
        );
    }

    #[test]
    fn digests_check_every_member() {
        let d = content_digest(b"abc");
        assert_eq!(digest_matches(&d, b"abc"), Ok(true));
        assert_eq!(digest_matches(&d, b"abd"), Ok(false));
        assert!(digest_matches("md5=:AAAA:", b"abc").is_err());
        assert!(digest_matches("sha-256=1", b"abc").is_err());
        assert!(digest_matches("", b"abc").is_err());
    }

    #[test]
    fn malformed_inputs_say_why() {
        let h = |_: &str| None;
        let m = msg("https://h/v1", &h);
        for (input, sig, why) in [
            ("sig1=(\"@method\")", "sig1=:AA==:", "created"),
            ("x", "y", "Signature-Input"),
            (
                "sig1=(\"@method\");created=1;expires=2;nonce=\"n\";keyid=\"k\"",
                "sig2=:AA==:",
                "both",
            ),
            (
                "sig1=(\"date\");created=1;expires=2;nonce=\"n\";keyid=\"k\"",
                "sig1=:AA==:",
                "lacks",
            ),
            (
                "sig1=(\"@method\";req);created=1;expires=2;nonce=\"n\";keyid=\"k\"",
                "sig1=:AA==:",
                "parameters",
            ),
            (
                "sig1=(\"@method\" \"@method\");created=1;expires=2;nonce=\"n\";keyid=\"k\"",
                "sig1=:AA==:",
                "twice",
            ),
            (
                "sig1=(\"@method\");created=1;expires=2;nonce=\"n\";keyid=\"k\";alg=\"rsa-pss-sha512\"",
                "sig1=:AA==:",
                "alg",
            ),
            (
                "sig1=(\"@status\");created=1;expires=2;nonce=\"n\";keyid=\"k\"",
                "sig1=:AA==:",
                "support",
            ),
        ] {
            let e = presented(&m, input, sig).unwrap_err();
            assert!(e.0.contains(why), "{input}: {}", e.0);
        }
    }
}
