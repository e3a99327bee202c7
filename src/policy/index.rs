//! The flat index behind [`super::engine::Compiled`]: one open-addressing
//! table keyed by a 64-bit hash of (subject, kind, exact-or-prefix, name).
//!
//! Why flat: at a million grants a decision is bound by memory latency, not
//! instructions. Nested maps (subject → kind → name) make every level a
//! dependent cache miss; here each probe is one slot in one array and the
//! probes of a decision do not depend on each other, so the CPU overlaps
//! them. Prefix patterns are found by hashing the request name once,
//! incrementally, and probing only at the prefix lengths that occur for the
//! kind. A hash hit is always confirmed against the grant itself, so a
//! collision can never change a decision.

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
    Meta = 5,
    Head = 6,
    Block = 7,
}

/// The table key for (subject, kind, slot type, name hash): splitmix64's finalizer
/// over the parts, never 0 (0 marks an empty slot).
#[inline]
pub fn key(subject: u32, kind: u32, slot: Slot, name_hash: u64) -> u64 {
    let mut z = name_hash
        ^ (u64::from(subject) << 32)
        ^ (u64::from(kind) << 8).rotate_left(17)
        ^ (slot as u64).rotate_left(5);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    z.max(1)
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    key: u64,
    start: u32,
    len: u32,
}

/// An immutable multimap from u64 keys to runs of values, with linear probing
/// at load ≤ 1/2.
#[derive(Debug)]
pub struct FlatTable<T> {
    buckets: Vec<Bucket>,
    mask: usize,
    values: Vec<T>,
}

impl<T: Copy> FlatTable<T> {
    /// Build from (key, value) pairs; values with equal keys form one run,
    /// in their input order.
    pub fn build(mut items: Vec<(u64, T)>) -> Self {
        // A stable sort keeps each key's values in input order.
        items.sort_by_key(|(k, _)| *k);
        let cap = (items.len() * 2).next_power_of_two().max(8);
        let mask = cap - 1;
        let mut buckets = vec![Bucket::default(); cap];
        let mut values = Vec::with_capacity(items.len());
        let mut i = 0;
        while i < items.len() {
            let k = items[i].0;
            let start = values.len() as u32;
            while i < items.len() && items[i].0 == k {
                values.push(items[i].1);
                i += 1;
            }
            let mut slot = (k as usize) & mask;
            while buckets[slot].key != 0 {
                slot = (slot + 1) & mask;
            }
            buckets[slot] = Bucket {
                key: k,
                start,
                len: values.len() as u32 - start,
            };
        }
        FlatTable {
            buckets,
            mask,
            values,
        }
    }

    /// The values stored under `key` (empty when none).
    #[inline]
    pub fn get(&self, key: u64) -> &[T] {
        let mut slot = (key as usize) & self.mask;
        loop {
            let b = &self.buckets[slot];
            if b.key == key {
                return &self.values[b.start as usize..(b.start + b.len) as usize];
            }
            if b.key == 0 {
                return &[];
            }
            slot = (slot + 1) & self.mask;
        }
    }
}

/// A slot of an [`InlineTable`]: carries its own key (0 = empty).
pub trait Keyed: Copy + Default {
    fn key(&self) -> u64;
}

/// An immutable map from unique u64 keys to slots that hold their value
/// inline, with linear probing at load ≤ 1/2: a lookup is one cache line,
/// where [`FlatTable`] needs a second, dependent one for the value.
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
    fn multimap_keeps_runs_in_order() {
        let t = FlatTable::build(vec![(5, 'a'), (9, 'x'), (5, 'b'), (13, 'y'), (5, 'c')]);
        assert_eq!(t.get(5), &['a', 'b', 'c']);
        assert_eq!(t.get(9), &['x']);
        assert_eq!(t.get(13), &['y']);
        assert!(t.get(7).is_empty());
        let empty: FlatTable<u8> = FlatTable::build(vec![]);
        assert!(empty.get(1).is_empty());
    }

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
