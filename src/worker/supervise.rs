//! The step supervisor: for every step the worker starts its own binary again
//! as `worker __moat-step`, which makes itself a session leader and child
//! subreaper, confines itself with Landlock, runs the step, and when the step
//! ends (or the worker says stop) kills every process left in its tree, so no
//! child outlives its step or its timeout (DESIGN §7).
//!
//! It is a separate process so that the worker itself stays unconfined and
//! the confinement needs no code between fork and exec.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, WaitOptions};

/// The hidden first argument that turns `worker` into a step supervisor.
pub const SUBCOMMAND: &str = "__moat-step";

/// The step's environment reaches the supervisor under this prefix, so that
/// the dynamic loader never acts on it (a dispatch's `LD_PRELOAD` would
/// otherwise run in the supervisor before Landlock confines it); the
/// supervisor hands it to the step without the prefix.
pub const ENV_PREFIX: &str = "MOAT_STEP_ENV_";

/// How long a step's processes get between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(5);

/// Exit code of a supervisor that could not start its step.
pub const CANNOT_START: i32 = 126;

/// Directories a confined step may read and execute from. Everything else,
/// the worker's cache dir, home directories, `/tmp`, `/var` and other
/// steps' directories included, is out of its reach.
pub const READ_ONLY: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/proc", "/sys",
];

/// What one supervisor runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Confine with Landlock.
    pub landlock: bool,
    /// The step's own directory (read, write, execute).
    pub dir: PathBuf,
    /// The resolved command and its arguments.
    pub argv: Vec<OsString>,
}

impl Plan {
    /// The arguments after the program name that [`parse`] reads back.
    pub fn to_args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec![SUBCOMMAND.into()];
        if self.landlock {
            a.push("--landlock".into());
        }
        a.push("--dir".into());
        a.push(self.dir.clone().into_os_string());
        a.push("--".into());
        a.extend(self.argv.iter().cloned());
        a
    }
}

/// Read the supervisor's arguments (everything after the program name).
/// Not clap: the supervisor runs with the step's environment, and no
/// variable of a step may change what it does.
pub fn parse(args: &[OsString]) -> Result<Plan, String> {
    let mut it = args.iter();
    if it.next().map(|a| a.as_os_str()) != Some(SUBCOMMAND.as_ref()) {
        return Err(format!("the first argument must be {SUBCOMMAND}"));
    }
    let (mut landlock, mut dir) = (false, None);
    loop {
        match it.next().and_then(|a| a.to_str()) {
            Some("--landlock") => landlock = true,
            Some("--dir") => dir = it.next().map(PathBuf::from),
            Some("--") => break,
            Some(other) => return Err(format!("unknown argument {other:?}")),
            None => return Err("missing -- before the command".into()),
        }
    }
    let argv: Vec<OsString> = it.cloned().collect();
    let dir = dir.ok_or("missing --dir")?;
    if argv.is_empty() {
        return Err("nothing to run".into());
    }
    Ok(Plan {
        landlock,
        dir,
        argv,
    })
}

/// Confine this process (and so the step it starts) to read-only system
/// directories, read-write `/dev` files and its own directory; no signals
/// to processes outside, no abstract sockets outside. Best effort on older
/// kernels; returns whether the kernel enforced it fully.
pub fn confine(dir: &Path) -> Result<bool, String> {
    use landlock::{
        ABI, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
        path_beneath_rules,
    };
    let abi = ABI::V6;
    let err = |e: landlock::RulesetError| format!("landlock: {e}");
    let existing = |paths: &[&str]| -> Vec<PathBuf> {
        paths
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.exists())
            .collect()
    };
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .map_err(err)?
        .scope(Scope::from_all(abi))
        .map_err(err)?
        .create()
        .map_err(err)?
        .add_rules(path_beneath_rules(
            existing(READ_ONLY),
            AccessFs::from_read(abi),
        ))
        .map_err(err)?
        .add_rules(path_beneath_rules(
            existing(&["/dev"]),
            AccessFs::from_read(abi) | AccessFs::WriteFile,
        ))
        .map_err(err)?
        .add_rules(path_beneath_rules([dir], AccessFs::from_all(abi)))
        .map_err(err)?
        .restrict_self()
        .map_err(err)?;
    Ok(status.ruleset == RulesetStatus::FullyEnforced)
}

/// Is Landlock available on this kernel?
pub fn landlock_available() -> bool {
    // A ruleset that handles one right and is never applied.
    use landlock::{AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr};
    Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::Execute)
        .and_then(|r| r.create())
        .is_ok()
}

/// Parent of each live (non-zombie) process, from `/proc`.
fn parents() -> HashMap<i32, i32> {
    let mut out = HashMap::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let state = f.next().unwrap_or("");
        if state == "Z" || state == "X" {
            continue;
        }
        if let Some(ppid) = f.next().and_then(|p| p.parse().ok()) {
            out.insert(pid, ppid);
        }
    }
    out
}

