//! Steps cannot reach what the worker holds, cannot outlive their step or
//! its timeout, cannot slip past the allow-list, and cannot break the result
//! frame (issue: trust boundaries, defects 2–5 and 17). Real serve, real
//! `worker connect`, real steps.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use moat::worker::exec::{self, Isolation};

use crate::common::*;
use crate::workers::{Fleet, WorkerProc};

/// The exec layer with the real `worker` binary as step supervisor.
fn isolation(allow: &[&str]) -> Isolation {
    let mut iso = Isolation::new(
        allow
            .iter()
            .map(|p| moat::policy::NamePattern::parse(p, "pattern").unwrap())
            .collect(),
    );
    iso.supervisor = assert_cmd::cargo::cargo_bin("worker");
    if rustix::process::geteuid().is_root() {
        iso.run_as = Some(exec::RunAs::parse("nobody").unwrap());
    }
    iso
}

fn sh(script: &str, timeout: u64) -> exec::StepResult {
    let argv = vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()];
    let env = BTreeMap::from([("GREETING".to_owned(), "hi".to_owned())]);
    exec::run(
        &argv,
        &env,
        "",
        Duration::from_secs(timeout),
        &isolation(&[]),
    )
}

fn alive(pattern: &str) -> bool {
    std::process::Command::new("pgrep")
        .args(["-f", pattern])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn a_step_sees_only_the_dispatch_environment() {
    let r = sh("env | sort", 10);
    assert_eq!(r.exit_code, 0, "{r:?}");
    for line in r.stdout.lines() {
        let name = line.split('=').next().unwrap_or_default();
        assert!(
            [
                "GREETING", "PATH", "HOME", "TMPDIR", "PWD", "SHLVL", "_", "OLDPWD"
            ]
            .contains(&name),
            "leaked {line}"
        );
    }
    assert!(r.stdout.contains("GREETING=hi"));
}

#[test]
fn the_step_directory_is_private_and_goes_afterwards() {
    let r = sh("stat -c %a .; pwd", 10);
    let mut lines = r.stdout.lines();
    assert_eq!(lines.next(), Some("700"), "{r:?}");
    let dir = lines.next().unwrap().to_owned();
    assert!(!std::path::Path::new(&dir).exists(), "{dir} left behind");
}

#[test]
fn a_timeout_kills_the_whole_tree_even_setsid_children() {
    let tag = format!(
        "moat-orphan-{}",
        unique() + u64::from(std::process::id()) * 1000
    );
    // A background child, a detached one, and a setsid'ed one; each a
    // shell whose own argv carries the tag.
    let script = format!(
        "sh -c 'sleep 31; echo {tag}-a' & (sh -c 'sleep 32; echo {tag}-b' >/dev/null 2>&1 &) ; \
         setsid sh -c 'sleep 33; echo {tag}-c' & sleep 30"
    );
    let r = sh(&script, 1);
    assert_eq!(r.exit_code, exec::TIMED_OUT, "{r:?}");
    assert!(r.duration_ms < 8_000, "{}", r.duration_ms);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!alive(&tag), "a child of the step outlived its timeout");
}

#[test]
fn a_background_child_neither_holds_the_result_nor_outlives_the_step() {
    let tag = format!("moat-bg-{}-{}", std::process::id(), unique());
    let start = Instant::now();
    let r = sh(
        &format!("sh -c 'sleep 25; echo {tag}' >/dev/null & echo hi"),
        3,
    );
    assert_eq!((r.exit_code, r.stdout.as_str()), (0, "hi\n"), "{r:?}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(!alive(&tag), "the background child outlived its step");
}

#[test]
fn output_is_bounded_as_json_whatever_the_bytes() {
    for script in [
        "head -c 3000000 /dev/zero",
        "head -c 2000000 /dev/zero | tr '\\0' '\"'",
        "head -c 2000000 /dev/zero | tr '\\0' '\\1'",
        "head -c 2000000 /dev/zero | tr '\\0' '\\377'",
    ] {
        let r = sh(&format!("{script}; {script} >&2"), 30);
        assert_eq!(
            r.exit_code,
            0,
            "{script}: {}",
            &r.stderr[r.stderr.len().saturating_sub(200)..]
        );
        for (what, s) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
            let escaped = serde_json::to_string(s).unwrap().len();
            assert!(
                escaped <= exec::MAX_OUTPUT + 2,
                "{script}: {what} is {escaped} bytes as JSON"
            );
        }
        assert!(r.stderr.contains("stdout cut to"), "{script}");
    }
}

