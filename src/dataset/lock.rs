//! The commit lock of one run: a directory created with `mkdir`, so that writers on
//! different machines sharing the dataset over NFS or Lustre serialise their commits.
//!
//! ```text
//! <root>/.runs/<key>/lock/          exists ⇔ held
//! <root>/.runs/<key>/lock/owner     "<host>\n<pid>\n<token>\n" of the holder
//! ```
//!
//! Taking it: a writer makes `lock.take-<token>/owner` and renames that directory to
//! `lock` (atomic on the server; it fails while `lock` exists and holds its owner
//! file), so a lock never exists without its owner, whenever the writer is killed.
//!
//! Invariants:
//! - only the process whose rename succeeded holds the lock; it removes the directory
//!   when [`CommitLock`] is dropped; a writer killed before its rename leaves only a
//!   `lock.take-…` directory, which the next taker removes once a minute old;
//! - a lock is stale, and may be broken, when its holder is gone: same host and no
//!   process with its pid, or another host and the owner file untouched for
//!   [`STALE_AFTER`] (a commit holds the lock for the milliseconds-to-seconds it takes
//!   to link a run's files, never that long), or no owner file for [`OWNERLESS_GRACE`];
//! - a breaker renames the lock away before removing it, and puts it back if what it
//!   renamed is not the lock it judged stale; the holder checks that the lock is still
//!   its own ([`CommitLock::still_held`]) just before the commit point, so a lock broken
//!   under a live holder makes that holder fail instead of publishing.
//!
//! Flock is not used: on Lustre it needs the `flock` mount option, and NFS clients
//! emulate it with byte-range locks whose recovery after a client crash varies.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, Result};

/// An owner file untouched this long on another host marks a dead holder.
pub const STALE_AFTER: Duration = Duration::from_secs(600);

/// A lock directory without its owner file this long is a holder killed between
/// `mkdir` and writing the owner (a window of microseconds).
const OWNERLESS_GRACE: Duration = Duration::from_secs(60);

/// How long a writer waits quietly before saying whom it waits for.
const WAIT_TELL: Duration = Duration::from_secs(2);

/// How long a writer waits for a live holder before giving up.
const WAIT_LIMIT: Duration = Duration::from_secs(1800);

/// The held lock; dropping it releases the lock.
pub struct CommitLock {
    dir: PathBuf,
    token: String,
}

/// Who holds (or held) a lock, from its owner file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub host: String,
    pub pid: u32,
    pub token: String,
}

impl Owner {
    /// This process, with a token unique to this acquisition.
    pub fn me() -> Owner {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let pid = std::process::id();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Owner {
            host: hostname(),
            pid,
            token: format!("{}-{pid}-{nanos}-{n}", hostname()),
        }
    }

    fn render(&self) -> String {
        format!("{}\n{}\n{}\n", self.host, self.pid, self.token)
    }

    fn parse(text: &str) -> Option<Owner> {
        let mut lines = text.lines();
        let host = lines.next()?.to_string();
        let pid = lines.next()?.parse().ok()?;
        let token = lines.next()?.to_string();
        Some(Owner { host, pid, token })
    }
}

