//! The flat index behind [`super::engine::Compiled`]: one open-addressing
//! table keyed by a 64-bit hash of (subject, kind, exact-or-prefix, name).
//!
//! Why flat: at a million grants a decision is bound by memory latency, not
//! instructions. Nested maps (subject → kind → name) make every level a
//! dependent cache miss; here each probe is one slot in one array and the
//! probes of a decision do not depend on each other, so the CPU overlaps
//! them. Prefix patterns are found by hashing the request name once,
//! incrementally, and probing only at the prefix lengths that occur for the
//! kind among names with the request's first bytes. Before the table, a
//! [`KeyFilter`] laid out so that one subject's probes share a cache line
//! drops nearly every probe that would miss. A hash hit is always confirmed
//! against the grant's own subject, kind and name, so a collision can never
//! change a decision.

/// FNV-1a offset basis.
pub const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// Extend an FNV-1a hash by one byte.
#[inline]
pub fn fnv_step(h: u64, b: u8) -> u64 {
    (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
}

/// FNV-1a of a whole string.
pub fn fnv(s: &str) -> u64 {
    s.bytes().fold(FNV_START, fnv_step)
}

/// What a key names.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub enum Slot {
    Exact = 1,
    Prefix = 2,
    Superuser = 3,
    Principal = 4,
    Block = 5,
}

/// splitmix64's finalizer: a bijection on `u64` that maps 0 to 0.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The table key for (subject, kind, slot type, name hash): the parts mixed,
/// never 0 (0 marks an empty slot). Different parts may share a key (the
/// name hash alone is 64 bits), so a hit under it must be confirmed.
#[inline]
pub fn key(subject: u32, kind: u32, slot: Slot, name_hash: u64) -> u64 {
    mix(name_hash
        ^ (u64::from(subject) << 32)
        ^ (u64::from(kind) << 8).rotate_left(17)
        ^ (slot as u64).rotate_left(5))
    .max(1)
}

/// A key for a table whose keys must be unique, from a value that packs its
/// parts without loss: distinct values give distinct keys, never 0.
#[inline]
pub fn unique_key(packed: u64) -> u64 {
    // `mix` is a bijection and only 0 maps to 0: shift by one past it.
    mix(packed.wrapping_add(1))
}

/// A name held inline when it has at most `N` bytes, else spilled to a
/// shared byte array: confirming a hash hit against a short name costs no
/// second cache miss.
#[derive(Debug, Clone, Copy)]
pub struct ShortName<const N: usize> {
    /// The length when inline, else `SPILLED`.
    len: u8,
    /// The name; when spilled, its offset and length in the array as two
    /// little-endian `u32`s.
    bytes: [u8; N],
}

const SPILLED: u8 = u8::MAX;

impl<const N: usize> Default for ShortName<N> {
    fn default() -> Self {
        ShortName {
            len: 0,
            bytes: [0; N],
        }
    }
}

impl<const N: usize> ShortName<N> {
    /// `text`, inline when it fits, else appended to `spill`.
    pub fn new(text: &[u8], spill: &mut Vec<u8>) -> Self {
        const { assert!(N >= 8 && N < SPILLED as usize) };
        let mut name = ShortName::default();
        if text.len() <= N {
            name.len = text.len() as u8;
            name.bytes[..text.len()].copy_from_slice(text);
        } else {
            name.len = SPILLED;
            name.bytes[..4].copy_from_slice(&(spill.len() as u32).to_le_bytes());
            name.bytes[4..8].copy_from_slice(&(text.len() as u32).to_le_bytes());
            spill.extend_from_slice(text);
        }
        name
    }

    /// The name, from `spill` (the array given to [`ShortName::new`]) when
    /// it did not fit.
    #[inline]
    pub fn get<'a>(&'a self, spill: &'a [u8]) -> &'a [u8] {
        if self.len == SPILLED {
            let word = |i: usize| {
                let mut b = [0; 4];
                b.copy_from_slice(&self.bytes[i..i + 4]);
                u32::from_le_bytes(b) as usize
            };
            &spill[word(0)..word(0) + word(4)]
        } else {
            &self.bytes[..usize::from(self.len)]
        }
    }
}

/// A slot of an [`InlineTable`]: carries its own key (0 = empty).
pub trait Keyed: Copy + Default {
    fn key(&self) -> u64;
}

/// An immutable map from unique u64 keys to slots that hold their value
/// inline, with linear probing at load ≤ 1/2: a lookup is one cache line,
/// where a table of buckets pointing at values would need a second,
/// dependent one.
#[derive(Debug)]
pub struct InlineTable<S> {
    slots: Vec<S>,
    mask: usize,
}

impl<S: Keyed> InlineTable<S> {
    /// Build from slots with distinct, non-zero keys.
    pub fn build(items: Vec<S>) -> Self {
        let cap = (items.len() * 2).next_power_of_two().max(8);
        let mask = cap - 1;
        let mut slots = vec![S::default(); cap];
        for item in items {
            debug_assert!(item.key() != 0);
            let mut at = (item.key() as usize) & mask;
            while slots[at].key() != 0 {
                debug_assert!(slots[at].key() != item.key(), "duplicate key");
                at = (at + 1) & mask;
            }
            slots[at] = item;
        }
        InlineTable { slots, mask }
    }

    /// Touch the home slot of each key so the cache misses of a batch of
    /// independent lookups overlap instead of queueing (no unsafe prefetch
    /// needed: plain loads whose results are used). Returns how many home
    /// slots hold their key, which callers may ignore.
    #[inline]
    pub fn warm(&self, keys: &[u64]) -> usize {
        keys.iter()
            .filter(|&&k| self.slots[(k as usize) & self.mask].key() == k)
            .count()
    }

