//! Credentials on the wire and at rest: the `<prefix>_<id>_<secret><checksum>`
//! token format, argon2id hashing, HMAC-SHA256 with the server pepper, and
//! constant-time comparison. Nothing here touches the database.

use std::fmt;
use std::sync::{Mutex, OnceLock, mpsc};

use argon2::Argon2;
use argon2::password_hash::phc::{self, PasswordHash};
use hmac::{Hmac, KeyInit, Mac};
use rand::RngExt;
use sha2::Sha256;
use subtle::ConstantTimeEq;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ID_ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// Length of the public id part.
pub const ID_LEN: usize = 12;
/// Length of the secret part: 43 base62 characters carry 256.03 bits.
pub const SECRET_LEN: usize = 43;
/// Length of the CRC32 checksum in base62 (62^6 > 2^32).
pub const CHECKSUM_LEN: usize = 6;

/// What a credential is for; decides its prefix.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum CredentialKind {
    /// Lets one machine join the fleet (`mte_`).
    Enrol,
    /// Authenticates a principal to `serve` (`mta_`).
    Api,
    /// A worker's short-lived session credential (`mtw_`).
    Worker,
    /// A principal's registered Ed25519 public key (`key_<id>`): no
    /// secret, so never a raw credential on the wire.
    Key,
}

impl CredentialKind {
    /// The wire prefix.
    pub const fn prefix(self) -> &'static str {
        match self {
            CredentialKind::Enrol => "mte",
            CredentialKind::Api => "mta",
            CredentialKind::Worker => "mtw",
            CredentialKind::Key => "key",
        }
    }

    /// The name used in records and flags.
    pub const fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Enrol => "enrol",
            CredentialKind::Api => "api",
            CredentialKind::Worker => "worker",
            CredentialKind::Key => "key",
        }
    }

    fn from_prefix(prefix: &str) -> Option<Self> {
        match prefix {
            "mte" => Some(CredentialKind::Enrol),
            "mta" => Some(CredentialKind::Api),
            "mtw" => Some(CredentialKind::Worker),
            _ => None,
        }
    }
}

/// Why a string is not a well-formed credential. Detected without any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatError {
    /// Not shaped like a moat credential at all.
    Invalid,
    /// Shaped right, but the checksum does not match: a typo or a truncation.
    ChecksumMismatch,
}

impl FormatError {
    /// The stable refusal code.
    pub const fn code(self) -> crate::error::Code {
        match self {
            FormatError::Invalid => crate::error::Code::InvalidToken,
            FormatError::ChecksumMismatch => crate::error::Code::ChecksumMismatch,
        }
    }

    /// A message for people (never echoes the input).
    pub const fn message(self) -> &'static str {
        match self {
            FormatError::Invalid => {
                "this is not a moat token (expected mte_, mta_ or mtw_ followed by an id, a secret and a checksum)"
            }
            FormatError::ChecksumMismatch => {
                "the token's checksum does not match: it was mistyped or truncated"
            }
        }
    }
}

/// A raw credential. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct RawCredential {
    pub kind: CredentialKind,
    /// The public id (lowercase base36).
    pub id: String,
    secret: String,
}

impl fmt::Debug for RawCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawCredential")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

impl RawCredential {
    /// A fresh credential with a random id and a 256-bit secret.
    pub fn generate(kind: CredentialKind) -> Self {
        let mut rng = rand::rng();
        let id = random_id();
        let secret = (0..SECRET_LEN)
            .map(|_| BASE62[rng.random_range(0..BASE62.len())] as char)
            .collect();
        RawCredential { kind, id, secret }
    }

    /// The secret part, for hashing. Handle with care.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The full wire form `<prefix>_<id>_<secret><checksum>`.
    pub fn expose(&self) -> String {
        let body = format!("{}_{}_{}", self.kind.prefix(), self.id, self.secret);
        let sum = checksum(&body);
        body + &sum
    }

    /// Parse and checksum-verify a wire-form credential.
    pub fn parse(input: &str) -> Result<Self, FormatError> {
        let s = input.trim();
        let (prefix, rest) = s.split_once('_').ok_or(FormatError::Invalid)?;
        let kind = CredentialKind::from_prefix(prefix).ok_or(FormatError::Invalid)?;
        let (id, tail) = rest.split_once('_').ok_or(FormatError::Invalid)?;
        if id.len() != ID_LEN || !id.bytes().all(|b| ID_ALPHABET.contains(&b)) {
            return Err(FormatError::Invalid);
        }
        if tail.len() != SECRET_LEN + CHECKSUM_LEN || !tail.bytes().all(|b| BASE62.contains(&b)) {
            return Err(FormatError::Invalid);
        }
        let (secret, sum) = tail.split_at(SECRET_LEN);
        let body = &s[..s.len() - CHECKSUM_LEN];
        if !ct_eq(checksum(body).as_bytes(), sum.as_bytes()) {
            return Err(FormatError::ChecksumMismatch);
        }
        Ok(RawCredential {
            kind,
            id: id.to_owned(),
            secret: secret.to_owned(),
        })
    }
}

