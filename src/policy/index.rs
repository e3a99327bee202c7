//! The flat index behind [`super::engine::Compiled`]: open-addressing
//! tables whose slots hold their values inline, keyed by 64-bit hashes.
//!
//! Why flat: at a million grants a decision is bound by memory latency, not
//! instructions. Nested maps (subject → kind → name) make every level a
//! dependent cache miss. Here a decision finds its principal's subjects in
//! one slot, then reads one [`Bucket`] per subject and kind (the grants
//! whose names start with the request's first bytes), all at once: the
//! reads do not depend on each other, so the CPU overlaps them. A bucket
//! holds its prefix grants inline and only fingerprints of its exact names,
//! so most decisions end there. An exact name whose fingerprint matches is
//! one more lookup by key; a bucket a little too full continues in a small
//! [`Overflow`] array (one more read), and only one with many more grants
//! than fit is indexed, its grants found by key. A hash hit is always
//! confirmed against the grant's own subject, kind and name, so a
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
    Bucket = 5,
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

/// Where an [`InlineTable`] keeps its slots: any slice of them that can be
/// made all empty (every slot's key 0).
pub trait SlotStore<S>: std::ops::Deref<Target = [S]> + std::ops::DerefMut {
    /// `n` empty slots.
    fn empty(n: usize) -> Self;
}

impl<S: Keyed> SlotStore<S> for Vec<S> {
    fn empty(n: usize) -> Self {
        vec![S::default(); n]
    }
}

/// Slots in memory the kernel is asked to back with transparent huge
/// pages, when the table is large enough for that to matter: a decision's
/// bucket reads land anywhere in tens of megabytes, and with 4 KB pages
/// each is a TLB miss as well as a cache miss. Elsewhere, or when the
/// mapping cannot be made, a plain `Vec`.
pub enum HugeSlots<S> {
    Mapped(memmap2::MmapMut, std::marker::PhantomData<S>),
    Heap(Vec<S>),
}

/// Below this many bytes a table stays on the heap: huge pages are 2 MB.
const HUGE_FROM: usize = 4 << 20;

impl<S: Keyed + bytemuck::Pod> SlotStore<S> for HugeSlots<S> {
    fn empty(n: usize) -> Self {
        let bytes = n * std::mem::size_of::<S>();
        if bytes >= HUGE_FROM {
            // Anonymous memory is zeroed, and a zeroed slot is empty (key 0).
            if let Ok(map) = memmap2::MmapMut::map_anon(bytes) {
                // Only a hint: if the kernel declines, the table is the same.
                #[cfg(target_os = "linux")]
                let _ = map.advise(memmap2::Advice::HugePage);
                return HugeSlots::Mapped(map, std::marker::PhantomData);
            }
        }
        HugeSlots::Heap(Vec::empty(n))
    }
}

impl<S: bytemuck::Pod> std::ops::Deref for HugeSlots<S> {
    type Target = [S];
    #[inline]
    fn deref(&self) -> &[S] {
        match self {
            HugeSlots::Mapped(map, _) => bytemuck::cast_slice(map),
            HugeSlots::Heap(v) => v,
        }
    }
}

impl<S: bytemuck::Pod> std::ops::DerefMut for HugeSlots<S> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [S] {
        match self {
            HugeSlots::Mapped(map, _) => bytemuck::cast_slice_mut(map),
            HugeSlots::Heap(v) => v,
        }
    }
}

impl<S> std::fmt::Debug for HugeSlots<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HugeSlots::Mapped(..) => "HugeSlots::Mapped",
            HugeSlots::Heap(_) => "HugeSlots::Heap",
        })
    }
}

/// An immutable map from unique u64 keys to slots that hold their value
/// inline, with linear probing at load ≤ 1/2: a lookup is one cache line,
/// where a table of buckets pointing at values would need a second,
/// dependent one.
#[derive(Debug)]
pub struct InlineTable<S, V = Vec<S>> {
    slots: V,
    mask: usize,
    _slot: std::marker::PhantomData<S>,
}

