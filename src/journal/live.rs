//! This process's intent log, `in-flight/PID-NONCE.log`: a rotation appends its intent and
//! waits for one `fdatasync` that covers every intent appended before it (group commit, so
//! N concurrent rotations cost one disk flush, not N file creations and fsyncs); a settled
//! rotation appends a line that clears it. The process holds a lock on its log for its
//! lifetime: a log nobody holds belongs to a process that died, and is absorbed into
//! per-credential entries (`in-flight/KEY.json`) by the next rekeyd that looks.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::Intent;

/// A log holding no live intent is emptied once it grows past this.
const TRUNCATE_AT: u64 = 1 << 20;

/// One line of a log.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line {
    Intent { key: String, intent: Intent },
    Clear { key: String, rotation: String },
}

/// What a dead process's log held: its live intents by key, and what in it was unreadable.
#[derive(Debug, Default)]
pub(crate) struct DeadLog {
    pub(crate) live: HashMap<String, Intent>,
    pub(crate) corrupt: Option<String>,
}

#[derive(Debug)]
pub(crate) struct LiveLog {
    dir: PathBuf,
    truncate_at: u64,
    state: Mutex<State>,
    committed: Notify,
}

#[derive(Debug, Default)]
struct State {
    /// Created at the first record.
    file: Option<OpenLog>,
    /// Logs given up after a failed `fdatasync` (still held, so nobody absorbs them while
    /// this process lives).
    abandoned: Vec<OpenLog>,
    /// Durable intents not cleared yet, by key.
    live: HashMap<String, Intent>,
    /// Lines appended so far (each append's ticket)...
    appended: u64,
    /// ...every one up to this is durable, except those in `lost`: the
    /// tickets (from, to] of a log given up after a failed `fdatasync`.
    durable: u64,
    lost: Vec<(u64, u64)>,
    failure: Option<String>,
    syncing: bool,
    /// Intents appended and not yet known durable (or failed).
    uncommitted: usize,
    /// `fdatasync` calls made (for tests).
    syncs: u64,
}

#[derive(Debug)]
struct OpenLog {
    path: PathBuf,
    file: Arc<File>,
    size: u64,
}