    /// The slot stored under `key`.
    #[inline]
    pub fn get(&self, key: u64) -> Option<&S> {
        let mut at = (key as usize) & self.mask;
        loop {
            let slot = &self.slots[at];
            if slot.key() == key {
                return Some(slot);
            }
            if slot.key() == 0 {
                return None;
            }
            at = (at + 1) & self.mask;
        }
    }
}

/// A blocked Bloom filter over 64-bit keys, in cache lines: each key is
/// filed under a block (the engine's block is a subject, kind, action and the
/// first bytes of the name), the block picks one 64-byte line, and the key
/// sets 4 bits in one word of it. All the probes of a decision for one
/// subject share a block, so they cost one cache line between them instead of
/// one each. At 12–24 bits per key (a power-of-two number of lines) it is
/// 4 MB for the benchmark's million grants (2.1 million key-action pairs),
/// far smaller than the table, and it answers "certainly absent" for nearly
/// every probe that would miss, so those never touch the table. A false
/// "maybe" only costs the probe it would otherwise have made.
#[derive(Debug)]
pub struct KeyFilter {
    lines: Vec<Line>,
    mask: usize,
}

/// One cache line of a [`KeyFilter`].
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Line([u64; 8]);

/// Filter bits per key, at least (the line count is rounded up to a power of two).
const FILTER_BITS_PER_KEY: usize = 12;

impl KeyFilter {
    /// A filter holding `(block, key)` pairs (`n` of them, or about).
    pub fn build(pairs: impl Iterator<Item = (u64, u64)>, n: usize) -> Self {
        let lines = (n * FILTER_BITS_PER_KEY / 512).next_power_of_two().max(1);
        let mut f = KeyFilter {
            lines: vec![Line::default(); lines],
            mask: lines - 1,
        };
        for (block, key) in pairs {
            let (l, w, bits) = f.locate(block, key);
            f.lines[l].0[w] |= bits;
        }
        f
    }

    /// The line for `block` (from its high half), and the word and 4 bits
    /// for `key` (from its low 27 bits).
    #[inline]
    fn locate(&self, block: u64, key: u64) -> (usize, usize, u64) {
        let l = ((block >> 32) as usize) & self.mask;
        let bits = (1u64 << ((key >> 3) & 63))
            | (1u64 << ((key >> 9) & 63))
            | (1u64 << ((key >> 15) & 63))
            | (1u64 << ((key >> 21) & 63));
        (l, (key & 7) as usize, bits)
    }

    /// False when `key` is certainly not in `block`.
    #[inline]
    pub fn may_contain(&self, block: u64, key: u64) -> bool {
        let (l, w, bits) = self.locate(block, key);
        self.lines[l].0[w] & bits == bits
    }
}

/// A `u64` under a key: 16 bytes, four to a cache line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Word {
    pub key: u64,
    pub value: u64,
}

impl Keyed for Word {
    #[inline]
    fn key(&self) -> u64 {
        self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_table_finds_every_key_and_only_those() {
        let items: Vec<Word> = (1..=1000u64)
            .map(|k| Word {
                key: k.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
                value: k,
            })
            .collect();
        let t = InlineTable::build(items.clone());
        for w in &items {
            assert_eq!(t.get(w.key).map(|s| s.value), Some(w.value));
        }
        assert_eq!(t.warm(&[items[0].key]), t.warm(&[items[0].key]));
        assert!(t.get(2).is_none());
        assert!(InlineTable::<Word>::build(vec![]).get(5).is_none());
    }

    #[test]
    fn short_names_are_inline_and_long_ones_spill() {
        let mut spill = b"earlier".to_vec();
        let names = [
            "",
            "a",
            "exactly-12-b",
            "thirteen-byte",
            "a much longer name than fits",
        ];
        let held: Vec<ShortName<12>> = names
            .iter()
            .map(|n| ShortName::new(n.as_bytes(), &mut spill))
            .collect();
        for (n, h) in names.iter().zip(&held) {
            assert_eq!(h.get(&spill), n.as_bytes());
        }
        assert_eq!(spill.len(), "earlier".len() + 13 + 28);
    }

    #[test]
    fn key_filter_has_no_false_negatives_and_few_false_positives() {
        // Ten keys to a block, as a subject's names are.
        let mix = |i: u64| (key(1, 2, Slot::Block, i / 10), key(1, 2, Slot::Exact, i));
        let f = KeyFilter::build((0..10_000).map(mix), 10_000);
        assert!((0..10_000).map(mix).all(|(b, k)| f.may_contain(b, k)));
        let false_pos = (10_000..110_000)
            .map(mix)
            .filter(|&(b, k)| f.may_contain(b, k))
            .count();
        assert!(false_pos < 3_000, "{false_pos} false positives in 100,000");
    }

    #[test]
    fn unique_keys_do_not_collide() {
        // Packed (subject, kind) pairs, the case `key` could collide on.
        let keys: std::collections::HashSet<u64> = (0..64u64)
            .flat_map(|s| (0..1024u64).map(move |k| unique_key(s << 32 | k)))
            .collect();
        assert_eq!(keys.len(), 64 * 1024);
        assert!(!keys.contains(&0));
        assert_ne!(unique_key(0), 0);
    }

    #[test]
    fn prefix_hashes_compose() {
        let whole = fnv("build-1");
        let stepwise = "build-1".bytes().fold(FNV_START, fnv_step);
        assert_eq!(whole, stepwise);
        assert_ne!(
            key(1, 2, Slot::Exact, whole),
            key(1, 2, Slot::Prefix, whole)
        );
        assert_ne!(key(1, 2, Slot::Exact, whole), key(2, 2, Slot::Exact, whole));
        assert_ne!(key(1, 2, Slot::Exact, whole), key(1, 3, Slot::Exact, whole));
    }
}
