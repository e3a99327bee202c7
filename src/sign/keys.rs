//! Ed25519 keys in OpenSSH format: a public key line as `ssh-keygen -t
//! ed25519` writes it (registered with `token create --kind key`), a private
//! key file (unencrypted, 0600) for `--signing-key`, and making a new pair.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::RngExt;
use ssh_key::private::{Ed25519Keypair, KeypairData};
use ssh_key::public::{Ed25519PublicKey, KeyData};
use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey};

use crate::error::{Code, Error, Exit, Result};

/// Longest public key file accepted (an ed25519 line is about 100 bytes).
const MAX_PUBLIC: usize = 16 * 1024;

/// A verified-shape Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Public {
    pub key: VerifyingKey,
    /// `ssh-ed25519 AAAA...`, without the comment.
    pub openssh: String,
    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(Exit::Usage, Code::InvalidInput, msg)
}

fn public_from_bytes(bytes: [u8; 32]) -> Result<Public> {
    let key = VerifyingKey::from_bytes(&bytes)
        .map_err(|_| invalid("the public key is not a valid Ed25519 point"))?;
    let pk = PublicKey::new(KeyData::Ed25519(Ed25519PublicKey(bytes)), "");
    let openssh = pk
        .to_openssh()
        .map_err(|e| Error::internal(format!("encoding a public key: {e}")))?;
    Ok(Public {
        key,
        openssh: openssh.trim().to_owned(),
        fingerprint: pk.fingerprint(HashAlg::Sha256).to_string(),
    })
}

/// Parse one OpenSSH public key line (`ssh-ed25519 AAAA... comment`).
/// Other key types are refused: moat signs with Ed25519 only.
pub fn parse_public(text: &str) -> Result<Public> {
    let line = text.trim();
    if line.starts_with("-----BEGIN") {
        return Err(invalid("this is a private key, not a public one")
            .with_hint("give the .pub file; a private key never leaves its machine"));
    }
    if line.len() > MAX_PUBLIC || line.contains('\n') {
        return Err(invalid(
            "a public key file holds one line: ssh-ed25519 AAAA... [comment]",
        ));
    }
    let pk = PublicKey::from_openssh(line).map_err(|_| {
        invalid("not an OpenSSH public key").with_hint(
            "make one with `token keygen --out FILE` or `ssh-keygen -t ed25519`, and give FILE.pub",
        )
    })?;
    match pk.key_data() {
        KeyData::Ed25519(k) => public_from_bytes(k.0),
        _ => Err(invalid(format!(
            "a {} key cannot sign for moat: only ssh-ed25519 keys are accepted",
            pk.algorithm()
        ))
        .with_hint("make one with `ssh-keygen -t ed25519`")),
    }
}

/// Read a public key file.
pub fn read_public(path: &Path) -> Result<Public> {
    let text = read_bounded(path, MAX_PUBLIC, "public key file")?;
    parse_public(&text)
}

fn read_bounded(path: &Path, max: usize, what: &str) -> Result<String> {
    let f = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("cannot read {what} {}", path.display()), e))?;
    crate::input::read_text(std::io::Read::take(f, max as u64 + 1), what).and_then(|t| {
        if t.len() > max {
            Err(invalid(format!("{what} {} is too large", path.display())))
        } else {
            Ok(t)
        }
    })
}

/// A private key for signing, with the public half.
pub struct Signer {
    pub key: SigningKey,
    pub public: Public,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("fingerprint", &self.public.fingerprint)
            .finish_non_exhaustive()
    }
}

