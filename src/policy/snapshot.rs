//! The content of a policy snapshot — active grants and memberships — its
//! canonical encoding and digest, and the diff between two snapshots.

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::engine::{Compiled, Membership};
use super::grant::{Actions, Effect, Grant};
use crate::credential::hex;
use crate::error::{Error, Result};

/// Active grants and memberships, sorted: the input of a compile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicySet {
    pub grants: Vec<Grant>,
    pub members: Vec<Membership>,
}

/// A grant as stored in a snapshot. Strings borrow from the encoded bytes
/// where they can (the packed form always can), so decoding allocates once
/// per field, when the [`Grant`] is built.
#[derive(Serialize, Deserialize)]
struct StoredGrant<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    subject: Cow<'a, str>,
    effect: Effect,
    actions: u8,
    #[serde(borrow)]
    resource: Cow<'a, str>,
    #[serde(borrow)]
    source: Cow<'a, str>,
    #[serde(borrow)]
    note: Option<Cow<'a, str>>,
    created_at: i64,
    #[serde(borrow)]
    created_by: Cow<'a, str>,
}

#[derive(Serialize, Deserialize)]
struct Stored<'a> {
    #[serde(borrow)]
    grants: Vec<StoredGrant<'a>>,
    members: Vec<Membership>,
}

/// First field of the packed form: bumped whenever its layout changes, so an
/// old packed form is ignored (and the JSON content used) instead of misread.
const PACKED_FORMAT: u32 = 1;

/// Grants per chunk of the packed form. Chunks decode independently, on
/// every core.
const PACKED_CHUNK: usize = 32_768;

/// The packed form: grants in independently decodable chunks.
#[derive(Serialize, Deserialize)]
struct Packed<'a> {
    format: u32,
    members: Vec<Membership>,
    #[serde(borrow)]
    chunks: Vec<&'a [u8]>,
}

impl PolicySet {
    /// A set from any grants (inactive and built-in ones are dropped) and memberships.
    pub fn new(grants: Vec<Grant>, mut members: Vec<Membership>) -> Self {
        let mut grants: Vec<Grant> = grants
            .into_iter()
            .filter(|g| g.active && g.source != "builtin")
            .collect();
        // Ids are unique, so an unstable sort gives the one order.
        grants.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        members.sort();
        members.dedup();
        PolicySet { grants, members }
    }

