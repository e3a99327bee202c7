//! What a decision says: allow or deny, why, the grants that matched, and
//! near misses when asked.

use super::*;

/// Why a decision came out as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Allowed,
    ExplicitDeny,
    NoMatchingGrant,
}

/// A grant that took part in a decision, and the subject it was reached through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub grant: u32,
    pub(super) subject: u32,
}

/// The raw outcome of a decision, cheap to compute; render with [`Compiled::render`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub allow: bool,
    pub reason: Reason,
    /// Inline up to 4: a decision that matches allocates nothing.
    pub hits: SmallVec<[Hit; 4]>,
}

impl Outcome {
    /// Nothing matched (yet): default deny.
    pub(super) fn nothing() -> Self {
        Outcome {
            allow: false,
            reason: Reason::NoMatchingGrant,
            hits: SmallVec::new(),
        }
    }

    /// A matching grant, reached through `subject`: a deny wins over any
    /// allow, before or after it.
    #[inline]
    pub(super) fn record(&mut self, grant: u32, subject: u32, deny: bool) {
        self.reason = if deny || self.reason == Reason::ExplicitDeny {
            Reason::ExplicitDeny
        } else {
            Reason::Allowed
        };
        self.hits.push(Hit { grant, subject });
    }
}

/// A matching grant as shown in a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matched<'a> {
    pub id: &'a str,
    pub effect: &'static str,
    pub subject: &'a str,
    pub via: Option<&'a str>,
}

/// A grant for this principal that failed on exactly one thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NearMiss<'a> {
    pub id: &'a str,
    pub effect: &'static str,
    pub subject: &'a str,
    pub via: Option<&'a str>,
    pub actions: Vec<&'static str>,
    pub resource: String,
    /// `action` or `resource`.
    pub failed_on: &'static str,
}

/// A decision in the DESIGN §5 shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision<'a> {
    pub decision: &'static str,
    pub reason: Reason,
    pub matched: Vec<Matched<'a>>,
    pub snapshot: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub near_misses: Option<Vec<NearMiss<'a>>>,
}
