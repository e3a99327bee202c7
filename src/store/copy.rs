//! Copying a state into an empty database (SQLite → PostgreSQL, say):
//! every table row for row in one destination transaction, so a copy is
//! all or nothing, then the audit chain verified where it arrived.

use std::collections::BTreeMap;

use super::Store;
use super::sql::{Arg, Cell, args};
use crate::error::{Code, Error, Exit, Result};

/// The tables a state holds, with their columns, parents before children.
/// Relayed dispatches are in flight by nature and are not copied.
const TABLES: &[(&str, &str)] = &[
    ("meta", "key, value"),
    (
        "tokens",
        "id, kind, secret_hash, label, principal, scopes, max_uses, created_at, created_by, \
         expires_at, revoked_at, reason, last_used_at, groups",
    ),
    ("token_bindings", "token_id, machine_id, bound_at"),
    (
        "signer_keys",
        "id, principal, public_key, fingerprint, label, scopes, groups, created_at, created_by, \
         expires_at, revoked_at, reason, last_used_at",
    ),
    (
        "audit_events",
        "seq, ts, type, actor, target, outcome, source, request_id, details, prev_hash, hash",
    ),
    (
        "grants",
        "id, subject, effect, actions, resource, source, active, note, created_at, created_by, changed_at",
    ),
    ("group_members", "group_name, principal, added_at, added_by"),
    (
        "snapshots",
        "version, digest, created_at, created_by, grants, members, content, packed",
    ),
    (
        "workers",
        "id, name, machine_id, token_id, status, labels, capacity, version, created_at, \
         last_seen_at, revoked_at, reason, replica",
    ),
    (
        "worker_credentials",
        "id, worker_id, hash, state, created_at, expires_at, retired_at",
    ),
    (
        "dispatches",
        "id, worker_id, argv, secrets, requested_by, created_at, finished_at, exit_code, stdout, \
         stderr, duration_ms",
    ),
];

/// Meta keys that belong to the destination, not the copy (its key check).
const OWN_META: &[&str] = &["key_check"];

/// One cell, owned, so it can cross from one connection to the other.
enum Value {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    fn arg(&self) -> Arg<'_> {
        match self {
            Value::Null => Arg::Null,
            Value::Int(i) => Arg::Int(*i),
            Value::Text(t) => Arg::Text(t),
            Value::Blob(b) => Arg::Blob(b),
        }
    }
}

/// What a copy moved: rows per table, and the copied chain's verification.
#[derive(Debug, serde::Serialize)]
pub struct CopyReport {
    pub rows: BTreeMap<String, u64>,
    pub audit: crate::audit::Verification,
}

/// Copy every record of `from` into `to`, which must hold none. Both must
/// use the same key file: hashes and the audit chain are under its pepper.
pub fn copy_state(from: &mut Store, to: &mut Store) -> Result<CopyReport> {
    if !crate::credential::ct_eq(from.pepper(), to.pepper()) {
        return Err(Error::usage(
            "the destination was opened with another key file than the source's",
        )
        .with_hint("give the destination the source's key file (--state-key-file)"));
    }
    let mut rows = BTreeMap::new();
    let own = OWN_META
        .iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ");
    to.write(|dst| {
        for (table, _) in TABLES {
            let sql = if *table == "meta" {
                format!("SELECT COUNT(*) FROM meta WHERE key NOT IN ({own})")
            } else {
                format!("SELECT COUNT(*) FROM {table}")
            };
            let n: i64 = dst.tx.row(&sql, args![], |r| r.get(0))?.unwrap_or(0);
            if n > 0 {
                return Err(Error::new(
                    Exit::Conflict,
                    Code::StateNotEmpty,
                    format!("the destination already holds data ({n} rows in {table})"),
                )
                .with_hint("copy into a new, empty database"));
            }
        }
        from.read(|src| {
            for (table, columns) in TABLES {
                let width = columns.split(',').count();
                let marks: Vec<String> = (1..=width).map(|i| format!("?{i}")).collect();
                let insert = format!(
                    "INSERT INTO {table} ({columns}) VALUES ({})",
                    marks.join(", ")
                );
                let mut n = 0u64;
                src.tx.each(&format!("SELECT {columns} FROM {table}"), args![], |r| {
                    let mut values = Vec::with_capacity(width);
                    for i in 0..width {
                        values.push(match r.cell(i)? {
                            Cell::Null => Value::Null,
                            Cell::Int(v) => Value::Int(v),
                            Cell::Text(t) => Value::Text(t.to_owned()),
                            Cell::Blob(b) => Value::Blob(b.to_vec()),
                        });
                    }
                    if *table == "meta"
                        && matches!(&values[0], Value::Text(k) if OWN_META.contains(&k.as_str()))
                    {
                        return Ok(true);
                    }
                    let a: Vec<Arg<'_>> = values.iter().map(Value::arg).collect();
                    dst.tx.exec(&insert, &a)?;
                    n += 1;
                    Ok(true)
                })?;
                rows.insert((*table).to_owned(), n);
            }
            Ok(())
        })
    })?;
    let audit = to.read(|tx| tx.verify_audit(None))?;
    Ok(CopyReport { rows, audit })
}
