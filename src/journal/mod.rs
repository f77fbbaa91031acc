//! The intent journal in the state directory: before a provider is asked for
//! a new secret, a durable record of the rotation (never the secret); cleared
//! once the secret is stored. What is still there at the next start is in
//! doubt and is rotated again at once. Also the per-credential lock that keeps
//! two rekeyd processes from rotating one credential at the same time.
//!
//! Rotations in flight are recorded in this process's log (see [`live`]); a
//! rotation that ends without its secret stored, and the log of a process that
//! died, become per-credential entries, `in-flight/KEY.json`, which every
//! process reads.

mod live;
pub mod records;

use std::collections::HashMap;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::policy::Credential;
use live::LiveLog;

/// Where the state directory is when neither the policy nor systemd says.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/rekeyd";

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot use state directory {}: {source} (set [daemon] state_dir or STATE_DIRECTORY)", path.display())]
    StateDir { path: PathBuf, source: io::Error },
    #[error("cannot write the journal entry {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot lock {}: {source}", path.display())]
    Lock { path: PathBuf, source: io::Error },
    #[error("credential {credential} is being rotated by another rekeyd process right now")]
    Busy { credential: String },
}

/// One rotation in progress, as written before the provider call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    pub credential: String,
    pub kind: String,
    /// Also the Secrets Manager `ClientRequestToken` of the rotation.
    pub rotation: String,
    pub started_at: DateTime<Utc>,
    pub pid: u32,
    /// IAM `overlap`: the credential created for this rotation, once known,
    /// so that a restart can delete it if its secret was lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_credential_id: Option<String>,
    /// IAM `overlap`: the credential the new one replaces (retired once the
    /// new secret is stored), so that a restart can retire it if the store
    /// succeeded but the process died before the retirement was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<Replaced>,
}

/// The IAM credential a rotation replaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replaced {
    pub user_name: String,
    pub credential_id: String,
}

/// What the journal held at start.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Each with its key (see [`Journal::key`]).
    pub in_doubt: Vec<(String, Intent)>,
    /// Entries that could not be read (set aside as `*.corrupt`), described.
    pub corrupt: Vec<String>,
}

/// The journal and locks under one state directory, for the credentials of
/// one AWS scope (the policy's `[aws]`): entries and locks are keyed by
/// credential name *and* a hash of its kind, secret and scope, so that two
/// policies sharing a state directory (or a name reused for another account)
/// never mistake each other's rotations.
#[derive(Debug, Clone)]
pub struct Journal {
    entries: PathBuf,
    locks: PathBuf,
    scope: String,
    /// This process's log of rotations in flight.
    live: Arc<LiveLog>,
}

/// A rotation's durable intent, until [`Recorded::clear`]. Dropped without
/// being cleared (the rotation failed or was cut off), the intent moves to
/// the credential's entry file, where every process sees it in doubt.
#[derive(Debug)]
#[must_use = "dropping it leaves the rotation in doubt"]
pub struct Recorded<'j> {
    journal: &'j Journal,
    key: String,
    cleared: bool,
}

/// Held while a credential rotates; released on drop (or process death).
#[derive(Debug)]
pub struct CredentialLock {
    _file: File,
}

impl Journal {
    /// The state directory: the policy's, else `$STATE_DIRECTORY` (systemd),
    /// else [`DEFAULT_STATE_DIR`], falling back to the user's state directory
    /// when that default is not writable.
    pub fn open(configured: Option<&Path>, scope: &str) -> Result<Journal, JournalError> {
        if let Some(path) = configured {
            return Journal::open_at(path, scope);
        }
        if let Some(systemd) = std::env::var_os("STATE_DIRECTORY") {
            // systemd may list several, separated by ':'; the first is ours.
            let first = systemd
                .to_string_lossy()
                .split(':')
                .next()
                .unwrap_or_default()
                .to_owned();
            return Journal::open_at(Path::new(&first), scope);
        }
        match Journal::open_at(Path::new(DEFAULT_STATE_DIR), scope) {
            Ok(journal) => Ok(journal),
            Err(err) => match user_state_dir() {
                Some(fallback) => {
                    warn!(error = %err, fallback = %fallback.display(), "using the user's state directory");
                    Journal::open_at(&fallback, scope)
                }
                None => Err(err),
            },
        }
    }

