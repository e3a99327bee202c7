//! The index's slot layout: grant cards, entries and their bits, bucket
//! keys, and the probes a decision makes.

use super::*;

/// What rendering a matched grant reads, one cache line per grant in grant
/// order: its id and subject back to back, and its effect. With a large
/// policy a decision's matched grants are anywhere in memory; reading them
/// from the grants themselves is a miss for the grant and another for each
/// of its strings.
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
pub(super) struct Card {
    /// 0 when id and subject do not fit: render from the grant.
    pub(super) id_len: u8,
    pub(super) subject_len: u8,
    pub(super) deny: u8,
    pub(super) text: [u8; 61],
}

const _: () = assert!(std::mem::size_of::<Card>() == 64);

impl Card {
    pub(super) fn new(g: &Grant) -> Self {
        let mut card = Card::zeroed();
        let (id, subject) = (g.id.as_bytes(), g.subject.as_str().as_bytes());
        if id.len() + subject.len() <= card.text.len() {
            card.id_len = id.len() as u8;
            card.subject_len = subject.len() as u8;
            card.deny = u8::from(g.effect == Effect::Deny);
            card.text[..id.len()].copy_from_slice(id);
            card.text[id.len()..id.len() + subject.len()].copy_from_slice(subject);
        }
        card
    }

    /// (id, effect, subject), or `None` to read the grant.
    pub(super) fn get(&self) -> Option<(&str, &'static str, &str)> {
        if self.id_len == 0 {
            return None;
        }
        let (id, rest) = self.text.split_at(usize::from(self.id_len));
        let id = std::str::from_utf8(id).ok()?;
        let subject = std::str::from_utf8(&rest[..usize::from(self.subject_len)]).ok()?;
        let effect = if self.deny != 0 {
            Effect::Deny
        } else {
            Effect::Allow
        };
        Some((id, effect.as_str(), subject))
    }
}

/// A grant in the index, with what the hot path needs inline: the subject,
/// kind and name it is filed under (to confirm a hash hit), action bits and
/// `DENY_BIT`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Entry {
    pub(super) grant: u32,
    pub(super) subject: u32,
    /// The kind id, or `FAR_KIND` when it does not fit (then the grant says).
    pub(super) kind: u16,
    pub(super) bits: u8,
    /// The name or prefix (longer ones in `Compiled::names`).
    pub(super) name: ShortName<12>,
}

/// `Entry::kind` of a kind id above `u16` (only with 65,535 kinds or more).
pub(super) const FAR_KIND: u16 = u16::MAX;

impl Entry {
    pub(super) fn new(
        grant: u32,
        subject: u32,
        kind: u32,
        bits: u8,
        text: &[u8],
        names: &mut Vec<u8>,
    ) -> Self {
        Entry {
            grant,
            subject,
            kind: u16::try_from(kind)
                .ok()
                .filter(|&k| k != FAR_KIND)
                .unwrap_or(FAR_KIND),
            bits,
            name: ShortName::new(text, names),
        }
    }
}

/// A slot of the main table: the grant filed under a key, inline (two slots
/// to a cache line, so a probe is one miss). When several grants share the
/// key, the slot's entry carries `MORE_BIT`, its `grant` is where they start
/// in `Compiled::runs`, and nothing else in it counts.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(32))]
pub(super) struct EntrySlot {
    pub(super) key: u64,
    pub(super) entry: Entry,
}

// Two slots to a 64-byte line, a principal's slot exactly one.
const _: () = assert!(std::mem::size_of::<EntrySlot>() == 32);
const _: () = assert!(std::mem::size_of::<PrincipalSlot>() == 64);

impl Keyed for EntrySlot {
    #[inline]
    fn key(&self) -> u64 {
        self.key
    }
}

/// Subject ids a principal's slot holds inline.
pub(super) const PRINCIPAL_INLINE: usize = 8;

/// A principal's slot: its name (to confirm the hash; names over 22 bytes
/// in `Compiled::principal_names`) and its subject ids, all in one cache
/// line. Principals with more subjects, or whose hash collides, are in
/// `principal_overflow`.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
pub(super) struct PrincipalSlot {
    pub(super) key: u64,
    pub(super) n: u8,
    pub(super) name: ShortName<22>,
    pub(super) subs: [u32; PRINCIPAL_INLINE],
}

