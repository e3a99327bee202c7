//! Token operations: create, list, show, revoke, prune, verify, and whoami.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Effect, Endpoint, Operation, Route, routes};
use crate::credential::CredentialKind;
use crate::error::Result;
use crate::store::Access;
use crate::token::{self, CreateRequest, Created, Ctx, TokenState, TokenView};

impl Endpoint for CreateRequest {
    type Response = Created;
    const ROUTE: &'static Route = &routes::TOKEN_CREATE;
}

impl Operation for CreateRequest {
    const SLOW: bool = true;
    fn run(self, store: impl Access, ctx: &Ctx) -> Result<Created> {
        token::create(store, ctx, &self)
    }
}

/// `token list`: filters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenList {
    pub kind: Option<CredentialKind>,
    pub state: Option<TokenState>,
}

impl Endpoint for TokenList {
    type Response = Vec<TokenView>;
    const ROUTE: &'static Route = &routes::TOKEN_LIST;
}

impl Operation for TokenList {
    fn run(self, mut store: impl Access, ctx: &Ctx) -> Result<Vec<TokenView>> {
        store.with(|s| token::list(s, ctx.now, self.kind, self.state))
    }
}

checked_text!(
    /// A token id (`tok_<id>` or bare), checked on arrival.
    TokenId,
    token::parse_id
);

/// `token show`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenShow {
    pub id: TokenId,
}

impl Endpoint for TokenShow {
    type Response = TokenView;
    const ROUTE: &'static Route = &routes::TOKEN_SHOW;
}

impl Operation for TokenShow {
    fn run(self, mut store: impl Access, ctx: &Ctx) -> Result<TokenView> {
        store.with(|s| token::show(s, ctx.now, &self.id.0))
    }
}

/// `token revoke`: all or nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRevoke {
    pub ids: Vec<TokenId>,
    #[serde(default)]
    pub reason: Option<String>,
}

impl Endpoint for TokenRevoke {
    type Response = Vec<TokenView>;
    const ROUTE: &'static Route = &routes::TOKEN_REVOKE;
}

impl Operation for TokenRevoke {
    fn effect(&self) -> Effect {
        Effect::TokensRevoked(
            self.ids
                .iter()
                .map(|i| match token::keys::bare(&i.0) {
                    Some(_) => i.0.clone(),
                    None => token::display_id(i.0.trim_start_matches("tok_")),
                })
                .collect(),
        )
    }
    fn run(self, mut store: impl Access, ctx: &Ctx) -> Result<Vec<TokenView>> {
        let ids: Vec<String> = self.ids.into_iter().map(|i| i.0).collect();
        store.with(|s| token::revoke(s, ctx, &ids, self.reason.as_deref()))
    }
}

/// `token prune`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenPrune {
    /// Only records that ended at least this long ago [default: 7d].
    #[serde(default, with = "super::wire::opt_duration")]
    #[schema(value_type = Option<String>)]
    pub older_than: Option<Duration>,
}

/// `token prune`'s default age.
pub const PRUNE_AFTER: Duration = Duration::from_secs(7 * 86_400);

impl Endpoint for TokenPrune {
    type Response = Vec<TokenView>;
    const ROUTE: &'static Route = &routes::TOKEN_PRUNE;
}

impl Operation for TokenPrune {
    fn run(self, mut store: impl Access, ctx: &Ctx) -> Result<Vec<TokenView>> {
        let d = self.older_than.unwrap_or(PRUNE_AFTER);
        store.with(|s| token::prune(s, ctx, d))
    }
}

/// `token verify`: a raw token, identified without being used.
#[derive(Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenVerify {
    pub token: String,
}

impl std::fmt::Debug for TokenVerify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenVerify { token: <redacted> }")
    }
}

/// Why a verified token cannot be used now.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Unusable {
    pub code: crate::error::Code,
    pub message: String,
    pub exit: u8,
}

/// `token verify`'s answer: the record, and why it is unusable if it is.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Verified {
    pub record: TokenView,
    pub refusal: Option<Unusable>,
}

impl Endpoint for TokenVerify {
    type Response = Verified;
    const ROUTE: &'static Route = &routes::TOKEN_VERIFY;
}

impl Operation for TokenVerify {
    const SLOW: bool = true;
    fn run(self, store: impl Access, ctx: &Ctx) -> Result<Verified> {
        let (record, refusal) = token::verify(store, ctx.now, self.token.trim())?;
        Ok(Verified {
            record,
            refusal: refusal.map(|e| Unusable {
                code: e.code,
                message: e.message,
                exit: e.exit.code(),
            }),
        })
    }
}

/// `whoami`: who the server takes the caller to be (answered by serve alone).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Whoami {}

/// The caller as `serve` sees it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Identity {
    pub principal: String,
    pub groups: Vec<String>,
    pub scopes: Vec<String>,
    pub token_id: Option<String>,
    pub method: String,
}

impl Endpoint for Whoami {
    type Response = Identity;
    const ROUTE: &'static Route = &routes::WHOAMI;
}