    /// The journal [`Journal::open`] would open, without creating or writing
    /// anything (for read-only commands); `None` when its directory does not
    /// exist.
    pub fn existing(configured: Option<&Path>, scope: &str) -> Option<Journal> {
        let state_dir = match (configured, std::env::var_os("STATE_DIRECTORY")) {
            (Some(path), _) => path.to_owned(),
            (None, Some(systemd)) => PathBuf::from(
                systemd
                    .to_string_lossy()
                    .split(':')
                    .next()
                    .unwrap_or_default(),
            ),
            (None, None) if Path::new(DEFAULT_STATE_DIR).is_dir() => DEFAULT_STATE_DIR.into(),
            (None, None) => user_state_dir()?,
        };
        state_dir.is_dir().then(|| Journal::at(&state_dir, scope))
    }

    /// The state directory this journal lives in.
    pub fn state_dir(&self) -> &Path {
        self.entries.parent().unwrap_or(&self.entries)
    }

    /// The same journal for another AWS scope (after a reload changed `[aws]`).
    pub fn with_scope(&self, scope: &str) -> Journal {
        Journal {
            scope: scope.to_owned(),
            ..self.clone()
        }
    }

    /// The key of a credential's entry and lock: its name (for people) and a
    /// hash of kind, secret and scope (for uniqueness).
    pub fn key(&self, credential: &Credential) -> String {
        let mut identity = format!(
            "{}\n{}\n{}",
            credential.kind(),
            credential.secret_name,
            self.scope
        );
        // The accounts it is rotated in (none: as before accounts existed,
        // so that entries of such credentials keep their keys).
        for account in [&credential.account, &credential.secret_account]
            .into_iter()
            .flatten()
        {
            identity.push_str(&format!("\n{}", account.role_arn));
        }
        format!("{}.{:016x}", credential.name, fnv1a(identity.as_bytes()))
    }