#[test]
fn the_allow_list_matches_the_resolved_path() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("sh");
    std::fs::copy("/bin/sh", &copy).unwrap();
    let escape = format!("/usr/bin/../..{}", copy.display());
    let iso = isolation(&["/usr/bin/*"]);
    let run = |argv0: &str| {
        exec::run(
            &[argv0.to_owned(), "-c".into(), "echo ran".into()],
            &BTreeMap::new(),
            "",
            Duration::from_secs(5),
            &iso,
        )
    };
    let r = run(&escape);
    assert_eq!(r.exit_code, exec::REFUSED, "{r:?}");
    assert!(r.stderr.contains("--allow-command"), "{r:?}");
    assert!(!r.stdout.contains("ran"));
    // A name is found on the step's PATH and matched where it really is.
    let r = run("sh");
    assert_eq!(r.exit_code, 0, "{r:?}");
}

/// Defect 2: a step cannot read the worker's environment, its cache dir
/// and credential, or another running step's directory.
#[test]
fn a_step_cannot_read_what_the_worker_holds() {
    if !moat::worker::supervise::landlock_available() {
        panic!("this test needs a kernel with Landlock (it confines steps from each other)");
    }
    let f = Fleet::new();
    let w = f.start_worker("iso-1", &["--capacity", "2"]);
    let pid = w.child.id();
    let cache = f.cache("iso-1");
    crate::workers::wait_for_file(&cache.join("credential"));
    // A first step leaves a marker in its directory and stays a while.
    let first = std::thread::spawn({
        let url = f.server.url.clone();
        let admin = f.admin.clone();
        let cmd = f.env.cmd("worker");
        move || {
            let mut cmd = cmd;
            cmd.args([
                "dispatch", "--to", "iso-1", "--format", "json", "--", "sh", "-c",
            ])
            .arg("echo private-marker-51 > marker; sleep 3; pwd")
            .env("MOAT_SERVER", url)
            .env("MOAT_AUTH_TOKEN", admin)
            .output()
            .unwrap()
        }
    });
    std::thread::sleep(Duration::from_millis(800));
    let script = format!(
        "cat /proc/{pid}/environ; cat /proc/$PPID/environ; cat {cache}/credential; cat {cache}/machine-id; \
         cat /tmp/moat-step-*/marker; ls /tmp; kill -0 {pid} && echo signalled-worker; echo done",
        cache = cache.display()
    );
    let (code, v) = f.dispatch("iso-1", &[], &["sh", "-c", &script]);
    assert_eq!(code, 0, "{v}\n{}", w.log());
    let out = v["stdout"].as_str().unwrap();
    assert!(out.ends_with("done\n"), "{v}");
    let credential = std::fs::read_to_string(cache.join("credential")).unwrap();
    let machine = std::fs::read_to_string(cache.join("machine-id")).unwrap();
    for leak in [
        "do-not-leak-me",
        "WORKER_OWN_SECRET",
        "private-marker-51",
        credential.trim(),
        machine.trim(),
        "signalled-worker",
    ] {
        assert!(!out.contains(leak), "the step read {leak:?}: {out}");
    }
    let first = first.join().unwrap();
    let first: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(first["exit_code"], 0, "{first}");
}

