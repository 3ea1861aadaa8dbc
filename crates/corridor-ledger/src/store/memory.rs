//! A store held in memory: a log read from outside (an export, tiles)
//! checked with the same walk as a stored one ([`crate::verify::verify_log`]).

use std::collections::{BTreeMap, HashMap};

use super::{Store, StoreError, StoredCheckpoint, StoredEntry};

/// Entries, checkpoints and metadata in memory; nothing is durable.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    entries: Vec<StoredEntry>,
    checkpoints: BTreeMap<u64, String>,
    meta: HashMap<String, String>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl Store for MemoryStore {
    fn append(&mut self, entries: &[StoredEntry], checkpoint: Option<&StoredCheckpoint>) -> Result<(), StoreError> {
        for (k, e) in entries.iter().enumerate() {
            if e.index != (self.entries.len() + k) as u64 {
                return Err(StoreError::Corrupt(format!("entry {} does not continue the log of {} entries", e.index, self.entries.len() + k)));
            }
        }
        self.entries.extend_from_slice(entries);
        if let Some(c) = checkpoint {
            self.checkpoints.insert(c.size, c.note.clone());
        }
        Ok(())
    }

    fn len(&mut self) -> Result<u64, StoreError> {
        Ok(self.entries.len() as u64)
    }

    fn read(&mut self, start: u64, end: u64) -> Result<Vec<StoredEntry>, StoreError> {
        let end = (end as usize).min(self.entries.len());
        Ok(self.entries.get(start as usize..end).map(<[StoredEntry]>::to_vec).unwrap_or_default())
    }

    fn scan(&mut self, f: &mut dyn FnMut(StoredEntry) -> Result<(), StoreError>) -> Result<(), StoreError> {
        self.entries.iter().cloned().try_for_each(f)
    }

    fn latest_checkpoint(&mut self) -> Result<Option<StoredCheckpoint>, StoreError> {
        Ok(self.checkpoints.iter().next_back().map(|(&size, note)| StoredCheckpoint { size, note: note.clone() }))
    }

    fn checkpoints(&mut self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        Ok(self.checkpoints.iter().map(|(&size, note)| StoredCheckpoint { size, note: note.clone() }).collect())
    }

    fn get_meta(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.meta.get(key).cloned())
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.meta.insert(key.to_string(), value.to_string());
        Ok(())
    }
}