    /// The credentials of `credentials` by the key of their entries, locks
    /// and records, to find whose a key is (none: another policy's or AWS
    /// scope's, or one removed). Built once: a key per credential.
    pub fn claims<'c>(&self, credentials: &'c [Credential]) -> HashMap<String, &'c Credential> {
        credentials.iter().map(|c| (self.key(c), c)).collect()
    }

    /// Opens (creating, mode 0700) the journal under `state_dir`.
    pub fn open_at(state_dir: &Path, scope: &str) -> Result<Journal, JournalError> {
        let entries = state_dir.join("in-flight");
        let locks = state_dir.join("locks");
        for dir in [state_dir, &entries, &locks] {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|source| JournalError::StateDir {
                    path: dir.to_owned(),
                    source,
                })?;
        }
        // Fail now, not at the first rotation, when it is not writable.
        let probe = entries.join(".writable");
        File::create(&probe)
            .and_then(|_| fs::remove_file(&probe))
            .map_err(|source| JournalError::StateDir {
                path: entries.clone(),
                source,
            })?;
        Ok(Journal::at(state_dir, scope))
    }

    fn at(state_dir: &Path, scope: &str) -> Journal {
        let entries = state_dir.join("in-flight");
        Journal {
            live: Arc::new(LiveLog::new(entries.clone())),
            entries,
            locks: state_dir.join("locks"),
            scope: scope.to_owned(),
        }
    }

    /// Every rotation left in the journal by an earlier run.
    pub fn recover(&self) -> Recovered {
        let mut recovered = Recovered {
            corrupt: self.absorb_dead_logs(),
            ..Recovered::default()
        };
        let Ok(dir) = fs::read_dir(&self.entries) else {
            return recovered;
        };
        for entry in dir.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let key = path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default();
            match fs::read(&path).map(|bytes| serde_json::from_slice::<Intent>(&bytes)) {
                Ok(Ok(intent)) => recovered.in_doubt.push((key, intent)),
                Ok(Err(err)) => {
                    let aside = path.with_extension("corrupt");
                    let _ = fs::rename(&path, &aside);
                    recovered.corrupt.push(format!(
                        "{}: {err} (moved to {})",
                        path.display(),
                        aside.display()
                    ));
                }
                Err(err) => recovered.corrupt.push(format!("{}: {err}", path.display())),
            }
        }
        recovered.in_doubt.sort_by(|a, b| a.0.cmp(&b.0));
        recovered
    }

    /// Takes the credential's lock without waiting.
    pub fn lock(&self, credential: &Credential) -> Result<CredentialLock, JournalError> {
        let path = self.locks.join(format!("{}.lock", self.key(credential)));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| JournalError::Lock {
                path: path.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(CredentialLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(JournalError::Busy {
                credential: credential.name.to_string(),
            }),
            Err(fs::TryLockError::Error(source)) => Err(JournalError::Lock { path, source }),
        }
    }

    /// The intent an earlier, interrupted rotation of `credential` left: in
    /// this process's log (a rotation cut off), in the log of a process that
    /// died, or in its entry file.
    pub fn pending(&self, credential: &Credential) -> Option<Intent> {
        let key = self.key(credential);
        if let Some(intent) = self.live.live(&key) {
            return Some(intent);
        }
        for corrupt in self.absorb_dead_logs() {
            warn!(log = %corrupt, "unreadable lines in the intent log of a process that died");
        }
        self.read_entry(&key)
    }

    /// Records an intent durably, in this process's log, before the provider
    /// is asked; blocks until it is on disk.
    pub fn record(
        &self,
        credential: &Credential,
        intent: &Intent,
    ) -> Result<Recorded<'_>, JournalError> {
        let key = self.key(credential);
        let on_disk = self.live.record_blocking(&key, intent);
        self.recorded(key, on_disk)
    }

    /// [`Journal::record`] for async callers: it returns once the intent is
    /// durable, and one `fdatasync` serves every rotation recording at the
    /// same time (group commit).
    pub async fn record_async(
        &self,
        credential: &Credential,
        intent: &Intent,
    ) -> Result<Recorded<'_>, JournalError> {
        let key = self.key(credential);
        let on_disk = self.live.record(&key, intent).await;
        self.recorded(key, on_disk)
    }

    /// The guard of `key`'s intent, once `on_disk` says it was recorded.
    fn recorded(&self, key: String, on_disk: io::Result<()>) -> Result<Recorded<'_>, JournalError> {
        on_disk.map_err(|source| self.write_error(source))?;
        Ok(Recorded {
            journal: self,
            key,
            cleared: false,
        })
    }

    fn write_error(&self, source: io::Error) -> JournalError {
        JournalError::Write {
            path: self.entries.clone(),
            source,
        }
    }

    /// `credential`'s earlier rotation is settled: its secret is stored.
    pub fn clear(&self, credential: &Credential) -> Result<(), JournalError> {
        self.clear_key(&self.key(credential))
    }

    /// Clears the intent under `key` (as [`Recovered`] lists them): in this
    /// process's log and in its entry file.
    ///
    /// Neither is fsync'd: nothing depends on a clear being durable. A power
    /// loss (a process crash cannot) may bring the intent back, and the
    /// rotation it names is then redone at the next start, exactly as after
    /// a crash between the store and the clear, which recovery must handle
    /// anyway.
    pub fn clear_key(&self, key: &str) -> Result<(), JournalError> {
        let path = self.entry_path(key);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(JournalError::Write { path, source }),
        }
        self.live
            .clear(key)
            .map_err(|source| self.write_error(source))
    }

    /// Moves this process's live intent of `key` to its entry file (durably),
    /// where other processes see it.
    fn hand_over(&self, key: &str) -> io::Result<()> {
        if let Some(intent) = self.live.live(key) {
            self.write_entry(key, &intent)?;
            sync_dir(&self.entries)?;
            self.live.clear(key)?;
        }
        Ok(())
    }

    /// The intent in the entry under `key`, if it holds a readable one.
    fn read_entry(&self, key: &str) -> Option<Intent> {
        let bytes = fs::read(self.entry_path(key)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Writes `intent` as the entry under `key`; durable once the directory
    /// is synced.
    fn write_entry(&self, key: &str, intent: &Intent) -> io::Result<()> {
        let bytes = serde_json::to_vec(intent).map_err(io::Error::other)?;
        write_synced(&self.entry_path(key), &bytes)
    }

    /// Turns the logs of processes that died into entry files; what could not
    /// be read, described. Cheap when there are none: one directory listing.
    fn absorb_dead_logs(&self) -> Vec<String> {
        let mut corrupt = Vec::new();
        let foreign = |dir: fs::ReadDir| -> Vec<PathBuf> {
            dir.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "log") && !self.live.owns(p))
                .collect()
        };
        let Ok(dir) = fs::read_dir(&self.entries) else {
            return corrupt;
        };
        if foreign(dir).is_empty() {
            return corrupt;
        }
        // One absorber at a time: while it holds this, a log it has locked is
        // one it is absorbing, and the others wait for its entries.
        let absorbing = self.entries.join(".absorb.lock");
        let guard = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&absorbing)
            .and_then(|file| file.lock().map(|()| file));
        if let Err(err) = guard {
            corrupt.push(format!("{}: {err}", absorbing.display()));
            return corrupt;
        }
        let Ok(dir) = fs::read_dir(&self.entries) else {
            return corrupt;
        };
        for path in foreign(dir) {
            if let Err(err) = self.absorb(&path, &mut corrupt) {
                corrupt.push(format!("{}: {err}", path.display()));
            }
        }
        corrupt
    }

    /// Absorbs the log at `path` if its process is dead: each live intent into
    /// its entry file (unless that holds a later one), durably, then the log
    /// is removed (or set aside as `*.corrupt` when part of it was unreadable).
    fn absorb(&self, path: &Path, corrupt: &mut Vec<String>) -> io::Result<()> {
        let Some((_held, dead)) = live::take_dead(path)? else {
            return Ok(());
        };
        for (key, intent) in &dead.live {
            let newer = self
                .read_entry(key)
                .is_some_and(|held| held.started_at > intent.started_at);
            if !newer {
                self.write_entry(key, intent)?;
            }
        }
        sync_dir(&self.entries)?;
        match dead.corrupt {
            Some(what) => {
                let aside = path.with_extension("corrupt");
                fs::rename(path, &aside)?;
                corrupt.push(format!("{what} (moved to {})", aside.display()));
            }
            None => fs::remove_file(path)?,
        }
        Ok(())
    }

    fn entry_path(&self, key: &str) -> PathBuf {
        // Keys are a credential name ([a-zA-Z0-9_.-]+) and hex: they stay inside.
        self.entries.join(format!("{key}.json"))
    }
}

