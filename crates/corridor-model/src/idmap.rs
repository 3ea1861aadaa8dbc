//! [`IdMap`]: event ids to values, without an allocation per id.
//!
//! A log of a million events has a million distinct ids, and whoever walks
//! it must know every one of them (an id used twice is an event counted
//! twice; a correction names the entry it corrects by id). A `HashMap<String,
//! _>` spends an allocation and about 60 bytes of bookkeeping on each; here
//! the ids are kept one after another in one text, and the table holds only
//! a 64-bit hash and a position. Two ids with the same hash are told apart
//! by their text: the second goes to a small map of its own.

use std::collections::HashMap;
use std::hash::BuildHasher;

/// The average id length [`IdMap::for_ids`] makes room for (the ids a
/// generated million-event log uses are 12–20 bytes; a UUID is 36).
pub const ID_ROOM: usize = 40;

/// Ids to values of type `V`.
#[derive(Debug, Clone)]
pub struct IdMap<V> {
    hasher: foldhash::fast::FixedState,
    /// Every id ever inserted, one after another.
    text: String,
    /// Per slot: where its id is in `text`, and its value (`None` once removed).
    slots: Vec<(u64, u32, Option<V>)>,
    /// Hash of an id -> its slot, for the first id with that hash.
    by_hash: HashMap<u64, u32, NoHash>,
    /// Ids whose hash an earlier, different id already has -> slot.
    collided: HashMap<Box<str>, u32>,
    /// Tests: every id gets the same hash, so every id after the first
    /// takes the collision path.
    #[cfg(test)]
    all_collide: bool,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        IdMap {
            hasher: foldhash::fast::FixedState::with_seed(0x636f_7272_6964_6f72),
            text: String::new(),
            slots: Vec::new(),
            by_hash: HashMap::default(),
            collided: HashMap::new(),
            #[cfg(test)]
            all_collide: false,
        }
    }
}

impl<V> IdMap<V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Room for `ids` ids of `bytes` bytes in all, reserved at once: a
    /// walk that knows the log's size grows nothing entry by entry.
    pub fn with_capacity(ids: usize, bytes: usize) -> Self {
        let mut m = Self::default();
        m.reserve(ids, bytes);
        m
    }

    /// Room for `ids` ids of any usual length (a walk that knows the log's
    /// size but not its ids'): the text's room is reserved for ids of up to
    /// [`ID_ROOM`] bytes on average. Room reserved and never written is
    /// address space, not memory (the pages are not touched), so the
    /// overestimate costs nothing, while growing the text by doubling
    /// would hold the old and the new copy at once.
    pub fn for_ids(ids: usize) -> Self {
        Self::with_capacity(ids, ids.saturating_mul(ID_ROOM))
    }

    /// Room for `ids` more ids of `bytes` more bytes in all.
    pub fn reserve(&mut self, ids: usize, bytes: usize) {
        self.text.reserve(bytes);
        self.slots.reserve(ids);
        self.by_hash.reserve(ids);
    }

    fn hash(&self, id: &str) -> u64 {
        #[cfg(test)]
        if self.all_collide {
            return 7;
        }
        self.hasher.hash_one(id)
    }

    fn id(&self, slot: u32) -> &str {
        let (at, len, _) = self.slots[slot as usize];
        let at = at as usize;
        &self.text[at..at + len as usize]
    }

    /// The slot of `id`, if it was ever inserted.
    fn slot(&self, id: &str, hash: u64) -> Option<u32> {
        let slot = *self.by_hash.get(&hash)?;
        if self.id(slot) == id {
            Some(slot)
        } else {
            self.collided.get(id).copied()
        }
    }

    pub fn get(&self, id: &str) -> Option<&V> {
        let slot = self.slot(id, self.hash(id))?;
        self.slots[slot as usize].2.as_ref()
    }

    pub fn contains_key(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    /// Sets `id`'s value; returns the value it had.
    pub fn insert(&mut self, id: &str, value: V) -> Option<V> {
        self.insert_slot(id, value).1
    }

    /// [`Self::insert`], also answering the slot `id` is kept in (for
    /// [`Self::id_in`]): a new id takes the next slot, a known one keeps its own.
    pub fn insert_slot(&mut self, id: &str, value: V) -> (u32, Option<V>) {
        let hash = self.hash(id);
        if let Some(slot) = self.slot(id, hash) {
            return (slot, self.slots[slot as usize].2.replace(value));
        }
        // An id is at most an event's size (64 kB), and a log holds fewer
        // than 2^32 entries (4 billion; a tile index would overflow first).
        let at = self.text.len() as u64;
        let len = u32::try_from(id.len()).expect("an id is shorter than 4 GiB");
        let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 ids");
        self.text.push_str(id);
        self.slots.push((at, len, Some(value)));
        match self.by_hash.entry(hash) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(slot);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collided.insert(id.into(), slot);
            }
        }
        (slot, None)
    }

    /// The id kept in `slot` and its value (`None`: no such slot, or its
    /// id was removed).
    pub fn id_in(&self, slot: u32) -> Option<(&str, &V)> {
        let value = self.slots.get(slot as usize)?.2.as_ref()?;
        Some((self.id(slot), value))
    }

    /// Removes `id`; returns the value it had. (Its text stays: removals
    /// are rare, a refused batch rolled back.)
    pub fn remove(&mut self, id: &str) -> Option<V> {
        let slot = self.slot(id, self.hash(id))?;
        self.slots[slot as usize].2.take()
    }
}