/// Every live process below `root`.
pub fn descendants(root: i32) -> Vec<i32> {
    let parents = parents();
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for (&pid, &ppid) in &parents {
        children.entry(ppid).or_default().push(pid);
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        for &c in children.get(&p).into_iter().flatten() {
            if seen.insert(c) {
                out.push(c);
                todo.push(c);
            }
        }
    }
    out
}

fn signal_all(pids: &[i32], sig: Signal) {
    for &p in pids {
        if let Some(pid) = Pid::from_raw(p) {
            let _ = rustix::process::kill_process(pid, sig);
        }
    }
}

/// Reap every exited child; the step's status if it was among them.
fn reap(step: Pid, status: &mut Option<i32>) {
    while let Ok(Some((pid, st))) = rustix::process::wait(WaitOptions::NOHANG) {
        if pid == step {
            *status = Some(
                st.exit_status()
                    .or_else(|| st.terminating_signal().map(|s| 128 + s))
                    .unwrap_or(CANNOT_START),
            );
        }
    }
}

/// Stop every process below this one: freeze them (so none can fork), kill
/// them, reap them; again until none is left (bounded).
fn kill_tree(me: i32, step: Pid, status: &mut Option<i32>) {
    for _ in 0..200 {
        let left = descendants(me);
        if left.is_empty() {
            break;
        }
        signal_all(&left, Signal::STOP);
        signal_all(&left, Signal::KILL);
        std::thread::sleep(Duration::from_millis(5));
        reap(step, status);
    }
    reap(step, status);
}

/// The supervisor's main: returns the exit code to leave with (the step's,
/// or 128 + the signal that ended it).
pub fn main(args: &[OsString]) -> i32 {
    let plan = match parse(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("worker: step supervisor: {e}");
            return CANNOT_START;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    if signal_hook::flag::register(signal_hook::consts::SIGTERM, stop.clone()).is_err() {
        eprintln!("worker: step supervisor: cannot handle SIGTERM");
        return CANNOT_START;
    }
    // Orphans of the step become our children, so none can slip away by
    // double-forking or setsid; our own session keeps the worker's
    // terminal and process group out of the step's reach.
    if rustix::process::set_child_subreaper(Some(rustix::process::getpid())).is_err() {
        eprintln!("worker: step supervisor: cannot become a child subreaper");
        return CANNOT_START;
    }
    let _ = rustix::process::setsid();
    if plan.landlock {
        match confine(&plan.dir) {
            Ok(true) => {}
            Ok(false) => {
                eprintln!("worker: warning: Landlock is only partly enforced by this kernel")
            }
            Err(e) => {
                eprintln!("worker: refused: cannot confine the step: {e}");
                return CANNOT_START;
            }
        }
    }
    let step_env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let name = k.to_str()?.strip_prefix(ENV_PREFIX)?;
            Some((OsString::from(name), v))
        })
        .collect();
    let child = std::process::Command::new(&plan.argv[0])
        .args(&plan.argv[1..])
        .env_clear()
        .envs(step_env)
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "worker: cannot start {}: {e}",
                Path::new(&plan.argv[0]).display()
            );
            return CANNOT_START;
        }
    };
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let Some(step) = Pid::from_raw(child.id() as i32) else {
        return CANNOT_START;
    };
    // The child is reaped through `wait` below, never through `Child`.
    drop(child);
    let mut status = None;
    let mut term_sent: Option<Instant> = None;
    loop {
        reap(step, &mut status);
        if status.is_some() {
            break;
        }
        if stop.load(Ordering::Relaxed) {
            match term_sent {
                None => {
                    signal_all(&descendants(me), Signal::TERM);
                    term_sent = Some(Instant::now());
                }
                Some(at) if at.elapsed() >= GRACE => break,
                Some(_) => {}
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // The step is over: whatever it left behind goes with it.
    kill_tree(me, step, &mut status);
    status.unwrap_or(128 + 9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_round_trip() {
        let plan = Plan {
            landlock: true,
            dir: "/tmp/moat-step-x".into(),
            argv: vec!["/bin/sh".into(), "-c".into(), "--dir".into()],
        };
        let mut args = plan.to_args();
        assert_eq!(parse(&args).unwrap(), plan);
        args.remove(1);
        assert!(!parse(&args).unwrap().landlock);
        assert!(parse(&["other".into()]).is_err());
        assert!(parse(&[SUBCOMMAND.into(), "--dir".into(), "/x".into(), "--".into()]).is_err());
    }

    #[test]
    fn descendants_include_grandchildren() {
        let mut c = std::process::Command::new("sh")
            .args(["-c", "sleep 5 & sleep 5 & wait"])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let me = std::process::id() as i32;
        let d = descendants(me);
        assert!(d.contains(&(c.id() as i32)));
        assert!(d.len() >= 3, "{d:?}");
        signal_all(&descendants(c.id() as i32), Signal::KILL);
        let _ = c.kill();
        let _ = c.wait();
    }
}
