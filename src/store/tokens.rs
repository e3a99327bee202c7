//! SQL for tokens and their machine bindings.

use super::Tx;
use super::sql::{Engine, Row, args};
use crate::credential::CredentialKind;
use crate::error::{Error, Result};
use crate::time::Millis;

/// A token record as stored (the secret only as its argon2id hash).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRow {
    pub id: String,
    pub kind: CredentialKind,
    pub secret_hash: String,
    pub label: Option<String>,
    pub principal: Option<String>,
    pub scopes: Vec<String>,
    /// Group subjects the token's maker asserted beside the policy's (a JWT role).
    pub groups: Vec<String>,
    /// `None`: unlimited (enrol) or not applicable (api).
    pub max_uses: Option<i64>,
    pub created_at: Millis,
    pub created_by: String,
    pub expires_at: Millis,
    pub revoked_at: Option<Millis>,
    pub reason: Option<String>,
    pub last_used_at: Option<Millis>,
    /// Machine ids bound to this token, oldest first.
    pub machines: Vec<String>,
}

/// Which tokens to read.
#[derive(Debug, Default, Clone)]
pub struct TokenFilter {
    pub kind: Option<CredentialKind>,
}

/// The columns of a token and its bindings as a JSON list (each engine
/// spells that aggregate its own way).
macro_rules! select {
    ($machines:literal) => {
        concat!(
            "SELECT t.id, t.kind, t.secret_hash, t.label, t.principal, t.scopes,
                t.max_uses, t.created_at, t.created_by, t.expires_at, t.revoked_at, t.reason,
                t.last_used_at, t.groups, ",
            $machines,
            " FROM tokens t"
        )
    };
}
const SELECT_SQLITE: &str = select!(
    "(SELECT json_group_array(machine_id) FROM
        (SELECT machine_id FROM token_bindings b WHERE b.token_id = t.id ORDER BY bound_at, machine_id))"
);
const SELECT_PG: &str = select!(
    "(SELECT COALESCE(json_agg(machine_id ORDER BY bound_at, machine_id)::text, '[]')
        FROM token_bindings b WHERE b.token_id = t.id)"
);

fn row_to_token(r: &Row<'_>) -> Result<TokenRow> {
    let kind: &str = r.get(1)?;
    let scopes: &str = r.get(5)?;
    let groups: &str = r.get(13)?;
    let machines: &str = r.get(14)?;
    let bad = |what: &str| Error::corrupt(format!("bad {what} in the tokens table"));
    Ok(TokenRow {
        id: r.get(0)?,
        kind: match kind {
            "enrol" => CredentialKind::Enrol,
            "api" => CredentialKind::Api,
            _ => return Err(bad("kind")),
        },
        secret_hash: r.get(2)?,
        label: r.get(3)?,
        principal: r.get(4)?,
        scopes: serde_json::from_str(scopes).map_err(|_| bad("scopes"))?,
        max_uses: r.get(6)?,
        created_at: r.get(7)?,
        created_by: r.get(8)?,
        expires_at: r.get(9)?,
        revoked_at: r.get(10)?,
        reason: r.get(11)?,
        last_used_at: r.get(12)?,
        groups: serde_json::from_str(groups).map_err(|_| bad("groups"))?,
        machines: serde_json::from_str(machines).map_err(|_| bad("bindings"))?,
    })
}

impl Tx<'_> {
    fn select_tokens(&self) -> &'static str {
        match self.tx.engine() {
            Engine::Sqlite => SELECT_SQLITE,
            Engine::Postgres => SELECT_PG,
        }
    }

    /// Insert a new token record.
    pub fn insert_token(&mut self, t: &TokenRow) -> Result<()> {
        let scopes = serde_json::to_string(&t.scopes)
            .map_err(|e| Error::internal(format!("encoding scopes: {e}")))?;
        let groups = serde_json::to_string(&t.groups)
            .map_err(|e| Error::internal(format!("encoding groups: {e}")))?;
        self.tx.exec(
            "INSERT INTO tokens (id, kind, secret_hash, label, principal, scopes, max_uses,
                created_at, created_by, expires_at, revoked_at, reason, last_used_at, groups)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            args![
                t.id,
                t.kind.as_str(),
                t.secret_hash,
                t.label,
                t.principal,
                scopes,
                t.max_uses,
                t.created_at,
                t.created_by,
                t.expires_at,
                t.revoked_at,
                t.reason,
                t.last_used_at,
                groups
            ],
        )?;
        Ok(())
    }

    /// One token by id.
    pub fn token(&self, id: &str) -> Result<Option<TokenRow>> {
        self.tx.row(
            &format!("{} WHERE t.id = ?1", self.select_tokens()),
            args![id],
            row_to_token,
        )
    }

    /// Tokens matching `f`, oldest first.
    pub fn tokens(&self, f: &TokenFilter) -> Result<Vec<TokenRow>> {
        let kind = f.kind.map(|k| k.as_str());
        self.tx.rows(
            &format!(
                "{} WHERE (CAST(?1 AS TEXT) IS NULL OR t.kind = ?1) ORDER BY t.created_at, t.id",
                self.select_tokens()
            ),
            args![kind],
            row_to_token,
        )
    }

    /// Mark a token revoked.
    pub fn revoke_token(&mut self, id: &str, now: Millis, reason: Option<&str>) -> Result<()> {
        self.tx.exec(
            "UPDATE tokens SET revoked_at = ?2, reason = ?3 WHERE id = ?1",
            args![id, now, reason],
        )?;
        Ok(())
    }

    /// Delete a token record (its bindings go with it; audit events stay).
    pub fn delete_token(&mut self, id: &str) -> Result<()> {
        self.tx
            .exec("DELETE FROM tokens WHERE id = ?1", args![id])?;
        Ok(())
    }

    /// Bind a machine to a token and note the use.
    pub fn bind_machine(&mut self, token_id: &str, machine_id: &str, now: Millis) -> Result<()> {
        self.tx.exec(
            "INSERT INTO token_bindings (token_id, machine_id, bound_at) VALUES (?1, ?2, ?3)",
            args![token_id, machine_id, now],
        )?;
        self.touch_token(token_id, now)
    }

    /// Changes whenever a token or signer key is revoked or deleted:
    /// (revoked count, sum of the latest revocation of each). Serve polls it
    /// to drop cached credentials and keys.
    pub fn revocation_fingerprint(&self) -> Result<(i64, i64)> {
        Ok(self
            .tx
            .row(
                "SELECT (SELECT COUNT(revoked_at) FROM tokens) + (SELECT COUNT(revoked_at) FROM signer_keys),
                    (SELECT COALESCE(MAX(revoked_at), 0) FROM tokens)
                        + (SELECT COALESCE(MAX(revoked_at), 0) FROM signer_keys)",
                args![],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .unwrap_or((0, 0)))
    }

    /// Record that a token was used.
    pub fn touch_token(&mut self, id: &str, now: Millis) -> Result<()> {
        self.tx.exec(
            "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1",
            args![id, now],
        )?;
        Ok(())
    }
}
