//! The enforced policy as a check sees it (active snapshot plus live
//! `--admins` grants, or the staged grants) and check requests.

use super::*;

/// The staged policy: active grants and memberships as they are in the tables now.
pub fn staged_set(tx: &Tx<'_>) -> Result<PolicySet> {
    Ok(PolicySet::new(tx.active_grants()?, tx.members()?))
}

/// `staged_set(tx).only_for(principal)`, read by subject through the
/// grants' subject index instead of reading every grant.
fn staged_set_for(tx: &Tx<'_>, principal: &str) -> Result<PolicySet> {
    let mut members = tx.members()?;
    members.retain(|m| m.principal == principal);
    let mut grants = Vec::new();
    for subject in crate::policy::snapshot::subjects_of(principal, &members) {
        grants.extend(tx.grants(&GrantFilter {
            subject: Some(subject),
            active: Some(true),
            ..Default::default()
        })?);
    }
    Ok(PolicySet::new(grants, members))
}

/// Compile the policy to decide with: what serve enforces (the active
/// snapshot plus the superuser grants `serve --admins` keeps, which take
/// effect at serve's start whatever `--grant-reload` says), or the staged
/// tables (labelled version 0) when `staged`. The one loader of the
/// enforced policy: serve, local `grant check` and batch checks all use it,
/// so a local and a remote check agree. With `only`, just what deciding for
/// that one principal reads ([`PolicySet::only_for`]): a single check then
/// skips compiling everyone else's grants.
pub fn load_policy(store: &mut Store, staged: bool, only: Option<&str>) -> Result<Compiled> {
    store.read(|tx| {
        if staged {
            return Ok(match only {
                Some(p) => staged_set_for(tx, p)?,
                None => staged_set(tx)?,
            }
            .compile(0));
        }
        // Read only where the tables do not already hold them.
        let admins = || {
            tx.grants(&GrantFilter {
                source: Some("admins".into()),
                active: Some(true),
                ..Default::default()
            })
        };
        let Some(v) = tx.active_snapshot()? else {
            let mut set = PolicySet::default();
            set.grants.extend(admins()?);
            return Ok(set.compile(0));
        };
        // No grant or membership has changed since snapshot v was made (or
        // last found equal to them): the tables hold exactly its content
        // (the live admins grants included), and the principal's rows are
        // a few index lookups away.
        if let Some(p) = only
            && tx.tables_match_snapshot(v)?
        {
            return Ok(staged_set_for(tx, p)?.compile(v));
        }
        let mut active = tx
            .snapshot_set_for(v, only)?
            .ok_or_else(|| Error::internal(format!("active snapshot {v} is missing")))?;
        active.set.grants.retain(|g| g.source != "admins");
        active.set.grants.extend(admins()?);
        Ok(active.set.compile(v))
    })
}

/// A check request (`grant check --batch` line, `POST /v1/check`).
#[derive(Debug, Deserialize)]
pub struct CheckRequest<'a> {
    #[serde(borrow)]
    pub principal: Cow<'a, str>,
    #[serde(borrow)]
    pub action: Cow<'a, str>,
    #[serde(borrow)]
    pub resource: Cow<'a, str>,
}