/// CRC32 of `body`, as six base62 digits.
fn checksum(body: &str) -> String {
    let mut n = u64::from(crc32fast::hash(body.as_bytes()));
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out.iter().map(|&b| b as char).collect()
}

/// A random public id: 12 lowercase base36 characters (~62 bits).
pub fn random_id() -> String {
    let mut rng = rand::rng();
    (0..ID_LEN)
        .map(|_| ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())] as char)
        .collect()
}

/// `input` made safe to echo in a message: anything shaped like a credential
/// is cut to its prefix and public id (`mta_0a1b2c3d4e5f_…`), a JWT to its
/// name, any run of 32 or more letters and digits (a secret pasted in the
/// wrong place) to `…`, and the rest to 80 characters, so no error ever
/// repeats a secret it was handed.
pub fn shown(input: &str) -> String {
    let t = input.trim();
    let lower = t.get(..4).map(str::to_ascii_lowercase);
    if let Some(prefix) = lower.filter(|p| matches!(p.as_str(), "mte_" | "mta_" | "mtw_")) {
        let id: String = t[4..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .take(ID_LEN)
            .collect();
        return format!("{prefix}{id}_…");
    }
    if t.starts_with("eyJ") && t.contains('.') {
        return "(a JWT)".to_owned();
    }
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 32 {
            out.push('…');
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in t.chars() {
        if c.is_ascii_alphanumeric() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    if out.chars().count() > 80 {
        format!("{}…", out.chars().take(80).collect::<String>())
    } else {
        out
    }
}

/// True when `s` is a well-formed public id.
pub fn is_valid_id(s: &str) -> bool {
    s.len() == ID_LEN && s.bytes().all(|b| ID_ALPHABET.contains(&b))
}

type Job = Box<dyn FnOnce() + Send>;

/// Most memory the argon2 pool may use at once (19 MiB per thread).
pub const ARGON2_MEMORY_CAP: usize = 256 * 1024 * 1024;

/// Threads in the argon2 pool: one per core, within [`ARGON2_MEMORY_CAP`].
pub fn argon2_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.clamp(1, ARGON2_MEMORY_CAP / (19 * 1024 * 1024))
}

/// Run `f` on the argon2 pool: a fixed set of long-lived threads, one per
/// core (so an enrolment storm uses every core, not one), within a memory
/// cap. argon2id needs 19 MiB per call; made on whichever thread happened to
/// ask, those buffers end up spread over many malloc arenas and stay
/// resident (a serve enrolling a thousand workers grew to 17 GB). On a few
/// fixed threads the same memory is reused.
fn on_argon2_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    static TX: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let tx = TX.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(Mutex::new(rx));
        for i in 0..argon2_threads() {
            let rx = rx.clone();
            // A thread that cannot start leaves the others; with none at
            // all every send below fails and the job runs inline.
            let _ = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => break,
                        }
                    }
                });
        }
        Mutex::new(tx)
    });
    let (rtx, rrx) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        let _ = rtx.send(f());
    });
    let sent = tx.lock().unwrap_or_else(|p| p.into_inner()).send(job);
    if let Err(mpsc::SendError(job)) = sent {
        job();
    }
    // The job always sends exactly once before its sender drops.
    rrx.recv()
        .unwrap_or_else(|_| unreachable!("the argon2 job answers before it ends"))
}