impl LiveLog {
    pub(crate) fn new(dir: PathBuf) -> LiveLog {
        LiveLog {
            dir,
            truncate_at: TRUNCATE_AT,
            state: Mutex::default(),
            committed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The durable, uncleared intent of `key` this process recorded, if any.
    pub(crate) fn live(&self, key: &str) -> Option<Intent> {
        self.lock().live.get(key).cloned()
    }

    /// Whether `path` is one of this process's logs.
    pub(crate) fn owns(&self, path: &Path) -> bool {
        let state = self.lock();
        state
            .file
            .iter()
            .chain(&state.abandoned)
            .any(|log| log.path == path)
    }

    /// Appends `intent` and returns once it is durable (one `fdatasync` serves every
    /// intent appended before it starts).
    pub(crate) async fn record(&self, key: &str, intent: &Intent) -> io::Result<()> {
        let (ticket, _uncommitted) = self.append_intent(key, intent)?;
        self.commit(ticket).await?;
        self.lock().live.insert(key.to_owned(), intent.clone());
        Ok(())
    }

    /// [`LiveLog::record`] for callers outside a runtime: its own `fdatasync`.
    pub(crate) fn record_blocking(&self, key: &str, intent: &Intent) -> io::Result<()> {
        let (ticket, _uncommitted) = self.append_intent(key, intent)?;
        let file = self.current_file()?;
        // Covers every line appended to the file before it, this one included.
        let synced = file.sync_data();
        let mut state = self.lock();
        match synced {
            Ok(()) => state.durable = state.durable.max(ticket),
            Err(err) => {
                state.give_up(&err);
                return Err(err);
            }
        }
        state.live.insert(key.to_owned(), intent.clone());
        Ok(())
    }

    /// Appends an intent line; its ticket, and a guard counting it as uncommitted until
    /// dropped (so the log is neither emptied nor removed under it).
    fn append_intent(&self, key: &str, intent: &Intent) -> io::Result<(u64, Uncommitted<'_>)> {
        let line = Line::Intent {
            key: key.to_owned(),
            intent: intent.clone(),
        };
        self.lock().uncommitted += 1;
        let uncommitted = Uncommitted(self);
        Ok((self.append(&line)?, uncommitted))
    }

    /// Appends a line (one `write`, to this process's log) and returns its ticket.
    fn append(&self, line: &Line) -> io::Result<u64> {
        let mut bytes = serde_json::to_vec(line).map_err(io::Error::other)?;
        bytes.push(b'\n');
        let mut state = self.lock();
        if state.file.is_none() {
            state.file = Some(self.create()?);
        }
        let log = state.file.as_mut().expect("created above");
        (&*log.file).write_all(&bytes)?;
        log.size += bytes.len() as u64;
        state.appended += 1;
        Ok(state.appended)
    }

    fn current_file(&self) -> io::Result<Arc<File>> {
        self.lock()
            .file
            .as_ref()
            .map(|log| Arc::clone(&log.file))
            .ok_or_else(given_up)
    }

    /// A new log, locked for this process's lifetime, its directory entry durable.
    fn create(&self) -> io::Result<OpenLog> {
        let path = self.dir.join(format!(
            "{}-{}.log",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .read(true)
            .mode(0o600)
            .open(&path)?;
        file.try_lock().map_err(|err| match err {
            fs::TryLockError::WouldBlock => io::Error::other("a new log is locked already"),
            fs::TryLockError::Error(err) => err,
        })?;
        File::open(&self.dir)?.sync_all()?;
        Ok(OpenLog {
            path,
            file: Arc::new(file),
            size: 0,
        })
    }

    /// Waits until the line of `ticket` is durable: the first waiter while no `fdatasync`
    /// runs leads one, covering every line appended until then; the others wait for it.
    async fn commit(&self, ticket: u64) -> io::Result<()> {
        loop {
            let committed = self.committed.notified();
            let mut committed = std::pin::pin!(committed);
            committed.as_mut().enable();
            let file = {
                let mut state = self.lock();
                if state.is_lost(ticket) {
                    return Err(io::Error::other(state.failure.clone().unwrap_or_default()));
                }
                if state.durable >= ticket {
                    return Ok(());
                }
                if state.syncing {
                    None
                } else {
                    state.syncing = true;
                    let covers = state.appended;
                    let file = state.file.as_ref().map(|log| Arc::clone(&log.file));
                    Some((covers, file))
                }
            };
            match file {
                Some((covers, file)) => {
                    let synced = match file {
                        Some(file) => blocking(move || file.sync_data()).await,
                        None => Err(given_up()),
                    };
                    self.settle_sync(covers, &synced);
                    self.committed.notify_waiters();
                }
                None => committed.await,
            }
        }
    }

    /// Notes the outcome of an `fdatasync` covering lines up to `covers`. After a failure
    /// the log is given up (what the kernel did with its unsynced pages is unknown): the
    /// lines it covered fail and the next append starts a new log.
    fn settle_sync(&self, covers: u64, synced: &io::Result<()>) {
        let mut state = self.lock();
        state.syncing = false;
        state.syncs += 1;
        match synced {
            Ok(()) => state.durable = state.durable.max(covers),
            Err(err) => state.give_up(err),
        }
    }

    /// Clears `key`'s intent: a line, not synced (a clear lost to a power cut only makes
    /// the next start redo a rotation that had finished, as after a crash between the store
    /// and the clear). Empties the log when it holds nothing live and has grown large.
    pub(crate) fn clear(&self, key: &str) -> io::Result<()> {
        let Some(intent) = self.lock().live.remove(key) else {
            return Ok(());
        };
        let line = Line::Clear {
            key: key.to_owned(),
            rotation: intent.rotation,
        };
        let appended = self.append(&line);
        let mut state = self.lock();
        let quiet = state.live.is_empty() && state.uncommitted == 0 && !state.syncing;
        if let Some(log) = state
            .file
            .as_mut()
            .filter(|log| quiet && log.size > self.truncate_at)
        {
            log.file.set_len(0)?;
            log.size = 0;
        }
        appended.map(drop)
    }

    #[cfg(test)]
    pub(crate) fn syncs(&self) -> u64 {
        self.lock().syncs
    }

    #[cfg(test)]
    pub(crate) fn path(&self) -> Option<PathBuf> {
        self.lock().file.as_ref().map(|log| log.path.clone())
    }
}

impl Drop for LiveLog {
    /// A log holding nothing live is removed; one still holding intents (rotations cut off
    /// by the end of the process) stays, for the next start to find them in doubt.
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if state.live.is_empty() && state.uncommitted == 0 {
            for log in state.file.iter().chain(&state.abandoned) {
                let _ = fs::remove_file(&log.path);
            }
        }
    }
}

impl State {
    /// After a failed `fdatasync`: every line appended to the log so far and
    /// not known durable is lost (what the kernel kept of the unsynced pages
    /// is unknown), and the log is given up; the next append starts a new one.
    fn give_up(&mut self, err: &io::Error) {
        self.lost.push((self.durable, self.appended));
        self.failure = Some(format!("fdatasync of the intent log failed: {err}"));
        if let Some(log) = self.file.take() {
            self.abandoned.push(log);
        }
    }

    fn is_lost(&self, ticket: u64) -> bool {
        self.lost
            .iter()
            .any(|&(from, to)| from < ticket && ticket <= to)
    }
}

/// Why a line could not go to a log: none is open after a failed `fdatasync`.
fn given_up() -> io::Error {
    io::Error::other("the intent log was given up")
}

/// Runs `work` on tokio's blocking threads (inline outside a runtime).
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime
            .spawn_blocking(work)
            .await
            .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic())),
        Err(_) => work(),
    }
}

/// Counts an appended intent as uncommitted while it lives.
struct Uncommitted<'a>(&'a LiveLog);

impl Drop for Uncommitted<'_> {
    fn drop(&mut self) {
        self.0.lock().uncommitted -= 1;
    }
}