impl<S: Keyed, V: SlotStore<S>> InlineTable<S, V> {
    /// Build from slots with distinct, non-zero keys.
    pub fn build(items: Vec<S>) -> Self {
        let cap = (items.len() * 2).next_power_of_two().max(8);
        let mask = cap - 1;
        let mut slots = V::empty(cap);
        for item in items {
            debug_assert!(item.key() != 0);
            let mut at = (item.key() as usize) & mask;
            while slots[at].key() != 0 {
                debug_assert!(slots[at].key() != item.key(), "duplicate key");
                at = (at + 1) & mask;
            }
            slots[at] = item;
        }
        InlineTable {
            slots,
            mask,
            _slot: std::marker::PhantomData,
        }
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

    /// The slot where `key` would be found first (for touching ahead of a `get`).
    #[inline]
    pub fn home(&self, key: u64) -> &S {
        &self.slots[(key as usize) & self.mask]
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

/// The first `INLINE_PREFIX` bytes of a name, little-endian and zero
/// padded, as two words: a prefix held inline is compared with a name in
/// two masked word compares instead of a call to `memcmp`.
#[inline]
pub fn name_words(name: &[u8]) -> (u64, u16) {
    let mut b = [0u8; INLINE_PREFIX];
    let n = name.len().min(INLINE_PREFIX);
    b[..n].copy_from_slice(&name[..n]);
    let mut lo = [0u8; 8];
    lo.copy_from_slice(&b[..8]);
    (u64::from_le_bytes(lo), u16::from_le_bytes([b[8], b[9]]))
}

/// A request's name cut to every length a [`PrefixEntry`] may hold inline,
/// as [`name_words`] of each cut, made once per decision: an inline prefix
/// of length `len` matches when its words equal cut `len`'s, two compares
/// and no per-entry mask. Lengths past the name's (and `len & 15` of a
/// spilled prefix) hold words no prefix has: bytes 0xff never occur in UTF-8.
#[derive(Debug, Clone, Copy)]
pub struct NameCuts {
    lo: [u64; 16],
    hi: [u16; 16],
}

impl NameCuts {
    pub fn new(name: &[u8]) -> Self {
        let (lo, hi) = name_words(name);
        let mut cuts = NameCuts {
            lo: [0; 16],
            hi: [0; 16],
        };
        for len in 0..16 {
            let cut = len <= name.len() && len <= INLINE_PREFIX;
            cuts.lo[len] = if cut { lo & LO_MASK[len] } else { u64::MAX };
            cuts.hi[len] = if cut { hi & HI_MASK[len] } else { u16::MAX };
        }
        cuts
    }
}

/// The longest prefix a [`PrefixEntry`] holds inline.
pub const INLINE_PREFIX: usize = 10;
const _: () = assert!(INLINE_PREFIX < 15 && SPILLED_PREFIX & 15 > INLINE_PREFIX as u8);
/// `PrefixEntry::len` of a prefix kept in the spill array.
const SPILLED_PREFIX: u8 = u8::MAX;

/// A prefix grant held in a [`Bucket`]: 16 bytes, the prefix inline up to
/// `INLINE_PREFIX` bytes (else `lo` is its offset and length in a spill
/// array), with the caller's `bits` and grant number. An unused entry has
/// `bits` 0.
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct PrefixEntry {
    lo: u64,
    hi: u16,
    len: u8,
    pub bits: u8,
    pub grant: u32,
}

impl PrefixEntry {
    /// `text`, inline when it fits, else appended to `spill`.
    pub fn new(grant: u32, bits: u8, text: &[u8], spill: &mut Vec<u8>) -> Self {
        if text.len() <= INLINE_PREFIX {
            let (lo, hi) = name_words(text);
            PrefixEntry {
                lo,
                hi,
                len: text.len() as u8,
                bits,
                grant,
            }
        } else {
            let lo = spill.len() as u64 | (text.len() as u64) << 32;
            spill.extend_from_slice(text);
            PrefixEntry {
                lo,
                hi: 0,
                len: SPILLED_PREFIX,
                bits,
                grant,
            }
        }
    }

    /// Does `name` (cut as `cuts`) start with this prefix?
    #[inline]
    pub fn is_prefix_of(&self, name: &[u8], cuts: &NameCuts, spill: &[u8]) -> bool {
        if self.len == SPILLED_PREFIX {
            let at = self.lo as u32 as usize;
            let len = (self.lo >> 32) as usize;
            return name.starts_with(&spill[at..at + len]);
        }
        self.inline_prefix_of(cuts)
    }

    /// [`PrefixEntry::is_prefix_of`] for a prefix held inline (false for a
    /// spilled one).
    #[inline]
    fn inline_prefix_of(&self, cuts: &NameCuts) -> bool {
        let at = usize::from(self.len) & 15;
        (cuts.lo[at] == self.lo) & (cuts.hi[at] == self.hi)
    }
}

/// Per prefix length up to `INLINE_PREFIX`: the bits of [`name_words`]'
/// two words it covers (16 entries, so that [`NameCuts::new`] is one
/// fixed loop the compiler unrolls; those past `INLINE_PREFIX` are unused).
const LO_MASK: [u64; 16] = {
    let mut m = [u64::MAX; 16];
    let mut len = 0;
    while len < 8 {
        m[len] = (1u64 << (8 * len)) - 1;
        len += 1;
    }
    m
};
const HI_MASK: [u16; 16] = {
    let mut m = [u16::MAX; 16];
    let mut len = 0;
    while len <= 8 {
        m[len] = 0;
        len += 1;
    }
    let mut len = 9;
    while len <= INLINE_PREFIX {
        m[len] = ((1u32 << (8 * (len - 8))) - 1) as u16;
        len += 1;
    }
    m
};

/// Is `fingerprint` (under `mask`) among `fingerprints`, with action `bit`?
/// All compared, no early exit: the compiler does them as vectors, faster
/// than stopping at the first.
#[inline]
pub fn any_fingerprint(fingerprints: &[u16], fingerprint: u16, mask: u16, bit: u8) -> bool {
    fingerprints.iter().fold(false, |any, &f| {
        any | ((f & mask == fingerprint) & (f & u16::from(bit) != 0))
    })
}

/// Prefix grants a [`Bucket`] holds inline.
pub const BUCKET_PREFIXES: usize = 5;
/// Exact-name fingerprints a [`Bucket`] holds inline.
pub const BUCKET_EXACTS: usize = 12;
/// In `Bucket::flags`: some prefix held inline is spilled (longer than
/// `INLINE_PREFIX`), so matching it takes the slow path.
const HAS_SPILLED: u8 = 1;
/// `Bucket::n_exact` of a bucket too full to hold its grants inline.
const INDEXED: u8 = u8::MAX;
/// `Bucket::n_exact` of a bucket whose grants continue in an [`Overflow`].
const EXTENDED: u8 = u8::MAX - 1;
/// Prefix grants an extended bucket may have beyond those inline.
pub const OVERFLOW_PREFIXES: usize = 12;
/// Exact-name fingerprints an extended bucket may have beyond those inline.
pub const OVERFLOW_EXACTS: usize = 36;

/// Where the grants of buckets with a few more than fit inline continue,
/// back to back. A bucket that overflows by a little is read in one more,
/// small, access; only one that overflows by more than
/// `OVERFLOW_PREFIXES`/`OVERFLOW_EXACTS` is indexed, its grants found by
/// key one lookup each.
#[derive(Debug, Default)]
pub struct Overflow {
    pub prefixes: Vec<PrefixEntry>,
    pub fingerprints: Vec<u16>,
}

/// Everything one subject holds in one kind for names that start alike (or
/// for all names, when it holds few), in two adjacent cache lines: its
/// prefix grants inline, and a 16-bit fingerprint of each exact name (12
/// bits of the name's hash and 4 action bits) so that an exact-name lookup
/// is only made when it may hit. A decision reads one bucket per subject
/// and kind, all of them at once, and decides most requests from them
/// alone.
///
/// A bucket with more grants than fit is *indexed*: it holds only a mask
/// (see [`Bucket::indexed`]) and its grants are found by key, so no
/// decision scans more than one bucket's worth of entries per subject.
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(128))]
pub struct Bucket {
    key: u64,
    pub subject: u32,
    pub kind: u32,
    /// Which names the bucket covers (the engine's encoding).
    pub head: u32,
    /// `INDEXED` for an indexed bucket, `EXTENDED` for an extended one.
    n_exact: u8,
    /// `HAS_SPILLED` when a prefix held inline is in the spill array.
    flags: u8,
    exact: [u16; BUCKET_EXACTS],
    _pad2: [u8; 2],
    prefix: [PrefixEntry; BUCKET_PREFIXES],
}

const _: () = assert!(std::mem::size_of::<Bucket>() == 128);
const _: () = assert!(std::mem::size_of::<PrefixEntry>() == 16);

impl Keyed for Bucket {
    #[inline]
    fn key(&self) -> u64 {
        self.key
    }
}

impl Bucket {
    /// A bucket holding `prefixes` and `exacts` inline, or `None` when they
    /// do not fit.
    pub fn inline(
        key: u64,
        (subject, kind, head): (u32, u32, u32),
        prefixes: &[PrefixEntry],
        exacts: &[u16],
    ) -> Option<Self> {
        if prefixes.len() > BUCKET_PREFIXES || exacts.len() > BUCKET_EXACTS {
            return None;
        }
        let spilled = prefixes.iter().any(|p| p.len == SPILLED_PREFIX);
        let mut b = Bucket {
            key,
            subject,
            kind,
            head,
            n_exact: exacts.len() as u8,
            flags: if spilled { HAS_SPILLED } else { 0 },
            ..Bucket::default()
        };
        b.prefix[..prefixes.len()].copy_from_slice(prefixes);
        b.exact[..exacts.len()].copy_from_slice(exacts);
        Some(b)
    }