thread_local! {
    /// This argon2 thread's working memory, allocated once and reused by
    /// every hash and verification it runs. A fresh 19 MiB buffer per call
    /// fragmented the thread's malloc arena until it held three or four
    /// (a serve that had enrolled a thousand workers kept ~190 MB).
    static MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The most memory one stored hash may ask for (its `m=`) to use the reused
/// buffer: our own hashes ask for 19 MiB.
const MAX_REUSED_BLOCKS: usize = 64 * 1024;

/// argon2id of `secret` with the parameters in `params`, into `out`, in this
/// thread's reused memory.
fn argon2_into(
    argon: &Argon2<'_>,
    params: &argon2::Params,
    secret: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> std::result::Result<(), argon2::Error> {
    let blocks = params.block_count();
    if blocks > MAX_REUSED_BLOCKS {
        return argon.hash_password_into(secret, salt, out);
    }
    MEMORY.with_borrow_mut(|m| {
        if m.len() < blocks {
            m.resize(blocks, argon2::Block::new());
        }
        argon.hash_password_into_with_memory(secret, salt, out, &mut m[..blocks])
    })
}

/// Hash a secret as an argon2id PHC string (OWASP parameters: m=19 MiB, t=2, p=1).
pub fn hash_secret(secret: &str) -> crate::Result<String> {
    let secret = secret.to_owned();
    let salt: [u8; 16] = rand::random();
    on_argon2_thread(move || {
        let fail =
            |e: &dyn fmt::Display| crate::Error::internal(format!("argon2 hashing failed: {e}"));
        let params = argon2::Params::default();
        let mut out = [0u8; argon2::Params::DEFAULT_OUTPUT_LEN];
        argon2_into(
            &Argon2::default(),
            &params,
            secret.as_bytes(),
            &salt,
            &mut out,
        )
        .map_err(|e| fail(&e))?;
        let phc = PasswordHash {
            algorithm: argon2::ARGON2ID_IDENT,
            version: Some(argon2::Version::default().into()),
            params: phc::ParamsString::try_from(&params).map_err(|e| fail(&e))?,
            salt: Some(phc::Salt::new(&salt).map_err(|e| fail(&e))?),
            hash: Some(phc::Output::new(&out).map_err(|e| fail(&e))?),
        };
        Ok(phc.to_string())
    })
}

/// Verify a secret against a stored PHC string. Constant-time in the secret.
pub fn verify_secret(secret: &str, phc: &str) -> bool {
    let (secret, phc) = (secret.to_owned(), phc.to_owned());
    on_argon2_thread(move || {
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return false;
        };
        let (Ok(algorithm), Ok(version), Ok(params)) = (
            argon2::Algorithm::new(parsed.algorithm.as_str()),
            argon2::Version::try_from(parsed.version.unwrap_or(argon2::Version::default().into())),
            argon2::Params::try_from(&parsed),
        ) else {
            return false;
        };
        let mut out = vec![0u8; expected.len()];
        let argon = Argon2::new(algorithm, version, params.clone());
        argon2_into(&argon, &params, secret.as_bytes(), salt.as_ref(), &mut out).is_ok()
            && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
    })
}

/// HMAC-SHA256 keyed with the pepper.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so construction cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA256 with the key schedule done once, for hashing many messages
/// under one key (the audit chain).
#[derive(Clone)]
pub struct KeyedHmac(Hmac<Sha256>);

impl KeyedHmac {
    /// Prepare the key.
    pub fn new(key: &[u8]) -> Self {
        KeyedHmac(
            <Hmac<Sha256> as KeyInit>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length")),
        )
    }

    /// The MAC of the concatenated parts.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut m = self.0.clone();
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }
}

