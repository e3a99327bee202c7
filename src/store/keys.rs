//! SQL for principals' signer keys (public keys only).

use super::Tx;
use super::sql::{Row, args};
use crate::error::{Error, Result};
use crate::time::Millis;

/// A registered Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub id: String,
    pub principal: String,
    /// `ssh-ed25519 AAAA...` without its comment.
    pub public_key: String,
    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    pub label: Option<String>,
    pub scopes: Vec<String>,
    /// Group subjects its maker's credential asserted (a JWT role).
    pub groups: Vec<String>,
    pub created_at: Millis,
    pub created_by: String,
    pub expires_at: Millis,
    pub revoked_at: Option<Millis>,
    pub reason: Option<String>,
    pub last_used_at: Option<Millis>,
}

const SELECT: &str = "SELECT id, principal, public_key, fingerprint, label, scopes, groups,
    created_at, created_by, expires_at, revoked_at, reason, last_used_at FROM signer_keys";

fn row_to_key(r: &Row<'_>) -> Result<KeyRow> {
    let list = |i: usize, what: &str| -> Result<Vec<String>> {
        let text: &str = r.get(i)?;
        serde_json::from_str(text)
            .map_err(|_| Error::corrupt(format!("bad {what} in the signer_keys table")))
    };
    Ok(KeyRow {
        id: r.get(0)?,
        principal: r.get(1)?,
        public_key: r.get(2)?,
        fingerprint: r.get(3)?,
        label: r.get(4)?,
        scopes: list(5, "scopes")?,
        groups: list(6, "groups")?,
        created_at: r.get(7)?,
        created_by: r.get(8)?,
        expires_at: r.get(9)?,
        revoked_at: r.get(10)?,
        reason: r.get(11)?,
        last_used_at: r.get(12)?,
    })
}

impl Tx<'_> {
    /// Insert a new key record.
    pub fn insert_key(&mut self, k: &KeyRow) -> Result<()> {
        let json = |v: &[String]| {
            serde_json::to_string(v).map_err(|e| Error::internal(format!("encoding a list: {e}")))
        };
        let (scopes, groups) = (json(&k.scopes)?, json(&k.groups)?);
        self.tx.exec(
            "INSERT INTO signer_keys (id, principal, public_key, fingerprint, label, scopes, groups,
                created_at, created_by, expires_at, revoked_at, reason, last_used_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            args![
                k.id,
                k.principal,
                k.public_key,
                k.fingerprint,
                k.label,
                scopes,
                groups,
                k.created_at,
                k.created_by,
                k.expires_at,
                k.revoked_at,
                k.reason,
                k.last_used_at
            ],
        )?;
        Ok(())
    }

    /// One key by its bare id.
    pub fn key(&self, id: &str) -> Result<Option<KeyRow>> {
        self.tx
            .row(&format!("{SELECT} WHERE id = ?1"), args![id], row_to_key)
    }

    /// The key record holding this fingerprint, if any.
    pub fn key_by_fingerprint(&self, fingerprint: &str) -> Result<Option<KeyRow>> {
        self.tx.row(
            &format!("{SELECT} WHERE fingerprint = ?1"),
            args![fingerprint],
            row_to_key,
        )
    }

    /// Every key, oldest first.
    pub fn keys(&self) -> Result<Vec<KeyRow>> {
        self.tx.rows(
            &format!("{SELECT} ORDER BY created_at, id"),
            args![],
            row_to_key,
        )
    }

    /// Mark a key revoked.
    pub fn revoke_key(&mut self, id: &str, now: Millis, reason: Option<&str>) -> Result<()> {
        self.tx.exec(
            "UPDATE signer_keys SET revoked_at = ?2, reason = ?3 WHERE id = ?1",
            args![id, now, reason],
        )?;
        Ok(())
    }

    /// Record that a key signed a request.
    pub fn touch_key(&mut self, id: &str, now: Millis) -> Result<()> {
        self.tx.exec(
            "UPDATE signer_keys SET last_used_at = ?2 WHERE id = ?1",
            args![id, now],
        )?;
        Ok(())
    }

    /// Delete a key record (its audit events stay).
    pub fn delete_key(&mut self, id: &str) -> Result<()> {
        self.tx
            .exec("DELETE FROM signer_keys WHERE id = ?1", args![id])?;
        Ok(())
    }
}
