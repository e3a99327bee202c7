//! Running one dispatched step on the worker: a cleared environment holding
//! only the dispatch's variables (plus a minimal PATH), a fresh 0700 temp
//! directory removed afterwards, its own process group (SIGTERM, then SIGKILL
//! after 5 s on timeout), bounded output, and an argv[0] allow-list.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::policy::NamePattern;

/// Most bytes kept of each of stdout and stderr.
pub const MAX_OUTPUT: usize = 1024 * 1024;
/// The PATH a step gets.
pub const STEP_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// Exit code reported for a step the worker refused to run.
pub const REFUSED: i32 = 126;
/// Exit code reported for a step killed at its timeout (like `timeout(1)`).
pub const TIMED_OUT: i32 = 124;

/// What a step produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResult {
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
    pub duration_ms: u64,
}

/// Is `argv0` allowed by the patterns (any, when there are none)?
pub fn allowed(argv0: &str, allow: &[NamePattern]) -> bool {
    allow.is_empty() || allow.iter().any(|p| p.matches(argv0))
}

fn read_bounded(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = MAX_OUTPUT.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        String::from_utf8_lossy(&kept).into_owned()
    })
}

/// Signal a whole process group via kill(1), which takes `-PGID`.
fn kill_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

/// Run a step and wait for it (or its timeout).
pub fn run(
    argv: &[String],
    env: &BTreeMap<String, String>,
    stdin: &str,
    timeout: Duration,
    allow: &[NamePattern],
) -> StepResult {
    run_cancellable(argv, env, stdin, timeout, allow, &AtomicBool::new(false))
}

/// Exit code reported for a step cancelled by serve (like a shell's Ctrl-C).
pub const CANCELLED: i32 = 130;

/// Like [`run`], but setting `cancel` stops the step the way a timeout does.
pub fn run_cancellable(
    argv: &[String],
    env: &BTreeMap<String, String>,
    stdin: &str,
    timeout: Duration,
    allow: &[NamePattern],
    cancel: &AtomicBool,
) -> StepResult {
    let start = Instant::now();
    let refuse = |msg: String| StepResult {
        exit_code: REFUSED,
        stdout: String::new(),
        stderr: msg,
        duration_ms: start.elapsed().as_millis() as u64,
    };
    let Some(argv0) = argv.first() else {
        return refuse("empty argv".into());
    };
    if !allowed(argv0, allow) {
        return refuse(format!(
            "worker: refused: {argv0} is not allowed by --allow-command\n"
        ));
    }
    let dir = match tempfile::Builder::new().prefix("moat-step-").tempdir() {
        Ok(d) => d,
        Err(e) => return refuse(format!("worker: cannot create a temp dir: {e}\n")),
    };
    let mut cmd = Command::new(argv0);
    cmd.args(&argv[1..])
        .env_clear()
        .env("PATH", STEP_PATH)
        .env("HOME", dir.path())
        .env("TMPDIR", dir.path())
        .envs(env)
        .current_dir(dir.path())
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return refuse(format!("worker: cannot start {argv0}: {e}\n")),
    };
    let pgid = child.id();
    if let Some(mut i) = child.stdin.take() {
        let input = stdin.as_bytes().to_vec();
        std::thread::spawn(move || {
            let _ = i.write_all(&input);
        });
    }
    let out = child.stdout.take().map(read_bounded);
    let err = child.stderr.take().map(read_bounded);
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if start.elapsed() >= timeout || cancel.load(Ordering::Relaxed) => {
                timed_out = true;
                kill_group(pgid, "-TERM");
                let grace = Instant::now();
                let s = loop {
                    if let Ok(Some(s)) = child.try_wait() {
                        break Some(s);
                    }
                    if grace.elapsed() >= Duration::from_secs(5) {
                        kill_group(pgid, "-KILL");
                        break child.wait().ok();
                    }
                    std::thread::sleep(Duration::from_millis(20));
                };
                // Children that outlived the leader go too.
                kill_group(pgid, "-KILL");
                break s;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => break None,
        }
    };
    let stdout = out.and_then(|h| h.join().ok()).unwrap_or_default();
    let mut stderr = err.and_then(|h| h.join().ok()).unwrap_or_default();
    let exit_code = if timed_out {
        stderr.push_str(&format!(
            "worker: killed after the {}s timeout\n",
            timeout.as_secs()
        ));
        TIMED_OUT
    } else {
        use std::os::unix::process::ExitStatusExt;
        status.map_or(REFUSED, |s| {
            s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
        })
    };
    StepResult {
        exit_code,
        stdout,
        stderr,
        duration_ms: start.elapsed().as_millis() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: u64) -> StepResult {
        let argv = vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()];
        let env = BTreeMap::from([("GREETING".to_owned(), "hi".to_owned())]);
        run(&argv, &env, "", Duration::from_secs(timeout), &[])
    }

    #[test]
    fn only_the_dispatch_environment_is_visible() {
        // SAFETY-free: reading our own environment only.
        let r = sh("env | sort", 10);
        assert_eq!(r.exit_code, 0);
        let names: Vec<&str> = r
            .stdout
            .lines()
            .filter_map(|l| l.split('=').next())
            .collect();
        for n in &names {
            assert!(
                [
                    "GREETING", "PATH", "HOME", "TMPDIR", "PWD", "SHLVL", "_", "OLDPWD"
                ]
                .contains(n),
                "leaked {n}"
            );
        }
        assert!(r.stdout.contains("GREETING=hi"));
    }

    #[test]
    fn a_timeout_kills_the_whole_group() {
        let marker = std::env::temp_dir().join(format!("moat-orphan-{}", std::process::id()));
        let script = format!("(sleep 3; touch {}) & sleep 30", marker.display());
        let r = sh(&script, 1);
        assert_eq!(r.exit_code, TIMED_OUT);
        assert!(r.duration_ms < 8_000, "{}", r.duration_ms);
        std::thread::sleep(Duration::from_secs(3));
        assert!(!marker.exists(), "a child of the step outlived the timeout");
    }

    #[test]
    fn the_allow_list_refuses_other_commands() {
        let allow = vec![NamePattern::parse("/usr/bin/*", "pattern").unwrap()];
        let r = run(
            &["sh".into(), "-c".into(), "true".into()],
            &BTreeMap::new(),
            "",
            Duration::from_secs(5),
            &allow,
        );
        assert_eq!(r.exit_code, REFUSED);
        assert!(r.stderr.contains("--allow-command"));
        assert!(allowed("/usr/bin/env", &allow));
    }

    #[test]
    fn output_is_bounded_and_the_temp_dir_goes() {
        let r = sh("head -c 3000000 /dev/zero; pwd", 20);
        assert_eq!(r.stdout.len(), MAX_OUTPUT);
        let r = sh("pwd", 5);
        assert!(!std::path::Path::new(r.stdout.trim()).exists());
    }
}