/// The table's keys are hashes already.
#[derive(Debug, Clone, Copy, Default)]
struct NoHash;

impl BuildHasher for NoHash {
    type Hasher = PassThrough;
    fn build_hasher(&self) -> PassThrough {
        PassThrough(0)
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed; fold anything else in all the same.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(String, u32),
        Remove(String),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Few distinct ids, so inserts hit, replace and follow removals.
        let id = "[a-c]{0,3}";
        prop_oneof![3 => (id, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)), 1 => id.prop_map(Op::Remove)]
    }

    fn check(ops: Vec<Op>, all_collide: bool, room: (usize, usize)) -> Result<(), TestCaseError> {
        let mut ours = IdMap { all_collide, ..IdMap::with_capacity(room.0, room.1) };
        let mut theirs: HashMap<String, u32> = HashMap::new();
        // Each id's slot: the next one when first inserted, kept for good.
        let mut slots: HashMap<String, u32> = HashMap::new();
        for op in ops {
            match op {
                Op::Insert(k, v) => {
                    let next = slots.len() as u32;
                    let want = *slots.entry(k.clone()).or_insert(next);
                    prop_assert_eq!(ours.insert_slot(&k, v), (want, theirs.insert(k, v)));
                }
                Op::Remove(k) => prop_assert_eq!(ours.remove(&k), theirs.remove(&k)),
            }
            for k in ["", "a", "b", "ab", "abc", "cc"] {
                prop_assert_eq!(ours.get(k), theirs.get(k));
                prop_assert_eq!(ours.contains_key(k), theirs.contains_key(k));
            }
            for (k, &slot) in &slots {
                prop_assert_eq!(ours.id_in(slot), theirs.get(k).map(|v| (k.as_str(), v)));
            }
            prop_assert_eq!(ours.id_in(slots.len() as u32), None);
        }
        Ok(())
    }

    proptest! {
        /// Behaves exactly as a `HashMap<String, u32>`.
        #[test]
        fn same_as_a_hash_map(ops in proptest::collection::vec(op(), 0..200)) {
            check(ops, false, (0, 0))?;
        }

        /// Whatever room was reserved beforehand.
        #[test]
        fn same_as_a_hash_map_with_room_reserved(ops in proptest::collection::vec(op(), 0..200), ids in 0usize..300, bytes in 0usize..900) {
            check(ops, false, (ids, bytes))?;
        }

        /// And so it does when every id has the same hash.
        #[test]
        fn same_as_a_hash_map_when_all_hashes_collide(ops in proptest::collection::vec(op(), 0..200)) {
            check(ops, true, (0, 0))?;
        }
    }
}