    fn stored(&self) -> Stored<'_> {
        Stored {
            grants: self
                .grants
                .iter()
                .map(|g| StoredGrant {
                    id: Cow::Borrowed(&g.id),
                    subject: Cow::Borrowed(g.subject.as_str()),
                    effect: g.effect,
                    actions: g.actions.0,
                    resource: Cow::Owned(g.resource.to_string()),
                    source: Cow::Borrowed(&g.source),
                    note: g.note.as_deref().map(Cow::Borrowed),
                    created_at: g.created_at,
                    created_by: Cow::Borrowed(&g.created_by),
                })
                .collect(),
            members: self.members.clone(),
        }
    }

    /// Re-validate stored content into a set.
    fn from_stored(stored: Stored<'_>) -> Result<Self> {
        Ok(PolicySet {
            grants: grants_from_stored(stored.grants)?,
            members: stored.members,
        })
    }

    /// Canonical bytes (sorted, compact JSON): what the digest is taken
    /// over, and what is read when a snapshot has no readable packed form.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing plain structs of strings and integers cannot fail.
        serde_json::to_vec(&self.stored()).unwrap_or_default()
    }

    /// Decode and re-validate stored bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let stored: Stored<'_> =
            serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        Self::from_stored(stored)
    }

    /// The same content in a compact binary form (postcard), stored beside
    /// the JSON so that loading the active policy — the start of every
    /// `grant check` — does not pay for JSON parsing.
    pub fn pack(&self) -> Vec<u8> {
        let stored = self.stored();
        // Serializing plain structs of strings and integers cannot fail.
        let chunks: Vec<Vec<u8>> = stored
            .grants
            .chunks(PACKED_CHUNK)
            .map(|c| postcard::to_allocvec(c).unwrap_or_default())
            .collect();
        let packed = Packed {
            format: PACKED_FORMAT,
            members: stored.members,
            chunks: chunks.iter().map(Vec::as_slice).collect(),
        };
        postcard::to_allocvec(&packed).unwrap_or_default()
    }

    /// Decode and re-validate a packed form. `None` when it is of another
    /// format version; an error when it is damaged.
    pub fn unpack(bytes: &[u8]) -> Result<Option<Self>> {
        Self::unpack_for(bytes, None)
    }

    /// [`PolicySet::unpack`], keeping only what deciding for `principal`
    /// reads when it is given (see [`PolicySet::only_for`]). The other
    /// grants are skipped as they are read, never built: one check on a
    /// million-grant snapshot then costs the read, not a whole policy.
    pub fn unpack_for(bytes: &[u8], principal: Option<&str>) -> Result<Option<Self>> {
        match postcard::take_from_bytes::<u32>(bytes) {
            Ok((PACKED_FORMAT, _)) => {}
            Ok(_) => return Ok(None),
            Err(e) => return Err(corrupt(e.to_string())),
        }
        let mut packed: Packed<'_> =
            postcard::from_bytes(bytes).map_err(|e| corrupt(e.to_string()))?;
        let subjects = principal.map(|p| {
            packed.members.retain(|m| m.principal == p);
            subjects_of(p, &packed.members)
        });
        let decode = |chunks: &[&[u8]]| -> Result<Vec<Grant>> {
            let mut out = Vec::new();
            for c in chunks {
                let mut stored: Vec<StoredGrant<'_>> =
                    postcard::from_bytes(c).map_err(|e| corrupt(e.to_string()))?;
                if let Some(s) = &subjects {
                    stored.retain(|g| s.iter().any(|s| *s == g.subject));
                }
                out.extend(grants_from_stored(stored)?);
            }
            Ok(out)
        };
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(packed.chunks.len())
            .max(1);
        let mut parts = packed
            .chunks
            .chunks(packed.chunks.len().div_ceil(threads).max(1));
        let first = parts.next().unwrap_or(&[]);
        let grants = std::thread::scope(|s| -> Result<Vec<Grant>> {
            let others: Vec<_> = parts.map(|part| s.spawn(move || decode(part))).collect();
            let mut grants = decode(first)?;
            for h in others {
                grants.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?);
            }
            Ok(grants)
        })?;
        Ok(Some(PolicySet {
            grants,
            members: packed.members,
        }))
    }

    /// Only the grants and memberships a decision for `principal` reads: its
    /// own grants, those of the groups it is in, and its memberships. For
    /// that principal (with no extra groups) the compiled result decides,
    /// matches and explains exactly as the whole set does.
    pub fn only_for(mut self, principal: &str) -> Self {
        self.members.retain(|m| m.principal == principal);
        let subjects = subjects_of(principal, &self.members);
        self.grants
            .retain(|g| subjects.iter().any(|s| s == g.subject.as_str()));
        self
    }

    /// Compile into a decision index labelled `version`.
    pub fn compile(self, version: i64) -> Compiled {
        Compiled::new(version, self.grants, &self.members)
    }
}

/// The subjects whose grants apply to one principal: itself and the groups
/// of `memberships` (the principal's own).
pub fn subjects_of(principal: &str, memberships: &[Membership]) -> Vec<String> {
    std::iter::once(principal.to_owned())
        .chain(memberships.iter().map(|m| format!("group:{}", m.group)))
        .collect()
}

/// Re-validate stored grants.
fn grants_from_stored(stored: Vec<StoredGrant<'_>>) -> Result<Vec<Grant>> {
    let mut grants = Vec::with_capacity(stored.len());
    for g in stored {
        grants.push(Grant {
            subject: g.subject.parse().map_err(|e: Error| corrupt(e.message))?,
            resource: g.resource.parse().map_err(|e: Error| corrupt(e.message))?,
            id: g.id.into_owned(),
            effect: g.effect,
            actions: Actions(g.actions),
            source: g.source.into_owned(),
            active: true,
            note: g.note.map(Cow::into_owned),
            created_at: g.created_at,
            created_by: g.created_by.into_owned(),
        });
    }
    Ok(grants)
}