/// Validate the three parts of a check into a [`Request`].
pub fn request<'a>(principal: &'a str, action: &str, resource: &'a str) -> Result<Request<'a>> {
    // Principal's FromStr validates; the borrowed string is what we keep.
    principal.parse::<Principal>()?;
    let action: Action = action.parse()?;
    let (kind, name) = parse_resource(resource)?;
    Ok(Request {
        principal,
        action,
        kind,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One check's answer (explained) from the policy it would load, and
    /// from the whole active snapshot, which it must equal.
    fn both_ways(store: &mut Store, resource: &str) -> (serde_json::Value, serde_json::Value) {
        let req = request("user:a", "read", resource).unwrap();
        let mut answer = |only| {
            let policy = load_policy(store, false, only).unwrap();
            let o = policy.decide(&req, &[]);
            serde_json::to_value(policy.render(&req, &[], &o, true)).unwrap()
        };
        (answer(Some("user:a")), answer(None))
    }

    fn fresh(store: &mut Store) -> bool {
        store
            .read(|tx| {
                let v = tx.active_snapshot()?.unwrap();
                tx.tables_match_snapshot(v)
            })
            .unwrap()
    }

    #[test]
    fn one_check_reads_the_tables_only_while_they_equal_the_active_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.db")).unwrap();
        let ctx = Ctx::local();
        let rule = |subject: &str, resource: &str| AddRequest {
            subject: subject.parse().unwrap(),
            effect: Effect::Allow,
            actions: Actions::parse_list(&["read"]).unwrap(),
            resource: resource.parse().unwrap(),
            note: None,
        };
        let p = |s: &str| s.parse::<Principal>().unwrap();
        let kept = add(&mut store, &ctx, &rule("user:a", "vault:a"))
            .unwrap()
            .id;
        add(&mut store, &ctx, &rule("group:ops", "vault:ops")).unwrap();
        change_group(&mut store, &ctx, "ops", &[p("user:a")], true).unwrap();
        crate::reload::reload(&mut store, &ctx, false).unwrap();
        assert!(fresh(&mut store), "right after a reload");
        let (part, whole) = both_ways(&mut store, "vault:ops");
        assert_eq!(part, whole);
        assert_eq!(part["decision"], "allow");

        // Every kind of staged change sends a check back to the snapshot,
        // whose answers it keeps until the next reload.
        type Change<'a> = Box<dyn Fn(&mut Store) + 'a>;
        let changes: [(&str, Change); 5] = [
            (
                "add",
                Box::new(|s| drop(add(s, &ctx, &rule("user:a", "vault:new")).unwrap())),
            ),
            (
                "revoke",
                Box::new(|s| drop(revoke(s, &ctx, std::slice::from_ref(&kept)).unwrap())),
            ),
            (
                "group remove",
                Box::new(|s| drop(change_group(s, &ctx, "ops", &[p("user:a")], false).unwrap())),
            ),
            (
                "group add",
                Box::new(|s| drop(change_group(s, &ctx, "dev", &[p("user:a")], true).unwrap())),
            ),
            (
                "apply",
                Box::new(|s| {
                    let rules = parse_file(r#"{"grants":[{"subject":"group:dev","actions":["read"],"resource":"vault:dev"}]}"#).unwrap();
                    drop(apply(s, &ctx, "file:t", &rules).unwrap());
                }),
            ),
        ];
        let resources = ["vault:a", "vault:ops", "vault:new", "vault:dev"];
        for (what, change) in &changes {
            crate::reload::reload(&mut store, &ctx, false).unwrap();
            assert!(fresh(&mut store), "reloaded before {what}");
            let before: Vec<_> = resources.map(|r| both_ways(&mut store, r).0).into();
            change(&mut store);
            assert!(!fresh(&mut store), "after {what}");
            for (resource, before) in resources.iter().zip(&before) {
                let (part, whole) = both_ways(&mut store, resource);
                assert_eq!(part, whole, "{what}, {resource}");
                assert_eq!(&part, before, "{what} took effect before a reload");
            }
        }
        crate::reload::reload(&mut store, &ctx, false).unwrap();
        assert!(fresh(&mut store));
        assert_eq!(both_ways(&mut store, "vault:new").0["decision"], "allow");
        assert_eq!(both_ways(&mut store, "vault:dev").0["decision"], "allow");
        assert_eq!(both_ways(&mut store, "vault:a").0["decision"], "deny");
        assert_eq!(both_ways(&mut store, "vault:ops").0["decision"], "deny");

        // Rolled back, the tables no longer match; a reload that finds them
        // equal to the active snapshot (after undoing the change) says so.
        crate::reload::rollback(&mut store, &ctx, 1).unwrap();
        assert!(!fresh(&mut store));
        assert_eq!(both_ways(&mut store, "vault:new").0["decision"], "deny");
        let extra = add(&mut store, &ctx, &rule("user:b", "vault:b"))
            .unwrap()
            .id;
        revoke(&mut store, &ctx, &[extra]).unwrap();
        let newest = store.read(|tx| Ok(tx.snapshots()?.len() as i64)).unwrap();
        crate::reload::rollback(&mut store, &ctx, newest).unwrap();
        let r = crate::reload::reload(&mut store, &ctx, false).unwrap();
        assert!(!r.changed);
        assert!(
            fresh(&mut store),
            "an unchanged reload marks the snapshot current"
        );
        let (part, whole) = both_ways(&mut store, "vault:new");
        assert_eq!(part, whole);
    }

    #[test]
    fn the_staged_part_read_by_subject_equals_the_whole_cut_down() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.db")).unwrap();
        let ctx = Ctx::local();
        let mut ids = Vec::new();
        for (subject, resource) in [
            ("user:a", "worker:x"),
            ("user:b", "worker:x"),
            ("group:ops", "vault:*"),
            ("group:dev", "queue:q"),
            ("group:ops", "worker:build-*"),
            ("user:a", "vault:gone"),
        ] {
            let req = AddRequest {
                subject: subject.parse().unwrap(),
                effect: Effect::Allow,
                actions: Actions::parse_list(&["read"]).unwrap(),
                resource: resource.parse().unwrap(),
                note: None,
            };
            ids.push(add(&mut store, &ctx, &req).unwrap().id);
        }
        revoke(&mut store, &ctx, &ids[5..]).unwrap();
        let p = |s: &str| s.parse::<Principal>().unwrap();
        change_group(&mut store, &ctx, "ops", &[p("user:a"), p("user:c")], true).unwrap();
        change_group(&mut store, &ctx, "dev", &[p("user:b")], true).unwrap();
        for principal in ["user:a", "user:b", "user:c", "user:nobody"] {
            let (part, whole) = store
                .read(|tx| Ok((staged_set_for(tx, principal)?, staged_set(tx)?)))
                .unwrap();
            assert_eq!(part, whole.only_for(principal), "{principal}");
        }
        let a = store.read(|tx| staged_set_for(tx, "user:a")).unwrap();
        assert_eq!(a.grants.len(), 3, "its own live grant and two of ops'");
    }

    #[test]
    fn grant_files_validate_every_entry() {
        let ok = r#"{"grants":[{"subject":"group:ops","effect":"allow","actions":["run"],"resource":"worker:build-*","note":null}]}"#;
        assert_eq!(parse_file(ok).unwrap().len(), 1);
        let nd = "{\"subject\":\"user:a\",\"actions\":[\"read\"],\"resource\":\"*:*\",\"id\":\"grt_x\",\"state\":\"revoked\"}\n";
        assert_eq!(parse_file(nd).unwrap()[0].effect, Effect::Allow);
        // A whole `grant list` line applies; a field it does not print is refused.
        let listed = r#"{"id":"grt_x","subject":"user:a","effect":"deny","actions":["read"],"resource":"vault:x","source":"cli","state":"active","note":null,"created_at":"2026-01-01T00:00:00Z","created_by":"local:uid-0"}"#;
        assert_eq!(parse_file(listed).unwrap()[0].effect, Effect::Deny);
        let typo = r#"{"subject":"user:a","efect":"deny","actions":["read"],"resource":"vault:x"}"#;
        let e = parse_file(typo).unwrap_err();
        assert!(e.message.contains("unknown field `efect`"), "{}", e.message);
        let bad =
            r#"{"grants":[{"subject":"group:ops","actions":["run"],"resource":"wor*ker:x"}]}"#;
        let e = parse_file(bad).unwrap_err();
        assert!(e.message.contains("grant 1"), "{}", e.message);
        assert!(
            parse_file("{\"subject\":\"user:a\"}\n")
                .unwrap_err()
                .message
                .contains("line 1")
        );
    }
}