impl CommitLock {
    /// Takes the lock at `dir`, waiting while a live writer holds it and breaking a
    /// stale one.
    pub fn acquire(dir: &Path) -> Result<CommitLock> {
        let me = Owner::me();
        let started = Instant::now();
        let mut pause = Duration::from_millis(5);
        let mut told = false;
        sweep_takes(dir);
        let mut take = taking_dir(dir, &me)?;
        loop {
            match std::fs::rename(&take, dir) {
                Ok(()) => {
                    return Ok(CommitLock {
                        dir: dir.to_path_buf(),
                        token: me.token,
                    });
                }
                // `lock` exists (ENOTEMPTY / EEXIST): someone holds it. A wait of
                // over a minute may have seen our own `take` swept: make it again.
                Err(_) if dir.exists() => {
                    if !take.join("owner").exists() {
                        take = taking_dir(dir, &me)?;
                    }
                }
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&take);
                    return Err(Error::io(dir, e));
                }
            }
            let holder = read_owner(dir);
            if is_stale(dir, holder.as_ref()) {
                break_lock(dir, holder.as_ref(), &me);
                continue;
            }
            if !told && started.elapsed() > WAIT_TELL {
                crate::say!(
                    "waiting for the commit lock {} held by {} …",
                    dir.display(),
                    describe(holder.as_ref())
                );
                told = true;
            }
            if started.elapsed() > WAIT_LIMIT {
                let _ = std::fs::remove_dir_all(&take);
                return Err(Error::Usage(format!(
                    "{}: waited {} s for the commit lock held by {}; if that writer is gone, \
                     remove the directory and retry",
                    dir.display(),
                    started.elapsed().as_secs(),
                    describe(holder.as_ref())
                )));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// True while the lock directory still names this holder.
    pub fn still_held(&self) -> bool {
        read_owner(&self.dir).is_some_and(|o| o.token == self.token)
    }

    /// The error of a commit whose lock was broken under it.
    pub fn lost(&self) -> Error {
        Error::Usage(format!(
            "{}: the commit lock was broken while this writer held it (judged stale); \
             nothing was published, run the ingest again",
            self.dir.display()
        ))
    }
}

impl Drop for CommitLock {
    fn drop(&mut self) {
        if self.still_held() {
            let _ = std::fs::remove_file(self.dir.join("owner"));
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

/// `lock.take-<token>/owner`, ready to be renamed to `lock`.
fn taking_dir(dir: &Path, me: &Owner) -> Result<PathBuf> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let take = dir.with_file_name(format!("{name}.take-{}", me.token));
    let _ = std::fs::remove_dir_all(&take);
    std::fs::create_dir(&take).map_err(|e| Error::io(&take, e))?;
    let owner = take.join("owner");
    if let Err(e) = write_owner(&owner, me) {
        let _ = std::fs::remove_dir_all(&take);
        return Err(Error::io(&owner, e));
    }
    Ok(take)
}

/// Removes `lock.take-…` directories a minute old (writers killed before their
/// rename).
fn sweep_takes(dir: &Path) {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return;
    };
    let prefix = format!("{}.take-", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > OWNERLESS_GRACE);
        if old && entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn write_owner(path: &Path, owner: &Owner) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    file.write_all(owner.render().as_bytes())?;
    file.sync_all()
}

fn read_owner(dir: &Path) -> Option<Owner> {
    let text = std::fs::read_to_string(dir.join("owner")).ok()?;
    Owner::parse(&text)
}

fn describe(owner: Option<&Owner>) -> String {
    owner.map_or_else(
        || "a writer that has not written its owner file yet".to_string(),
        |o| format!("pid {} on host {}", o.pid, o.host),
    )
}

/// The stale rule of the module docs.
fn is_stale(dir: &Path, holder: Option<&Owner>) -> bool {
    let age_of = |path: &Path| {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
    };
    match holder {
        Some(owner) if owner.host == hostname() => {
            !Path::new("/proc").join(owner.pid.to_string()).exists()
        }
        Some(_) => age_of(&dir.join("owner")).is_some_and(|age| age > STALE_AFTER),
        None => age_of(dir).is_some_and(|age| age > OWNERLESS_GRACE),
    }
}

/// Renames the stale lock away (only one breaker's rename succeeds), checks it is
/// the one judged stale, and removes it; best effort, the caller retries `mkdir`.
fn break_lock(dir: &Path, judged: Option<&Owner>, me: &Owner) {
    let Some(name) = dir.file_name() else {
        return;
    };
    let aside = dir.with_file_name(format!("{}.broken-{}", name.to_string_lossy(), me.token));
    if std::fs::rename(dir, &aside).is_err() {
        return;
    }
    if read_owner(&aside).as_ref() != judged {
        // Someone else broke it first and a live writer took it since: give it back.
        let _ = std::fs::rename(&aside, dir);
        return;
    }
    let _ = std::fs::remove_dir_all(&aside);
}

/// This machine's name (the owner of a lock on a shared filesystem).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[test]
    fn a_second_taker_waits_until_the_first_releases() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("lock");
        let first = CommitLock::acquire(&dir).unwrap();
        assert!(first.still_held());
        let released = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = released.clone();
        let waiter = std::thread::spawn(move || {
            let second = CommitLock::acquire(&dir).unwrap();
            assert!(flag.load(std::sync::atomic::Ordering::SeqCst));
            second.still_held()
        });
        std::thread::sleep(Duration::from_millis(100));
        released.store(true, std::sync::atomic::Ordering::SeqCst);
        drop(first);
        assert!(waiter.join().unwrap());
    }

    #[test]
    fn a_lock_of_a_dead_process_on_this_host_is_broken() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("lock");
        std::fs::create_dir(&dir).unwrap();
        let dead = Owner {
            host: hostname(),
            pid: dead_pid(),
            token: "dead".into(),
        };
        std::fs::write(dir.join("owner"), dead.render()).unwrap();
        let lock = CommitLock::acquire(&dir).unwrap();
        assert!(lock.still_held());
        let leftovers: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "the broken lock is removed");
    }

    #[test]
    fn a_live_or_recent_holder_is_not_stale() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("lock");
        std::fs::create_dir(&dir).unwrap();
        let live = Owner {
            host: hostname(),
            pid: std::process::id(),
            token: "t".into(),
        };
        assert!(!is_stale(&dir, Some(&live)));
        let remote = Owner {
            host: format!("{}-elsewhere", hostname()),
            pid: dead_pid(),
            token: "t".into(),
        };
        std::fs::write(dir.join("owner"), remote.render()).unwrap();
        assert!(!is_stale(&dir, Some(&remote)), "another host: by age only");
        assert!(!is_stale(&dir, None), "a fresh directory without owner");
    }

    #[test]
    fn a_broken_lock_is_noticed_by_its_holder() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("lock");
        let lock = CommitLock::acquire(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let other = CommitLock::acquire(&dir).unwrap();
        assert!(!lock.still_held() && other.still_held());
        drop(lock);
        assert!(
            other.still_held(),
            "the old holder does not release the new lock"
        );
    }
}
