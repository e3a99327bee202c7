//! Running one dispatched step on the worker (DESIGN §7): argv[0] resolved to
//! a normalized absolute path and matched against the allow-list, a cleared
//! environment holding only the dispatch's variables (plus a minimal PATH), a
//! fresh 0700 temp directory removed afterwards, the step as `--run-as` user
//! under a [supervisor](super::supervise) that confines it and kills its whole
//! tree at its end, timeout or cancellation, and output bounded so that the
//! result frame fits whatever bytes the step wrote.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::supervise::{self, GRACE, Plan};
use crate::policy::NamePattern;

/// Most bytes each of stdout and stderr may take in the result frame, once
/// JSON-escaped: both together stay well inside serve's frame limit.
pub const MAX_OUTPUT: usize = 1024 * 1024;
/// The PATH a step gets.
pub const STEP_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// Exit code reported for a step the worker refused to run.
pub const REFUSED: i32 = 126;
/// Exit code reported for a step killed at its timeout (like `timeout(1)`).
pub const TIMED_OUT: i32 = 124;
/// Exit code reported for a step cancelled by serve (like a shell's Ctrl-C).
pub const CANCELLED: i32 = 130;

/// What a step produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResult {
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
    pub duration_ms: u64,
}

/// The user steps run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
}

impl RunAs {
    /// `NAME` (from /etc/passwd), `UID` or `UID:GID`.
    pub fn parse(s: &str) -> crate::Result<RunAs> {
        Self::parse_in(
            s,
            &std::fs::read_to_string("/etc/passwd").unwrap_or_default(),
        )
    }

    fn parse_in(s: &str, passwd: &str) -> crate::Result<RunAs> {
        let bad = || {
            crate::Error::usage(format!(
                "--run-as '{}': no such user",
                crate::credential::shown(s)
            ))
            .with_hint("give a user name from /etc/passwd, a uid, or uid:gid")
        };
        let num = |t: &str| t.parse::<u32>().ok();
        if let Some((u, g)) = s.split_once(':') {
            return match (num(u), num(g)) {
                (Some(uid), Some(gid)) => Ok(RunAs { uid, gid }),
                _ => Err(bad()),
            };
        }
        for line in passwd.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() >= 4
                && (f[0] == s || num(s).is_some() && f[2] == s)
                && let (Some(uid), Some(gid)) = (num(f[2]), num(f[3]))
            {
                return Ok(RunAs { uid, gid });
            }
        }
        num(s).map(|uid| RunAs { uid, gid: uid }).ok_or_else(bad)
    }
}

/// How steps are isolated on this worker.
#[derive(Debug, Clone)]
pub struct Isolation {
    /// `--allow-command` patterns (any command when empty).
    pub allow: Vec<NamePattern>,
    /// `--run-as`; `None` runs steps as the worker's own user.
    pub run_as: Option<RunAs>,
    /// Confine steps with Landlock.
    pub landlock: bool,
    /// The `worker` binary that supervises each step.
    pub supervisor: PathBuf,
}

impl Isolation {
    /// No allow-list, no other user, Landlock when the kernel has it, this
    /// binary as supervisor.
    pub fn new(allow: Vec<NamePattern>) -> Self {
        Isolation {
            allow,
            run_as: None,
            landlock: supervise::landlock_available(),
            supervisor: std::env::current_exe().unwrap_or_else(|_| "worker".into()),
        }
    }
}

/// Find `argv0` the way the step's PATH would, and normalize it: every
/// directory resolved (symlinks, `.` and `..`), the file name kept, so a
/// pattern like `/usr/bin/*` sees where the command really is.
pub fn resolve(argv0: &str) -> Result<PathBuf, String> {
    let candidate = if argv0.contains('/') {
        if !argv0.starts_with('/') {
            return Err(format!(
                "{argv0} is a relative path; give an absolute path or a command name"
            ));
        }
        PathBuf::from(argv0)
    } else {
        STEP_PATH
            .split(':')
            .map(|d| Path::new(d).join(argv0))
            .find(|p| p.is_file())
            .ok_or_else(|| format!("{argv0}: command not found in {STEP_PATH}"))?
    };
    let (Some(parent), Some(name)) = (candidate.parent(), candidate.file_name()) else {
        return Err(format!("{argv0} does not name a file"));
    };
    let dir = std::fs::canonicalize(parent).map_err(|e| format!("{argv0}: {e}"))?;
    let path = dir.join(name);
    if !path.is_file() {
        return Err(format!("{argv0}: no such file"));
    }
    Ok(path)
}