/// Defect 4 through a real worker: `sleep 25 &` neither holds the dispatch
/// past its timeout nor outlives it.
#[test]
fn a_dispatch_returns_when_its_step_does() {
    let f = Fleet::new();
    let w = f.start_worker("bg-1", &[]);
    let tag = format!(
        "moat-dispatch-bg-{}",
        unique() + u64::from(std::process::id()) * 1000
    );
    let start = Instant::now();
    let script = format!("sh -c 'sleep 25; echo {tag}' >/dev/null & echo hi");
    let (code, v) = f.dispatch("bg-1", &["--timeout", "3s"], &["sh", "-c", &script]);
    assert_eq!(
        (code, v["stdout"].as_str()),
        (0, Some("hi\n")),
        "{v}\n{}",
        w.log()
    );
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    let detached = format!("setsid sh -c 'sleep 40; echo {tag}' >/dev/null 2>&1 & sleep 30");
    let (code, v) = f.dispatch("bg-1", &["--timeout", "2s"], &["sh", "-c", &detached]);
    assert_eq!(code, exec::TIMED_OUT, "{v}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !alive(&tag),
        "a child of a dispatched step is still running"
    );
}

/// Defect 5: output that JSON escapes heavily still comes back as a result.
#[test]
fn escaped_output_does_not_lose_the_worker() {
    let f = Fleet::new();
    let w = f.start_worker("nul-1", &[]);
    let (code, v) = f.dispatch(
        "nul-1",
        &[],
        &[
            "sh",
            "-c",
            "head -c 2000000 /dev/zero; head -c 2000000 /dev/zero >&2",
        ],
    );
    assert_eq!(code, 0, "{v}\n{}", w.log());
    assert!(v["stdout"].as_str().unwrap().starts_with('\0'));
    assert!(!w.log().contains("connection lost"), "{}", w.log());
}

/// Defect 17 and the root rule: flags that cannot work are refused at start.
#[test]
fn unsafe_or_useless_worker_flags_are_refused() {
    let env = Env::new();
    let cache = env.dir.path().join("c");
    for (extra, needle) in [
        (vec!["--capacity", "0"], "capacity"),
        (vec!["--run-as", "no-such-user-moat"], "no such user"),
    ] {
        let mut w = WorkerProc::start(&env, "http://127.0.0.1:9", Some("mte_x"), &cache, &extra);
        assert_eq!(
            w.wait_exit(Duration::from_secs(10)),
            Some(2),
            "{extra:?}: {}",
            w.log()
        );
        assert!(w.log().contains(needle), "{extra:?}: {}", w.log());
    }
    if rustix::process::geteuid().is_root() {
        let mut w = WorkerProc::start(
            &env,
            "http://127.0.0.1:9",
            Some("mte_x"),
            &cache,
            &["--run-as", "0"],
        );
        assert_eq!(w.wait_exit(Duration::from_secs(10)), Some(2), "{}", w.log());
        assert!(w.log().contains("as root"), "{}", w.log());
    }
}

/// A dispatch's loader variables (`LD_PRELOAD`) reach the step, never the
/// supervisor, which runs before the step is confined.
#[test]
fn loader_variables_skip_the_supervisor() {
    let env = BTreeMap::from([("LD_PRELOAD".to_owned(), "/nonexistent/moat.so".to_owned())]);
    let argv: Vec<String> = [
        "sh",
        "-c",
        "tr '\\0' '\\n' < /proc/$PPID/environ; echo step=$LD_PRELOAD",
    ]
    .map(str::to_owned)
    .to_vec();
    let r = exec::run(&argv, &env, "", Duration::from_secs(10), &isolation(&[]));
    assert_eq!(r.exit_code, 0, "{r:?}");
    assert!(
        r.stdout.contains("MOAT_STEP_ENV_LD_PRELOAD="),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.lines().any(|l| l.starts_with("LD_PRELOAD=")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("step=/nonexistent/moat.so"),
        "{}",
        r.stdout
    );
}