/// Lowercase hex into a fixed buffer (no allocation).
pub fn hex32(bytes: &[u8; 32]) -> [u8; 64] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[(b >> 4) as usize];
        out[2 * i + 1] = DIGITS[(b & 15) as usize];
    }
    out
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time equality of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_work_spreads_over_the_pool() {
        let calls: Vec<_> = (0..8)
            .map(|_| {
                std::thread::spawn(|| {
                    on_argon2_thread(|| {
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        std::thread::current().name().map(str::to_owned)
                    })
                })
            })
            .collect();
        let names: std::collections::BTreeSet<_> =
            calls.into_iter().map(|c| c.join().unwrap()).collect();
        assert!(
            names
                .iter()
                .all(|n| n.as_deref().is_some_and(|n| n.starts_with("argon2-")))
        );
        assert_eq!(names.len(), argon2_threads().min(8), "{names:?}");
        assert!(argon2_threads() * 19 * 1024 * 1024 <= ARGON2_MEMORY_CAP);
    }

    #[test]
    fn shown_input_never_holds_a_secret() {
        for kind in [
            CredentialKind::Enrol,
            CredentialKind::Api,
            CredentialKind::Worker,
        ] {
            let raw = RawCredential::generate(kind);
            let full = raw.expose();
            for input in [
                full.clone(),
                full.to_uppercase(),
                format!("  {full}"),
                full[..30].to_owned(),
            ] {
                let s = shown(&input);
                assert!(!s.contains(&raw.secret()[..8]), "{s}");
                assert!(s.len() <= 4 + ID_LEN + 4, "{s}");
            }
            assert!(shown(&full).contains(&raw.id));
        }
        assert_eq!(shown("tok_0a1b2c3d4e5f"), "tok_0a1b2c3d4e5f");
        assert_eq!(
            shown("worker:build-runner-east-1*x"),
            "worker:build-runner-east-1*x"
        );
        assert_eq!(shown(&"x".repeat(50)), "…");
        assert_eq!(shown(&format!("user:{}", "A1".repeat(20))), "user:…");
        assert_eq!(shown("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.sig"), "(a JWT)");
        assert_eq!(shown(&"ab-".repeat(40)).chars().count(), 81);
    }

    #[test]
    fn generated_tokens_round_trip() {
        for kind in [
            CredentialKind::Enrol,
            CredentialKind::Api,
            CredentialKind::Worker,
        ] {
            let raw = RawCredential::generate(kind);
            let wire = raw.expose();
            assert!(wire.starts_with(&format!("{}_", kind.prefix())));
            assert_eq!(wire.len(), 3 + 1 + ID_LEN + 1 + SECRET_LEN + CHECKSUM_LEN);
            assert_eq!(RawCredential::parse(&wire).unwrap(), raw);
        }
    }

    #[test]
    fn secret_carries_at_least_256_bits() {
        assert!((SECRET_LEN as f64) * 62f64.log2() >= 256.0);
    }

    #[test]
    fn any_single_character_typo_is_caught() {
        let wire = RawCredential::generate(CredentialKind::Enrol).expose();
        let start = "mte_".len() + ID_LEN + 1;
        for i in start..wire.len() {
            let mut bytes = wire.clone().into_bytes();
            bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
            let typo = String::from_utf8(bytes).unwrap();
            assert_eq!(
                RawCredential::parse(&typo),
                Err(FormatError::ChecksumMismatch),
                "position {i}"
            );
        }
    }

    #[test]
    fn non_tokens_are_invalid() {
        for s in [
            "",
            "hello",
            "mte_",
            "xyz_abcdefabcdef_x",
            "mte_ABCDEFGHIJKL_x",
        ] {
            assert_eq!(RawCredential::parse(s), Err(FormatError::Invalid), "{s}");
        }
        let wire = RawCredential::generate(CredentialKind::Api).expose();
        assert_eq!(
            RawCredential::parse(&wire[..wire.len() - 1]),
            Err(FormatError::Invalid)
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        let raw = RawCredential::generate(CredentialKind::Enrol);
        assert!(!format!("{raw:?}").contains(raw.secret()));
    }

    #[test]
    fn argon2_hash_verifies_only_the_right_secret() {
        let raw = RawCredential::generate(CredentialKind::Enrol);
        let phc = hash_secret(raw.secret()).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains(raw.secret()));
        assert!(verify_secret(raw.secret(), &phc));
        assert!(!verify_secret("wrong", &phc));
        assert!(!verify_secret(raw.secret(), "not a phc string"));
    }

    /// The reused-memory hash and verification agree with the argon2
    /// crate's own, both ways, including for hashes made with other
    /// parameters (state files written before, or by other versions).
    #[test]
    fn argon2_with_reused_memory_matches_the_crate() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let ours = hash_secret("s3cret").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"s3cret", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"other", &parsed)
                .is_err()
        );
        let small = argon2::Params::new(8 * 1024, 1, 1, None).unwrap();
        for argon in [
            Argon2::default(),
            Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, small),
        ] {
            let theirs = argon.hash_password(b"s3cret").unwrap().to_string();
            assert!(verify_secret("s3cret", &theirs), "{theirs}");
            assert!(!verify_secret("s3cre", &theirs), "{theirs}");
            // A hash whose output was altered fails.
            let mut bad = theirs.clone();
            let last = bad.pop().unwrap();
            bad.push(if last == 'A' { 'B' } else { 'A' });
            assert!(!verify_secret("s3cret", &bad));
        }
    }

    #[test]
    fn hmac_depends_on_key_and_data() {
        let a = hmac_sha256(b"k1", &[b"data"]);
        assert_ne!(a, hmac_sha256(b"k2", &[b"data"]));
        assert_ne!(a, hmac_sha256(b"k1", &[b"datb"]));
        assert_eq!(a, hmac_sha256(b"k1", &[b"da", b"ta"]));
        assert_eq!(hex(&[0, 255]), "00ff");
    }
}