fn corrupt(what: String) -> Error {
    Error::internal(format!("stored snapshot is corrupt: {what}"))
}

/// SHA-256 of encoded content, hex.
pub fn digest(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// What changes between two snapshots.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Diff {
    pub grants_added: Vec<String>,
    pub grants_removed: Vec<String>,
    pub members_added: Vec<Membership>,
    pub members_removed: Vec<Membership>,
}

impl Diff {
    /// From `old` to `new`.
    pub fn between(old: &PolicySet, new: &PolicySet) -> Self {
        let ids = |s: &PolicySet| {
            s.grants
                .iter()
                .map(|g| g.id.clone())
                .collect::<BTreeSet<_>>()
        };
        let (o, n) = (ids(old), ids(new));
        let (om, nm): (BTreeSet<_>, BTreeSet<_>) =
            (old.members.iter().collect(), new.members.iter().collect());
        Diff {
            grants_added: n.difference(&o).cloned().collect(),
            grants_removed: o.difference(&n).cloned().collect(),
            members_added: nm.difference(&om).map(|m| (*m).clone()).collect(),
            members_removed: om.difference(&nm).map(|m| (*m).clone()).collect(),
        }
    }

    /// True when nothing changes.
    pub fn is_empty(&self) -> bool {
        self.grants_added.is_empty()
            && self.grants_removed.is_empty()
            && self.members_added.is_empty()
            && self.members_removed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(id: &str, subject: &str, resource: &str, note: Option<&str>) -> Grant {
        Grant {
            id: id.into(),
            subject: subject.parse().unwrap(),
            effect: Effect::Allow,
            actions: Actions(0b0101),
            resource: resource.parse().unwrap(),
            source: "cli".into(),
            active: true,
            note: note.map(Into::into),
            created_at: 1_700_000_000_000,
            created_by: "user:ops".into(),
        }
    }

    fn set(n: usize) -> PolicySet {
        let grants = (0..n)
            .map(|i| {
                let note = (i % 3 == 0).then_some("a \"quoted\" note ✓");
                grant(
                    &format!("grt_{i:08}"),
                    &format!("group:team-{}", i % 7),
                    &format!("worker:build-{i}*"),
                    note,
                )
            })
            .collect();
        let members = vec![Membership {
            group: "team-1".into(),
            principal: "user:a".into(),
        }];
        PolicySet::new(grants, members)
    }

    #[test]
    fn packed_form_round_trips_across_chunks() {
        for n in [0, 1, PACKED_CHUNK, PACKED_CHUNK * 2 + 5] {
            let s = set(n);
            let back = PolicySet::unpack(&s.pack()).unwrap().unwrap();
            assert_eq!(back, s, "{n} grants");
            assert_eq!(back.encode(), s.encode(), "same canonical JSON");
        }
    }

    #[test]
    fn packed_form_of_another_format_is_passed_over_and_damage_is_an_error() {
        let bytes = set(3).pack();
        let mut other = postcard::to_allocvec(&(PACKED_FORMAT + 1)).unwrap();
        other.extend_from_slice(&bytes[1..]);
        assert!(PolicySet::unpack(&other).unwrap().is_none());
        assert!(PolicySet::unpack(&bytes[..bytes.len() / 2]).is_err());
        assert!(PolicySet::unpack(&[]).is_err());
        // A grant that no longer validates is refused, not trusted.
        let packed = set(1).pack();
        let broken: Vec<u8> = packed
            .windows(12)
            .position(|w| w == b"group:team-0")
            .map(|at| {
                let mut b = packed.clone();
                b[at + 5] = b'*';
                b
            })
            .unwrap();
        let err = PolicySet::unpack(&broken).unwrap_err();
        assert!(err.message.contains("corrupt"), "{}", err.message);
    }
}