impl Recorded<'_> {
    /// Replaces the recorded intent (IAM: the new credential's id is known),
    /// durably.
    pub async fn update(&mut self, intent: &Intent) -> Result<(), JournalError> {
        self.journal
            .live
            .record(&self.key, intent)
            .await
            .map_err(|source| self.journal.write_error(source))
    }

    /// The rotation is settled: its secret is stored.
    pub fn clear(mut self) -> Result<(), JournalError> {
        self.cleared = true;
        self.journal.clear_key(&self.key)
    }
}

impl Drop for Recorded<'_> {
    fn drop(&mut self) {
        if self.cleared {
            return;
        }
        // Rare (a failed or cut-off rotation), so a blocking write is fine.
        if let Err(err) = self.journal.hand_over(&self.key) {
            // The intent stays in this process's log, which outlives the
            // process when it holds one: the next start still finds it.
            warn!(entry = %self.key, error = %err, "cannot move an in-doubt intent to its entry file");
        }
    }
}

/// Writes `bytes` to `path` (mode 0600) so that a crash at any instant
/// leaves the old file or the new one, never half: a temporary file, fsync'd,
/// renamed into place, and the directory fsync'd.
pub(crate) fn write_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_synced(path, bytes)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Makes the renames and unlinks done in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A temporary file beside `path`, fsync'd, renamed to `path`: the rename
/// is durable once the directory is fsync'd.
fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&temp, path)
}

/// FNV-1a, 64 bits: a hash that stays the same across Rust releases.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// `$XDG_STATE_HOME/rekeyd`, else `~/.local/state/rekeyd`.
fn user_state_dir() -> Option<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(xdg).join("rekeyd"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state/rekeyd"))
}

#[cfg(test)]
mod tests;
