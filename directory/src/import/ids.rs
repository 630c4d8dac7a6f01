//! The sourcedIds (and usernames) of a roster, held compactly: a board of a million pupils has
//! three million of them, and as one owned `String` each in a hash map they took most of an
//! import's memory. Here they are one text arena and a table of 12-byte entries.

use std::hash::BuildHasher;

use hashbrown::{HashTable, hash_table};
use rustc_hash::FxBuildHasher;

/// Where a sourcedId was first seen, and whether its row is active.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The row is not `tobedeleted`.
    pub active: bool,
    /// Its line in the file.
    pub line: u32,
}

/// Flag in [`Entry::len`] for a row that is `tobedeleted`.
const INACTIVE: u32 = 1 << 31;

#[derive(Clone, Copy)]
struct Entry {
    start: u32,
    /// Length in bytes, with [`INACTIVE`] set for rows that are `tobedeleted`.
    len: u32,
    line: u32,
}

/// A set of ids with the line each was first seen on.
#[derive(Default)]
pub struct IdSet {
    text: String,
    table: HashTable<Entry>,
}

/// Why an id was not added.
#[derive(Debug, PartialEq, Eq)]
pub enum NotAdded {
    /// It is there already, first seen as this.
    Duplicate(Seen),
    /// The set's text would pass 2 GiB.
    Full,
}

impl Entry {
    /// The id, in the set's text.
    fn text<'a>(&self, text: &'a str) -> &'a str {
        let start = self.start as usize;
        &text[start..start + (self.len & !INACTIVE) as usize]
    }

    fn seen(&self) -> Seen {
        Seen {
            active: self.len & INACTIVE == 0,
            line: self.line,
        }
    }
}

impl IdSet {
    fn find(&self, id: &str) -> Option<&Entry> {
        let hash = FxBuildHasher.hash_one(id);
        self.table.find(hash, |entry| entry.text(&self.text) == id)
    }

    /// Adds `id`, unless it is there already (one hash and one probe either way).
    pub fn insert(&mut self, id: &str, seen: Seen) -> Result<(), NotAdded> {
        let text = &self.text;
        let slot = match self.table.entry(
            FxBuildHasher.hash_one(id),
            |entry| entry.text(text) == id,
            |entry| FxBuildHasher.hash_one(entry.text(text)),
        ) {
            hash_table::Entry::Occupied(first) => {
                return Err(NotAdded::Duplicate(first.get().seen()));
            }
            hash_table::Entry::Vacant(slot) => slot,
        };
        let start = u32::try_from(self.text.len())
            .ok()
            .filter(|start| {
                start
                    .checked_add(id.len() as u32)
                    .is_some_and(|end| end < INACTIVE)
            })
            .ok_or(NotAdded::Full)?;
        self.text.push_str(id);
        slot.insert(Entry {
            start,
            len: id.len() as u32 | if seen.active { 0 } else { INACTIVE },
            line: seen.line,
        });
        Ok(())
    }

    /// Where `id` was first seen, if it is in the set.
    pub fn get(&self, id: &str) -> Option<Seen> {
        self.find(id).map(Entry::seen)
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: &str) -> bool {
        self.find(id).is_some()
    }

    /// How many ids the set holds.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_ids_with_their_first_line_and_state() {
        let mut set = IdSet::default();
        for i in 0..10_000u32 {
            let seen = Seen {
                active: i % 3 != 0,
                line: i + 2,
            };
            assert_eq!(set.insert(&format!("st{i}"), seen), Ok(()));
        }
        assert_eq!(set.len(), 10_000);
        assert_eq!(
            set.get("st42"),
            Some(Seen {
                active: false,
                line: 44
            })
        );
        assert_eq!(
            set.get("st43"),
            Some(Seen {
                active: true,
                line: 45
            })
        );
        assert!(set.contains("st9999") && !set.contains("st10000") && !set.contains("st"));
        assert_eq!(
            set.insert(
                "st7",
                Seen {
                    active: true,
                    line: 99_999
                }
            ),
            Err(NotAdded::Duplicate(Seen {
                active: true,
                line: 9
            }))
        );
        assert_eq!(set.len(), 10_000);
    }

    #[test]
    fn empty_and_unicode_ids() {
        let mut set = IdSet::default();
        assert!(set.is_empty() && set.get("x").is_none());
        let seen = Seen {
            active: true,
            line: 2,
        };
        set.insert("生徒-001", seen).unwrap();
        set.insert("生徒-0010", seen).unwrap();
        assert!(set.contains("生徒-001") && set.contains("生徒-0010") && !set.contains("生徒-00"));
    }
}