/// Parse an OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`).
pub fn parse_private(text: &str) -> Result<Signer> {
    let pk = PrivateKey::from_openssh(text.trim()).map_err(|_| {
        invalid("not an OpenSSH private key")
            .with_hint("make one with `token keygen --out FILE` or `ssh-keygen -t ed25519`")
    })?;
    if pk.is_encrypted() {
        return Err(
            invalid("the signing key is protected by a passphrase").with_hint(
                "moat cannot ask for passphrases yet: use a key without one, kept 0600 \
             (ssh-keygen -p -N '' -f FILE removes it from a copy)",
            ),
        );
    }
    match pk.key_data() {
        KeypairData::Ed25519(kp) => {
            let key = SigningKey::from_bytes(&kp.private.to_bytes());
            let public = public_from_bytes(key.verifying_key().to_bytes())?;
            Ok(Signer { key, public })
        }
        _ => Err(invalid(format!(
            "a {} key cannot sign for moat: only Ed25519 keys are accepted",
            pk.algorithm()
        ))),
    }
}

/// Read a private key file; it must be 0600 (as ssh insists too).
pub fn read_private(path: &Path) -> Result<Signer> {
    crate::store::check_private(path, "the signing key")?;
    let text = read_bounded(path, 64 * 1024, "signing key")?;
    parse_private(&text)
}

/// Make a new key pair: `out` (private, 0600, never overwritten) and
/// `out.pub`. Returns the public key.
pub fn generate(out: &Path, comment: &str) -> Result<Public> {
    let seed: [u8; 32] = rand::rng().random();
    let kp = Ed25519Keypair::from_seed(&seed);
    let pk = PrivateKey::new(KeypairData::Ed25519(kp), comment)
        .map_err(|e| Error::internal(format!("making a key: {e}")))?;
    let private = pk
        .to_openssh(LineEnding::LF)
        .map_err(|e| Error::internal(format!("encoding a key: {e}")))?;
    let public_line = pk
        .public_key()
        .to_openssh()
        .map_err(|e| Error::internal(format!("encoding a key: {e}")))?;
    let mut pub_path = out.as_os_str().to_owned();
    pub_path.push(".pub");
    let pub_path = std::path::PathBuf::from(pub_path);
    for p in [out, pub_path.as_path()] {
        if p.exists() {
            return Err(Error::new(
                Exit::Conflict,
                Code::InvalidInput,
                format!(
                    "{} already exists; refusing to overwrite a key",
                    p.display()
                ),
            )
            .with_hint("choose another --out, or remove the old pair first"));
        }
    }
    let write = |p: &Path, text: &str, mode: u32| -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(p)
            .map_err(|e| Error::io(format!("cannot write {}", p.display()), e))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| Error::io(format!("cannot write {}", p.display()), e))
    };
    write(out, &private, 0o600)?;
    if let Err(e) = write(&pub_path, &format!("{public_line}\n"), 0o644) {
        let _ = std::fs::remove_file(out);
        return Err(e);
    }
    parse_public(&public_line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_pair_reads_back_and_signs() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("k");
        let public = generate(&out, "alice@test").unwrap();
        let signer = read_private(&out).unwrap();
        assert_eq!(signer.public, public);
        let again = read_public(&dir.path().join("k.pub")).unwrap();
        assert_eq!(again, public);
        assert!(public.fingerprint.starts_with("SHA256:"));
        assert!(public.openssh.starts_with("ssh-ed25519 AAAA"));
        use ed25519_dalek::{Signer as _, Verifier as _};
        let sig = signer.key.sign(b"m");
        assert!(public.key.verify(b"m", &sig).is_ok());
        // Never overwritten.
        assert_eq!(generate(&out, "x").unwrap_err().exit, Exit::Conflict);
    }

    #[test]
    fn other_key_types_and_garbage_are_refused_in_words() {
        let rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDK user";
        assert_eq!(parse_public(rsa).unwrap_err().exit, Exit::Usage);
        assert!(
            parse_public("hello")
                .unwrap_err()
                .message
                .contains("OpenSSH")
        );
        let e = parse_public("-----BEGIN OPENSSH PRIVATE KEY-----\nxx").unwrap_err();
        assert!(e.message.contains("private key"));
        assert_eq!(parse_private("nope").unwrap_err().exit, Exit::Usage);
    }
}