impl Keyed for PrincipalSlot {
    #[inline]
    fn key(&self) -> u64 {
        self.key
    }
}

/// In an entry: a superuser grant (it matches every action).
pub(super) const SUPERUSER_BIT: u8 = 0x20;
/// The action bits of an entry.
pub(super) const ACTION_BITS: u8 = 0x0f;

/// Grants from which the index's buckets and exact-name table are built on two threads.
pub(super) const PARALLEL_BUILD_FROM: usize = 50_000;

pub(super) const DENY_BIT: u8 = 0x80;
/// In a table slot: several grants share this key (see `Compiled::runs`).
pub(super) const MORE_BIT: u8 = 0x40;
/// In `Compiled::runs`: the last entry of a key's run.
pub(super) const LAST_BIT: u8 = 0x10;
/// Kind id of grants whose kind is `*`.
pub(super) const ANY_KIND: u32 = 0;
/// Bit of the prefix-length mask standing for "62 bytes or longer".
pub(super) const LONG: u32 = 62;
/// The bit of a prefix-length mask for prefixes of `len` bytes (`LONG` for
/// all from 62 on).
#[inline]
pub(super) fn len_bit(len: usize) -> u64 {
    1 << len.min(LONG as usize)
}
/// Bit of an indexed bucket's mask: it has exact-name grants.
pub(super) const HAS_EXACT: u64 = 1 << 63;
/// In `Compiled::subject_kinds`: the subject holds a superuser grant.
pub(super) const SUPERUSER_KIND: u64 = 1 << 63;
/// Kinds with an id from this on share one bit of a kind mask, and always
/// have buckets by name head.
pub(super) const SHARED_KIND_BIT: u32 = 62;

/// The bit of kind `kid` in `Compiled::subject_kinds` (kinds from 62 on share one).
#[inline]
pub(super) fn kind_bit(kid: u32) -> u64 {
    1 << kid.min(SHARED_KIND_BIT)
}

/// Names and prefixes are grouped by their first `HEAD` bytes.
pub(super) const HEAD: usize = 3;
/// `Bucket::head` of the bucket of names and prefixes shorter than `HEAD`.
pub(super) const SHORT_HEAD: u32 = 1 << 24;
/// `Bucket::head` of the one bucket of a (subject, kind) that holds few grants.
pub(super) const ALL_HEADS: u32 = 1 << 25;

/// The head of a name or pattern: its first `HEAD` bytes as a number, or
/// `SHORT_HEAD` when it is shorter.
#[inline]
pub(super) fn head(name: &[u8]) -> u32 {
    match name {
        [a, b, c, ..] => u32::from(*a) | u32::from(*b) << 8 | u32::from(*c) << 16,
        _ => SHORT_HEAD,
    }
}

/// The bit of a head in `Compiled::subject_kinds`' head mask: one of 64
/// by the head's hash, or all of them for `SHORT_HEAD` (short names and
/// prefixes, which a name of any head may match or be).
#[inline]
pub(super) fn head_bit(head: u32) -> u64 {
    if head == SHORT_HEAD {
        u64::MAX
    } else {
        1 << (u64::from(head).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58)
    }
}

/// A bucket's (subject, kind, head).
pub(super) type BucketId = (u32, u32, u32);

/// The key of bucket (subject, kind, head).
#[inline]
pub(super) fn bucket_key(sid: u32, kid: u32, head: u32) -> u64 {
    key(sid, kid, Slot::Bucket, u64::from(head))
}

/// The fingerprint bits of an exact name's hash (the low 4 are actions).
pub(super) const FINGERPRINT: u16 = 0xfff0;

/// The fingerprint of an exact name (by its hash) in a bucket, with `actions`.
#[inline]
pub(super) fn exact_fingerprint(name_hash: u64, actions: u8) -> u16 {
    // Never 0 for a real grant: every grant has an action.
    ((name_hash >> 52) as u16) << 4 | u16::from(actions & ACTION_BITS)
}

/// One lookup of a decision: the key, and what a hit must be to count.
#[derive(Debug, Clone, Copy)]
pub(super) struct Probe {
    pub(super) key: u64,
    pub(super) subject: u32,
    pub(super) kind: u32,
    /// `None` for an exact name.
    pub(super) prefix_len: Option<usize>,
    pub(super) superuser: bool,
}