/// Is the resolved command allowed by the patterns (any, when there are none)?
pub fn allowed(resolved: &Path, allow: &[NamePattern]) -> bool {
    allow.is_empty()
        || resolved
            .to_str()
            .is_some_and(|s| allow.iter().any(|p| p.matches(s)))
}

/// How many bytes `c` takes inside a JSON string.
fn json_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

/// How many bytes `s` takes inside a JSON string.
fn json_size(s: &str) -> usize {
    s.chars().map(json_len).sum()
}

/// The longest prefix of `bytes` (as text, invalid UTF-8 replaced) whose
/// JSON-escaped form fits `budget`; and whether anything was cut.
pub fn fit_json(bytes: &[u8], budget: usize) -> (String, bool) {
    let text = String::from_utf8_lossy(bytes);
    let mut used = 0;
    for (i, c) in text.char_indices() {
        used += json_len(c);
        if used > budget {
            return (text[..i].to_owned(), true);
        }
    }
    (text.into_owned(), false)
}

/// Read a pipe to its end, keeping at most [`MAX_OUTPUT`] bytes (the rest is
/// drained so the step never blocks on a full pipe). The answer arrives on
/// the channel, so a pipe some process still holds cannot hang the worker.
fn read_bounded(mut r: impl Read + Send + 'static) -> std::sync::mpsc::Receiver<(Vec<u8>, bool)> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut more = false;
        let mut buf = [0u8; 8192];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = MAX_OUTPUT.saturating_sub(kept.len());
                    more |= n > room;
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        let _ = tx.send((kept, more));
    });
    rx
}

/// Collect one stream's output; notes a cut on `notes`.
fn collect(
    rx: Option<std::sync::mpsc::Receiver<(Vec<u8>, bool)>>,
    what: &str,
    notes: &mut String,
) -> String {
    let (bytes, more) = rx
        .and_then(|r| r.recv_timeout(Duration::from_secs(2)).ok())
        .unwrap_or_default();
    let (text, cut) = fit_json(&bytes, MAX_OUTPUT);
    if cut || more {
        notes.push_str(&format!(
            "worker: {what} cut to {} KiB (JSON-escaped)\n",
            MAX_OUTPUT / 1024
        ));
    }
    text
}

/// Run a step and wait for it (or its timeout).
pub fn run(
    argv: &[String],
    env: &BTreeMap<String, String>,
    stdin: &str,
    timeout: Duration,
    iso: &Isolation,
) -> StepResult {
    run_cancellable(argv, env, stdin, timeout, iso, &AtomicBool::new(false))
}