    /// A bucket holding the first of `prefixes` and `exacts` inline and
    /// the rest in `overflow`, or `None` when there are too many for that.
    /// Its last inline prefix slot says where the rest are.
    pub fn extended(
        key: u64,
        id: (u32, u32, u32),
        prefixes: &[PrefixEntry],
        exacts: &[u16],
        overflow: &mut Overflow,
    ) -> Option<Self> {
        const INLINE: usize = BUCKET_PREFIXES - 1;
        let (p_in, p_out) = prefixes.split_at(prefixes.len().min(INLINE));
        let (e_in, e_out) = exacts.split_at(exacts.len().min(BUCKET_EXACTS));
        if p_out.len() > OVERFLOW_PREFIXES || e_out.len() > OVERFLOW_EXACTS {
            return None;
        }
        let mut b = Bucket::inline(key, id, p_in, e_in)?;
        b.n_exact = EXTENDED;
        b.prefix[INLINE] = PrefixEntry {
            lo: overflow.prefixes.len() as u64
                | (p_out.len() as u64) << 32
                | (e_out.len() as u64) << 48,
            grant: overflow.fingerprints.len() as u32,
            ..PrefixEntry::default()
        };
        overflow.prefixes.extend_from_slice(p_out);
        overflow.fingerprints.extend_from_slice(e_out);
        Some(b)
    }

