//! The systemd units in deploy/systemd (issue: trust boundaries, "least
//! privilege as shipped"): rated by Debian's `systemd-analyze security
//! --offline=true`, the hardening the Open Swarm guide lists present, and
//! their command lines accepted by the binaries they start.

use std::path::Path;
use std::process::Command;

/// (unit file, highest exposure allowed, binary its ExecStart runs)
const UNITS: &[(&str, f64, &str)] = &[
    ("moat-serve.service", 2.0, "serve"),
    ("moat-worker@.service", 3.0, "worker"),
];

const HARDENING: &[&str] = &[
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "RestrictSUIDSGID=yes",
    "CapabilityBoundingSet=\n",
    "UMask=0077",
    "LimitNOFILE=",
    "TasksMax=",
    "MemoryMax=",
];

fn unit_path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/systemd")
        .join(name)
}

/// The "Overall exposure level" systemd-analyze prints for a unit file.
fn exposure(unit: &Path) -> f64 {
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(unit)
        .output()
        .expect("systemd-analyze (Debian package systemd; .ci/run installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no rating for {}: {text}", unit.display()));
    line.split(':')
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unreadable rating: {line}"))
}

#[test]
fn units_are_hardened_and_rated() {
    for &(name, most, _) in UNITS {
        let path = unit_path(name);
        let text = std::fs::read_to_string(&path).unwrap();
        for d in HARDENING {
            assert!(text.contains(d), "{name} lacks {d:?}");
        }
        let e = exposure(&path);
        assert!(e <= most, "{name} rates {e}, more exposed than {most}");
    }
}

#[test]
fn unit_command_lines_are_accepted() {
    for &(name, _, bin) in UNITS {
        let text = std::fs::read_to_string(unit_path(name)).unwrap();
        let exec = text
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .unwrap();
        let mut words = exec.split_whitespace();
        assert_eq!(words.next(), Some(format!("/usr/bin/{bin}").as_str()));
        // Everything but the operator's own $VARS, with %i filled in.
        let args: Vec<String> = words
            .filter(|w| !w.starts_with('$'))
            .map(|w| w.replace("%i", "build-1"))
            .collect();
        let out = Command::new(assert_cmd::cargo::cargo_bin(bin))
            .args(&args)
            .arg("--help")
            .env_clear()
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {bin} {args:?} is refused: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
