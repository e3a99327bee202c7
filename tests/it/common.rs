//! Shared helpers: a hermetic environment per test, running binaries,
//! snapshots of the state directory, and secret scanning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

/// A private directory with its own state file path.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state/state.db")
    }

    pub fn key(&self) -> PathBuf {
        self.dir.path().join("state/state.key")
    }

    /// A command for one of the six binaries, with a cleared environment.
    pub fn cmd(&self, bin: &str) -> Command {
        let mut c = Command::cargo_bin(bin).expect("binary built");
        c.env_clear()
            .env("HOME", self.dir.path())
            .env("USER", "tester")
            .env("MOAT_STATE", self.state())
            .timeout(std::time::Duration::from_secs(60));
        c
    }

    /// A std `Command` for a binary (for spawning long-running processes).
    pub fn std_cmd(&self, bin: &str) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin(bin));
        c.env_clear()
            .env("HOME", self.dir.path())
            .env("USER", "tester")
            .env("MOAT_STATE", self.state());
        c
    }

    /// Run `bin args...` with `stdin`, returning the raw output.
    pub fn run(&self, bin: &str, args: &[&str], stdin: &[u8]) -> Output {
        self.cmd(bin)
            .args(args)
            .write_stdin(stdin.to_vec())
            .output()
            .expect("run")
    }

    /// Run and require exit 0; parse stdout as JSON.
    pub fn json(&self, bin: &str, args: &[&str]) -> Value {
        self.json_in(bin, args, b"")
    }

    pub fn json_in(&self, bin: &str, args: &[&str], stdin: &[u8]) -> Value {
        let out = self.run(bin, args, stdin);
        assert!(
            out.status.success(),
            "{bin} {args:?} failed: {:?}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{bin} {args:?}: stdout is not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Create a token through the binary and return the parsed record.
    pub fn create(&self, args: &[&str]) -> Value {
        let mut full = vec!["create"];
        full.extend_from_slice(args);
        self.json("token", &full)
    }

    /// Every file in the state directory, by name.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        snapshot_dir(self.state().parent().expect("state dir"))
    }

    /// All bytes of the state directory concatenated (for secret scanning).
    pub fn state_bytes(&self) -> Vec<u8> {
        self.snapshot().into_values().flatten().collect()
    }

    /// `audit verify` must report an intact chain.
    pub fn assert_audit_intact(&self) {
        let v = self.json("audit", &["verify"]);
        assert_eq!(v["intact"], true, "audit chain broken: {v}");
    }
}

pub fn snapshot_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            out.insert(name, std::fs::read(e.path()).unwrap_or_default());
        }
    }
    out
}

/// The secret part of a raw token (between the id and the checksum).
pub fn secret_of(raw: &str) -> &str {
    let after_id = raw.splitn(3, '_').nth(2).expect("token has three parts");
    &after_id[..after_id.len() - 6]
}

/// Panics if any 8-character window of `secret` occurs in `haystack`.
pub fn assert_no_secret(haystack: &[u8], secret: &str, what: &str) {
    assert!(secret.len() >= 8);
    for i in 0..=secret.len() - 8 {
        let needle = &secret.as_bytes()[i..i + 8];
        assert!(
            !haystack.windows(8).any(|w| w == needle),
            "{what} contains part of a secret ({})",
            String::from_utf8_lossy(needle)
        );
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}