    /// Where an extended bucket's grants continue in its [`Overflow`]: the
    /// ranges of its prefixes and of its fingerprints.
    #[inline]
    pub fn overflow(&self) -> Option<(std::ops::Range<usize>, std::ops::Range<usize>)> {
        if self.n_exact != EXTENDED {
            return None;
        }
        let d = &self.prefix[BUCKET_PREFIXES - 1];
        let p = d.lo as u32 as usize;
        let f = d.grant as usize;
        let n_p = (d.lo >> 32) as u16 as usize;
        let n_f = (d.lo >> 48) as usize;
        Some((p..p + n_p, f..f + n_f))
    }

    /// A bucket whose grants are elsewhere, keeping only `mask` (the
    /// engine's summary of what to look up).
    pub fn indexed(key: u64, (subject, kind, head): (u32, u32, u32), mask: u64) -> Self {
        let mut b = Bucket {
            key,
            subject,
            kind,
            head,
            n_exact: INDEXED,
            ..Bucket::default()
        };
        b.prefix[0].lo = mask;
        b
    }

    /// The mask of an indexed bucket, `None` for one that holds its grants.
    #[inline]
    pub fn indexed_mask(&self) -> Option<u64> {
        (self.n_exact == INDEXED).then_some(self.prefix[0].lo)
    }

    /// The prefix grants held inline (unused ones have `bits` 0, so a
    /// caller may scan all of them without a length check).
    #[inline]
    pub fn prefixes(&self) -> &[PrefixEntry; BUCKET_PREFIXES] {
        &self.prefix
    }

    /// Which of the inline prefix grants with action `bit` `name` starts
    /// with, as a mask (bit i for `prefixes()[i]`). Spilled prefixes are
    /// flagged per bucket, so the common scan has one test fewer per entry.
    #[inline]
    pub fn matching_prefixes(&self, bit: u8, name: &[u8], cuts: &NameCuts, spill: &[u8]) -> u32 {
        let mut m = 0;
        for (i, e) in self.prefix.iter().enumerate() {
            if e.bits & bit != 0 && e.inline_prefix_of(cuts) {
                m |= 1 << i;
            }
        }
        if self.flags & HAS_SPILLED != 0 {
            for (i, e) in self.prefix.iter().enumerate() {
                if e.bits & bit != 0 && e.len == SPILLED_PREFIX {
                    m |= u32::from(e.is_prefix_of(name, cuts, spill)) << i;
                }
            }
        }
        m
    }