/// Reads the log at `path` if its process is dead, holding its lock (the returned file)
/// until the caller has saved what it held; `None` while its process lives or once it is
/// gone (another process absorbed it).
pub(crate) fn take_dead(path: &Path) -> io::Result<Option<(File, DeadLog)>> {
    let file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => return Ok(None),
        Err(fs::TryLockError::Error(err)) => return Err(err),
    }
    if file.metadata()?.nlink() == 0 {
        return Ok(None);
    }
    let bytes = fs::read(path)?;
    Ok(Some((file, parse(path, &bytes))))
}

/// The live intents of a log's bytes: the last line of each key wins. A torn last line
/// (a write cut off before it was acknowledged) is ignored; an unreadable line followed by
/// good ones is reported.
fn parse(path: &Path, bytes: &[u8]) -> DeadLog {
    let mut dead = DeadLog::default();
    let mut unreadable = None;
    for (number, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        if raw.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Line>(raw) {
            Ok(line) => {
                if let Some((at, err)) = unreadable.take() {
                    dead.corrupt = Some(format!("{}: line {at}: {err}", path.display()));
                }
                match line {
                    Line::Intent { key, intent } => {
                        dead.live.insert(key, intent);
                    }
                    Line::Clear { key, rotation } => {
                        if dead.live.get(&key).is_some_and(|i| i.rotation == rotation) {
                            dead.live.remove(&key);
                        }
                    }
                }
            }
            Err(err) => {
                unreadable.get_or_insert((number + 1, err));
            }
        }
    }
    dead
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(rotation: &str) -> Intent {
        Intent {
            credential: "a".into(),
            kind: "chime_bot".into(),
            rotation: rotation.into(),
            started_at: "2026-11-23T10:00:00Z".parse().unwrap(),
            pid: 42,
            issued_credential_id: None,
            replaces: None,
        }
    }

    fn line(line: &Line) -> String {
        serde_json::to_string(line).unwrap() + "\n"
    }

    #[test]
    fn the_last_line_of_a_key_wins_and_a_torn_tail_is_ignored() {
        let mut text = String::new();
        for (key, rotation) in [("a", "1"), ("b", "2"), ("a", "3")] {
            text += &line(&Line::Intent {
                key: key.into(),
                intent: intent(rotation),
            });
        }
        text += &line(&Line::Clear {
            key: "b".into(),
            rotation: "2".into(),
        });
        // A clear naming an older rotation does not clear the newer intent.
        text += &line(&Line::Clear {
            key: "a".into(),
            rotation: "1".into(),
        });
        text += r#"{"intent":{"key":"c","int"#;
        let dead = parse(Path::new("x.log"), text.as_bytes());
        assert_eq!(dead.live.len(), 1);
        assert_eq!(dead.live["a"].rotation, "3");
        assert_eq!(dead.corrupt, None);
    }

    #[test]
    fn a_grown_log_is_emptied_once_nothing_in_it_is_live() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LiveLog::new(dir.path().to_owned());
        log.truncate_at = 2000;
        log.record_blocking("held", &intent("0")).unwrap();
        for i in 1..20 {
            log.record_blocking("a", &intent(&i.to_string())).unwrap();
            log.clear("a").unwrap();
        }
        let path = log.path().unwrap();
        let grown = fs::metadata(&path).unwrap().len();
        assert!(grown > 2000, "{grown}: kept while `held` is live");
        log.clear("held").unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), 0);
        // And it goes on.
        log.record_blocking("a", &intent("21")).unwrap();
        let dead = parse(&path, &fs::read(&path).unwrap());
        assert_eq!(dead.live["a"].rotation, "21");
        drop(log);
        assert!(path.exists(), "a log holding a live intent stays");
    }

    #[tokio::test]
    async fn lines_of_a_log_whose_fdatasync_failed_never_count_as_durable() {
        let dir = tempfile::tempdir().unwrap();
        let log = LiveLog::new(dir.path().to_owned());
        let (lost, _a) = log.append_intent("a", &intent("1")).unwrap();
        let first = log.path().unwrap();
        log.settle_sync(lost, &Err(io::Error::other("EIO")));
        // A later line goes to a new log, and its fdatasync succeeds...
        let (kept, _b) = log.append_intent("b", &intent("2")).unwrap();
        assert_ne!(log.path().unwrap(), first);
        log.commit(kept).await.unwrap();
        // ...which says nothing of the line in the log given up.
        let err = log.commit(lost).await.unwrap_err();
        assert!(err.to_string().contains("EIO"), "{err}");
    }

    #[test]
    fn an_unreadable_line_before_good_ones_is_reported() {
        let text = "garbage\n".to_owned()
            + &line(&Line::Intent {
                key: "a".into(),
                intent: intent("1"),
            });
        let dead = parse(Path::new("x.log"), text.as_bytes());
        assert_eq!(dead.live.len(), 1);
        let corrupt = dead.corrupt.expect("reported");
        assert!(corrupt.contains("x.log: line 1"), "{corrupt}");
    }
}
