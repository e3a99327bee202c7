//! `worker list|show|revoke|drain|dispatch` through the real binary, in both
//! modes: on the state file and through serve.

use std::collections::BTreeMap;
use std::time::Duration;

use moat::credential::CredentialKind;
use moat::token::{self, CreateRequest, Ctx, MaxUses};
use moat::worker::{self, Rotation};
use serde_json::Value;

use crate::common::*;

/// Enrol `names` straight into the store (as serve would on their hello),
/// each with label `pool=<name up to its first '-'>`.
pub(crate) fn enrolled(env: &Env, names: &[&str]) -> Vec<String> {
    let mut store = env.store();
    let ctx = Ctx::new("local:test", moat::time::now_ms());
    let req = CreateRequest {
        kind: CredentialKind::Enrol,
        ttl: Some(Duration::from_secs(3600)),
        allow_long_ttl: false,
        max_uses: Some(MaxUses::Unlimited),
        label: Some("fleet".into()),
        principal: None,
        scopes: vec![],
        public_key: None,
    };
    let tok = token::create(&mut store, &ctx, &req)
        .unwrap()
        .token
        .unwrap();
    let rotation = Rotation {
        every: Duration::from_secs(60),
        audit: true,
    };
    names
        .iter()
        .map(|n| {
            let pool = n.split('-').next().unwrap_or_default().to_owned();
            let labels = BTreeMap::from([
                ("name".to_owned(), (*n).to_owned()),
                ("pool".to_owned(), pool),
            ]);
            let (w, _, _) = worker::enroll(
                &mut store,
                &ctx,
                &tok,
                n,
                &labels,
                2,
                "test",
                &rotation,
                &|_| true,
            )
            .unwrap();
            worker::display_id(&w.id)
        })
        .collect()
}

both_modes! {
    fn list_show_drain_and_revoke(env) {
        let ids = enrolled(env, &["build-1", "build-2"]);
        let list = env.json("worker", &["list"]);
        let mut names: Vec<&str> = list.as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
        names.sort_unstable();
        assert_eq!(names, ["build-1", "build-2"]);

        let one = env.json("worker", &["show", &ids[0]]);
        assert_eq!((one["name"].as_str(), one["capacity"].as_i64()), (Some("build-1"), Some(2)));

        let d = env.json("worker", &["drain", &ids[0]]);
        assert_eq!((d["status"].as_str(), d["connected"].as_bool()), (Some("draining"), Some(false)));
        let drained: Vec<Value> = env.json("audit", &["log", "--type", "worker_drained"]).as_array().unwrap().clone();
        assert_eq!(drained.len(), 1);
        assert_eq!(drained[0]["target"], ids[0].as_str());

        let r = env.json("worker", &["revoke", &ids[1]]);
        assert_eq!(r[0]["status"], "revoked");
        // Revoked workers leave the default list, and come back with --all.
        assert_eq!(env.json("worker", &["list"]).as_array().unwrap().len(), 1);
        assert_eq!(env.json("worker", &["list", "--all"]).as_array().unwrap().len(), 2);
        // Revoking again changes nothing and says why.
        let again = env.run("worker", &["revoke", &ids[1]], b"");
        assert_eq!(code(&again), 4, "{}", stderr(&again));
        env.assert_audit_intact();
    }
}

both_modes! {
    fn bad_and_unknown_ids_are_refused(env) {
        enrolled(env, &["build-1"]);
        let before = snapshot_dir(&env.dir.path().join("state"));
        for (args, want) in [
            (&["show", "wrk_aaaaaaaaaaaa"][..], 3),
            (&["show", "not an id"][..], 2),
            (&["drain", "wrk_aaaaaaaaaaaa"][..], 3),
            (&["revoke", "wrk_aaaaaaaaaaaa"][..], 3),
            (&["list", "--stale", "soon"][..], 2),
        ] {
            let out = env.run("worker", args, b"");
            assert_eq!(code(&out), want, "{args:?}: {}", stderr(&out));
            assert!(stderr(&out).starts_with("worker: error: "), "{}", stderr(&out));
        }
        if env.remote.is_none() {
            assert_eq!(before, snapshot_dir(&env.dir.path().join("state")));
        }
    }
}

both_modes! {
    fn list_filters_by_label(env) {
        enrolled(env, &["build-1", "build-2", "deploy-1"]);
        let names = |args: &[&str]| -> Vec<String> {
            let mut full = vec!["list"];
            full.extend_from_slice(args);
            env.json("worker", &full)
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w["name"].as_str().unwrap().to_owned())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&["--label", "pool=build"]), ["build-1", "build-2"]);
        assert_eq!(names(&["--label", "pool=deploy"]), ["deploy-1"]);
        assert!(names(&["--label", "pool=none"]).is_empty());
        assert_eq!(names(&[]).len(), 3);
        let out = env.run("worker", &["list", "--label", "no-equals-sign"], b"");
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(stderr(&out).contains("key=value"), "{}", stderr(&out));
    }
}