    /// May the bucket hold an exact-name grant with action `bit` whose
    /// name has `fingerprint` (see the engine's `exact_fingerprint`)?
    #[inline]
    pub fn may_hold_exact(&self, fingerprint: u16, fingerprint_mask: u16, bit: u8) -> bool {
        any_fingerprint(&self.exact, fingerprint, fingerprint_mask, bit)
    }

    /// Touch both cache lines, so a batch of bucket reads overlap.
    #[inline]
    pub fn touch(&self) -> u64 {
        self.key ^ u64::from(self.prefix[BUCKET_PREFIXES - 1].grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `u64` under a key.
    #[derive(Debug, Clone, Copy, Default)]
    struct Word {
        key: u64,
        value: u64,
    }

    impl Keyed for Word {
        fn key(&self) -> u64 {
            self.key
        }
    }

    #[test]
    fn inline_table_finds_every_key_and_only_those() {
        let items: Vec<Word> = (1..=1000u64)
            .map(|k| Word {
                key: k.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
                value: k,
            })
            .collect();
        let t: InlineTable<Word> = InlineTable::build(items.clone());
        for w in &items {
            assert_eq!(t.get(w.key).map(|s| s.value), Some(w.value));
        }
        assert_eq!(t.warm(&[items[0].key]), t.warm(&[items[0].key]));
        assert!(t.get(2).is_none());
        assert!(InlineTable::<Word>::build(vec![]).get(5).is_none());
    }

    #[test]
    fn a_large_bucket_table_is_mapped_and_finds_every_key() {
        let bucket = |i: u32| {
            let k = u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            Bucket::inline(k, (i, 1, 2), &[], &[]).unwrap()
        };
        // 20,000 buckets: 32,768 slots of 128 bytes, over `HUGE_FROM`.
        let items: Vec<Bucket> = (0..20_000).map(bucket).collect();
        let t: InlineTable<Bucket, HugeSlots<Bucket>> = InlineTable::build(items.clone());
        assert!(matches!(t.slots, HugeSlots::Mapped(..)));
        for b in &items {
            assert_eq!(t.get(b.key).map(|s| s.subject), Some(b.subject));
        }
        assert!(t.get(2).is_none());
        // A small one stays on the heap and behaves the same.
        let small: InlineTable<Bucket, HugeSlots<Bucket>> =
            InlineTable::build(items[..10].to_vec());
        assert!(matches!(small.slots, HugeSlots::Heap(_)));
        assert_eq!(small.get(items[3].key).map(|s| s.subject), Some(3));
        assert!(small.get(items[10].key).is_none());
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
    fn prefix_entries_match_exactly_the_names_they_start() {
        // Every prefix of 0..=14 bytes (inline up to INLINE_PREFIX, then
        // spilled) against every name of 0..=14 bytes made of the same or a
        // differing last byte, as `starts_with` says.
        let word = b"abcdefghijklmn";
        let mut spill = Vec::new();
        let mut names: Vec<Vec<u8>> = (0..=word.len()).map(|n| word[..n].to_vec()).collect();
        for n in 1..=word.len() {
            let mut other = word[..n].to_vec();
            other[n - 1] = b'z';
            names.push(other);
        }
        let entries: Vec<(usize, PrefixEntry)> = (0..=word.len())
            .map(|n| (n, PrefixEntry::new(7, 1, &word[..n], &mut spill)))
            .collect();
        let mut matched = 0;
        for name in &names {
            let cuts = NameCuts::new(name);
            for (n, e) in &entries {
                let want = name.starts_with(&word[..*n]);
                assert_eq!(e.is_prefix_of(name, &cuts, &spill), want, "{n} {name:?}");
                matched += usize::from(want);
            }
            // The same through a bucket's mask, five entries at a time.
            for chunk in entries.chunks(BUCKET_PREFIXES) {
                let p: Vec<PrefixEntry> = chunk.iter().map(|&(_, e)| e).collect();
                let b = Bucket::inline(1, (1, 1, 1), &p, &[]).unwrap();
                let want = chunk.iter().enumerate().fold(0, |m, (i, (n, _))| {
                    m | u32::from(name.starts_with(&word[..*n])) << i
                });
                assert_eq!(
                    b.matching_prefixes(1, name, &cuts, &spill),
                    want,
                    "{name:?}"
                );
                assert_eq!(
                    b.matching_prefixes(2, name, &cuts, &spill),
                    0,
                    "other action"
                );
            }
        }
        assert!(matched > names.len(), "some prefixes match");
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