/// Like [`run`], but setting `cancel` stops the step the way a timeout does.
pub fn run_cancellable(
    argv: &[String],
    env: &BTreeMap<String, String>,
    stdin: &str,
    timeout: Duration,
    iso: &Isolation,
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
    let resolved = match resolve(argv0) {
        Ok(p) => p,
        Err(e) if iso.allow.is_empty() => return refuse(format!("worker: cannot start {e}\n")),
        Err(e) => return refuse(format!("worker: refused: {e}\n")),
    };
    if !allowed(&resolved, &iso.allow) {
        return refuse(format!(
            "worker: refused: {argv0} ({}) is not allowed by --allow-command\n",
            resolved.display()
        ));
    }
    let dir = match tempfile::Builder::new()
        .prefix("moat-step-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
    {
        Ok(d) => d,
        Err(e) => return refuse(format!("worker: cannot create a temp dir: {e}\n")),
    };
    if let Some(u) = iso.run_as
        && let Err(e) = std::os::unix::fs::chown(dir.path(), Some(u.uid), Some(u.gid))
    {
        return refuse(format!(
            "worker: cannot hand the temp dir to --run-as: {e}\n"
        ));
    }
    let plan = Plan {
        landlock: iso.landlock,
        dir: dir.path().to_owned(),
        argv: std::iter::once(resolved.clone().into_os_string())
            .chain(argv[1..].iter().map(Into::into))
            .collect(),
    };
    let mut step_env: Vec<(String, std::ffi::OsString)> = vec![
        ("PATH".into(), STEP_PATH.into()),
        ("HOME".into(), dir.path().into()),
        ("TMPDIR".into(), dir.path().into()),
    ];
    step_env.extend(env.iter().map(|(k, v)| (k.clone(), v.into())));
    let mut cmd = Command::new(&iso.supervisor);
    cmd.args(plan.to_args())
        .env_clear()
        .envs(
            step_env
                .into_iter()
                .map(|(k, v)| (format!("{}{k}", supervise::ENV_PREFIX), v)),
        )
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(u) = iso.run_as {
        cmd.uid(u.uid).gid(u.gid);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return refuse(format!("worker: cannot start the step supervisor: {e}\n")),
    };
    if let Some(mut i) = child.stdin.take() {
        let input = stdin.as_bytes().to_vec();
        std::thread::spawn(move || {
            let _ = i.write_all(&input);
        });
    }
    let out = child.stdout.take().map(read_bounded);
    let err = child.stderr.take().map(read_bounded);
    let mut stopped: Option<(Instant, i32)> = None;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) => {}
            Err(_) => break None,
        }
        match stopped {
            None if start.elapsed() >= timeout || cancel.load(Ordering::Relaxed) => {
                // The supervisor stops the step's whole tree: SIGTERM, then
                // SIGKILL after the grace period.
                let why = if cancel.load(Ordering::Relaxed) {
                    CANCELLED
                } else {
                    TIMED_OUT
                };
                if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
                }
                stopped = Some((Instant::now(), why));
            }
            Some((at, _)) if at.elapsed() >= GRACE + Duration::from_secs(2) => {
                let _ = child.kill();
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut notes = String::new();
    let stdout = collect(out, "stdout", &mut notes);
    let mut stderr = collect(err, "stderr", &mut notes);
    let exit_code = match stopped {
        Some((_, TIMED_OUT)) => {
            notes.push_str(&format!(
                "worker: killed after the {}s timeout\n",
                timeout.as_secs()
            ));
            TIMED_OUT
        }
        Some((_, code)) => code,
        None => {
            use std::os::unix::process::ExitStatusExt;
            status.map_or(REFUSED, |s| {
                s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
            })
        }
    };
    // The notes always fit: the output before them was cut to leave room.
    let room = MAX_OUTPUT.saturating_sub(json_size(&notes));
    if json_size(&stderr) > room {
        stderr = fit_json(stderr.as_bytes(), room).0;
    }
    stderr.push_str(&notes);
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

    #[test]
    fn json_fitting_counts_escapes() {
        let nul = vec![0u8; 100];
        let (t, cut) = fit_json(&nul, 60);
        assert!(cut);
        assert_eq!(t.len(), 10);
        assert_eq!(serde_json::to_string(&t).unwrap().len(), 62);
        let (t, cut) = fit_json(b"ab\"c", 10);
        assert_eq!((t.as_str(), cut), ("ab\"c", false));
        // Invalid UTF-8 becomes U+FFFD, three bytes each.
        let (t, cut) = fit_json(&[0xff; 10], 9);
        assert_eq!((t.chars().count(), cut), (3, true));
        for bytes in [
            vec![0u8; 5000],
            vec![b'"'; 5000],
            vec![1u8; 5000],
            vec![0xfe; 5000],
        ] {
            let (t, _) = fit_json(&bytes, 4096);
            assert!(serde_json::to_string(&t).unwrap().len() <= 4096 + 2);
        }
    }

    #[test]
    fn commands_resolve_to_normalized_paths() {
        let sh = resolve("sh").unwrap();
        assert!(sh.is_absolute() && sh.ends_with("sh"), "{sh:?}");
        let dotted = resolve("/usr/bin/../bin/sh").unwrap();
        assert!(!dotted.to_string_lossy().contains(".."), "{dotted:?}");
        assert!(resolve("./sh").is_err());
        assert!(resolve("no-such-command-moat").is_err());
        assert!(resolve("/usr/bin/..").is_err());
        let tmp = tempfile::tempdir().unwrap();
        let escape = format!("/usr/bin/../..{}/x", tmp.path().display());
        std::fs::write(tmp.path().join("x"), "").unwrap();
        let p = resolve(&escape).unwrap();
        let allow = [NamePattern::parse("/usr/bin/*", "p").unwrap()];
        assert!(!allowed(&p, &allow), "{p:?} escaped /usr/bin");
    }

    #[test]
    fn run_as_reads_passwd() {
        let passwd = "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/sbin/nologin\n";
        assert_eq!(
            RunAs::parse_in("nobody", passwd).unwrap(),
            RunAs {
                uid: 65534,
                gid: 65534
            }
        );
        assert_eq!(
            RunAs::parse_in("1000:100", passwd).unwrap(),
            RunAs {
                uid: 1000,
                gid: 100
            }
        );
        assert_eq!(RunAs::parse_in("0", passwd).unwrap().gid, 0);
        assert!(RunAs::parse_in("nosuchuser", passwd).is_err());
        assert!(RunAs::parse_in("a:b", passwd).is_err());
    }
}
