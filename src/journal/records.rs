//! A directory of small JSON records in the state directory, one per
//! journal key (`DIR/KEY.json`): written durably, mode 0600, an unreadable
//! one set aside as `*.corrupt`. The pending retirements (`retiring/`) and
//! the owed hooks (`hooks/`) are two of them: each record type says where
//! its directory is and how its errors name it ([`Record`]).

use std::collections::HashSet;
use std::fs::{self, DirBuilder, File};
use std::io;
use std::marker::PhantomData;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Journal, write_durably};
use crate::policy::Credential;

/// A type kept as records in a directory of its own.
pub trait Record: Serialize + DeserializeOwned {
    /// Its directory, and how errors name it.
    const KIND: RecordKind;
}

/// What a directory's records are, for its errors.
#[derive(Debug, Clone, Copy)]
pub struct RecordKind {
    /// The directory under the state directory.
    pub dir: &'static str,
    /// What a record is called: "retirement record".
    pub what: &'static str,
    /// What an operator should know when one is unreadable.
    pub if_corrupt: &'static str,
}

/// What went wrong with one record.
#[derive(Debug, thiserror::Error)]
pub enum RecordFileError {
    #[error("cannot write the {} {}: {source}", kind.what, path.display())]
    Write {
        kind: RecordKind,
        path: PathBuf,
        source: io::Error,
    },
    #[error("cannot read the {} {}: {source}", kind.what, path.display())]
    Read {
        kind: RecordKind,
        path: PathBuf,
        source: io::Error,
    },
    /// Not the record's JSON: moved to `aside`.
    #[error("unreadable {} {} (moved to {}): {source}; {}", kind.what, path.display(), aside.display(), kind.if_corrupt)]
    Corrupt {
        kind: RecordKind,
        path: PathBuf,
        aside: PathBuf,
        source: serde_json::Error,
    },
}

/// One `DIR/` of `T` records under a state directory.
#[derive(Debug)]
pub struct RecordDir<T> {
    dir: PathBuf,
    records: PhantomData<fn() -> T>,
}

impl<T> Clone for RecordDir<T> {
    fn clone(&self) -> Self {
        RecordDir {
            dir: self.dir.clone(),
            records: PhantomData,
        }
    }
}

impl<T: Record> RecordDir<T> {
    /// `state_dir/DIR` (made on the first write).
    pub fn at(state_dir: &Path) -> RecordDir<T> {
        RecordDir {
            dir: state_dir.join(T::KIND.dir),
            records: PhantomData,
        }
    }

    /// The records beside `journal` (the directory is made on first write).
    pub fn of(journal: &Journal) -> RecordDir<T> {
        RecordDir::at(journal.state_dir())
    }

    /// The record under `key`; an unreadable one is set aside as
    /// `*.corrupt` (and so reported once).
    pub fn get(&self, key: &str) -> Result<Option<T>, RecordFileError> {
        let path = self.path(key);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(RecordFileError::Read {
                    kind: T::KIND,
                    path,
                    source,
                });
            }
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|source| {
            let aside = path.with_extension("corrupt");
            let _ = fs::rename(&path, &aside);
            RecordFileError::Corrupt {
                kind: T::KIND,
                path,
                aside,
                source,
            }
        })
    }

    /// Records (or replaces) `record` under `key`, durably.
    pub fn put(&self, key: &str, record: &T) -> Result<(), RecordFileError> {
        let path = self.path(key);
        let write = || -> io::Result<()> {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)?;
            let bytes = serde_json::to_vec(record).map_err(io::Error::other)?;
            write_durably(&path, &bytes)
        };
        write().map_err(|source| RecordFileError::Write {
            kind: T::KIND,
            path,
            source,
        })
    }

    /// Removes the record under `key`, durably (nothing to do when absent).
    pub fn remove(&self, key: &str) -> Result<(), RecordFileError> {
        let path = self.path(key);
        let remove = || -> io::Result<()> {
            match fs::remove_file(&path) {
                Ok(()) => File::open(&self.dir)?.sync_all(),
                Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(err) => Err(err),
            }
        };
        remove().map_err(|source| RecordFileError::Write {
            kind: T::KIND,
            path,
            source,
        })
    }

    /// The keys of every record, sorted (none when the directory is missing).
    pub fn keys(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut keys: Vec<String> = entries
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                name.strip_suffix(".json").map(str::to_owned)
            })
            .collect();
        keys.sort();
        keys
    }

    /// The records that `credentials` claim, each with its credential: one
    /// listing of the directory, then one read per record claimed (none at
    /// all without records: a failed `open` per credential would cost as
    /// much as the fleet is large).
    pub fn claimed<'c>(
        &self,
        journal: &Journal,
        credentials: impl IntoIterator<Item = &'c Credential>,
    ) -> Vec<(&'c Credential, Result<T, RecordFileError>)> {
        let keys: HashSet<String> = self.keys().into_iter().collect();
        if keys.is_empty() {
            return Vec::new();
        }
        credentials
            .into_iter()
            .filter_map(|credential| {
                let key = journal.key(credential);
                if !keys.contains(&key) {
                    return None;
                }
                Some((credential, self.get(&key).transpose()?))
            })
            .collect()
    }

    /// The records no credential of `credentials` claims (removed from the
    /// policy, or in another AWS scope; see [`Journal::claims`]), each with
    /// its file: nobody will act on them, so an operator must be told.
    pub fn unclaimed(
        &self,
        journal: &Journal,
        credentials: &[Credential],
    ) -> Vec<(PathBuf, Result<T, RecordFileError>)> {
        let keys = self.keys();
        if keys.is_empty() {
            return Vec::new();
        }
        let claims = journal.claims(credentials);
        keys.into_iter()
            .filter(|key| !claims.contains_key(key))
            .filter_map(|key| {
                let read = self.get(&key).transpose()?;
                Some((self.path(&key), read))
            })
            .collect()
    }

    /// The file of the record under `key`.
    pub fn path(&self, key: &str) -> PathBuf {
        // Keys are a credential name ([a-zA-Z0-9_.-]+) and hex: they stay inside.
        self.dir.join(format!("{key}.json"))
    }
}
