//! The store: its directory layout, staged files, commits, metadata and removal.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ring::digest;
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::error::StoreError;
use crate::key::Key;

/// The most entries of the in-memory metadata cache (about 200 bytes each); when full it is
/// emptied and refilled from the sidecars.
const CACHE_ENTRIES: usize = 16_384;

/// Cleared the first time the kernel refuses `openat2(RESOLVE_CACHED)` (before Linux 5.12).
static OPEN_CACHED: AtomicBool = AtomicBool::new(true);

/// Files uploaded or made by the server, on disk under one directory.
///
/// The directory holds `data/` (the files, at their keys' paths), `meta/` (a small sidecar per
/// file with its SHA-256, at the same path) and `tmp/` (files being staged). Everything is
/// written to `tmp/` first and renamed into place, so a key never names a partial file; see
/// [`Staged`]. Cloning is cheap (the handle is shared).
///
/// Several processes may share one directory: temporary files are locked (`flock`) while they
/// are in use, and [`MediaStore::open`] removes only those no process holds (left by a crash).
#[derive(Clone)]
pub struct MediaStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    root: PathBuf,
    data: PathBuf,
    /// `data/`, open, for `openat2` from the serving path.
    data_dir: OwnedFd,
    meta: PathBuf,
    tmp: PathBuf,
    /// Metadata of files recently served, checked against the file's identity at each use.
    cache: Mutex<HashMap<Key, Cached>>,
}

#[derive(Clone, Copy)]
struct Cached {
    identity: Identity,
    sha256: Sha256,
}

/// What tells one version of a file from another without reading it: a rename keeps the
/// inode and the modification time, a new upload has a new inode.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

impl Identity {
    pub(crate) fn of(metadata: &fs::Metadata) -> Self {
        Self {
            dev: metadata.dev(),
            ino: metadata.ino(),
            size: metadata.size(),
            mtime_ns: i128::from(metadata.mtime()) * 1_000_000_000
                + i128::from(metadata.mtime_nsec()),
        }
    }
}

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    /// The digest's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest in lowercase hex (64 characters).
    pub fn to_hex(&self) -> String {
        self.to_string()
    }

    /// Parses 64 hex digits.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let hex = hex.as_bytes();
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
            let digit = |c: u8| (c as char).to_digit(16);
            let (Some(hi), Some(lo)) = (
                pair.first().copied().and_then(digit),
                pair.get(1).copied().and_then(digit),
            ) else {
                return None;
            };
            *byte = u8::try_from(hi * 16 + lo).ok()?;
        }
        Some(Self(out))
    }

    pub(crate) fn from_digest(digest: &digest::Digest) -> Self {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Self(out)
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

/// What the store knows of a stored file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metadata {
    /// Its length in bytes.
    pub size: u64,
    /// Its SHA-256 (from the sidecar written when it was stored, not recomputed).
    pub sha256: Sha256,
    /// When it was written.
    pub modified: SystemTime,
}

/// A body written to a temporary file of the store, complete and hashed, not yet under a key.
///
/// Inspect it through [`Staged::path`] (probe its format, make a thumbnail), then
/// [`Staged::commit`] it under a key, or drop it: the temporary file is removed.
#[must_use = "a Staged file is removed when dropped; commit it to keep it"]
pub struct Staged {
    store: MediaStore,
    /// `None` once committed.
    temp: Option<TempFile>,
    size: u64,
    sha256: Sha256,
}

impl fmt::Debug for Staged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Staged")
            .field("path", &self.temp.as_ref().map(|t| &t.path))
            .field("size", &self.size)
            .field("sha256", &self.sha256)
            .finish()
    }
}

impl Staged {
    pub(crate) fn new(store: MediaStore, temp: TempFile, size: u64, sha256: Sha256) -> Self {
        Self {
            store,
            temp: Some(temp),
            size,
            sha256,
        }
    }

    /// The temporary file, to read (not to move or change: the store commits it).
    pub fn path(&self) -> &Path {
        self.temp.as_ref().map_or(Path::new(""), |t| &t.path)
    }

    /// Its length in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Its SHA-256, computed as it was written.
    pub fn sha256(&self) -> Sha256 {
        self.sha256
    }

    /// Stores the file under `key`, replacing what was there: the file is synced to disk,
    /// its sidecar written, and it is renamed into place (atomically: a reader of the key
    /// sees the old file or the new one, never a part), then the directories are synced.
    pub async fn commit(mut self, key: &Key) -> Result<Metadata, StoreError> {
        let Some(temp) = self.temp.take() else {
            return Err(StoreError::Corrupt {
                path: PathBuf::new(),
                reason: "staged file already committed",
            });
        };
        let store = self.store.clone();
        let key = key.clone();
        let sha256 = self.sha256;
        tokio::task::spawn_blocking(move || store.inner.commit(temp, &key, sha256)).await?
    }
}

/// A locked temporary file in `tmp/`, removed on drop unless renamed away.
pub(crate) struct TempFile {
    pub(crate) path: PathBuf,
    pub(crate) file: Option<File>,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // Unlink first, then close (the lock goes with the descriptor): a concurrent `open`
        // never sees an unlocked file of ours.
        let _ = fs::remove_file(&self.path);
        drop(self.file.take());
    }
}

impl MediaStore {
    /// Opens (creating them if needed) a store rooted at `root`, and removes the temporary
    /// files that no process holds (left by a crash).
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        tokio::task::spawn_blocking(move || Inner::open(root))
            .await?
            .map(|inner| Self {
                inner: Arc::new(inner),
            })
    }

    /// The directory the store is rooted in.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The path of the file stored under `key` (whether or not there is one). Read it, never
    /// write it: writes go through [`Staged::commit`].
    pub fn path_of(&self, key: &Key) -> PathBuf {
        self.inner.data.join(key.relative_path())
    }

    /// The metadata of the file under `key`, or `None` if there is none. The SHA-256 comes from
    /// the sidecar; only a file whose sidecar does not match it (written by an older version,
    /// or a crash between the two renames of a commit) is hashed again, and its sidecar
    /// rewritten.
    pub async fn metadata(&self, key: &Key) -> Result<Option<Metadata>, StoreError> {
        let inner = self.inner.clone();
        let key = key.clone();
        tokio::task::spawn_blocking(move || {
            Ok(inner.open_file(&key)?.map(|(_, metadata)| metadata))
        })
        .await?
    }

    /// Removes the file under `key` and its sidecar. `Ok(false)` if there was none.
    pub async fn remove(&self, key: &Key) -> Result<bool, StoreError> {
        let inner = self.inner.clone();
        let key = key.clone();
        tokio::task::spawn_blocking(move || inner.remove(&key)).await?
    }
}

impl Inner {
    fn open(root: PathBuf) -> Result<Self, StoreError> {
        let data = root.join("data");
        let meta = root.join("meta");
        let tmp = root.join("tmp");
        for dir in [&root, &data, &meta, &tmp] {
            fs::create_dir_all(dir).map_err(StoreError::io("create directory", dir))?;
        }
        let entries = fs::read_dir(&tmp).map_err(StoreError::io("list", &tmp))?;
        for entry in entries {
            let path = entry.map_err(StoreError::io("list", &tmp))?.path();
            let Ok(file) = File::open(&path) else {
                continue;
            };
            // Held by a live process (another store on this directory): leave it.
            if file.try_lock().is_ok() {
                tracing::info!(path = %path.display(), "removing a temporary file left by a crash");
                let _ = fs::remove_file(&path);
            }
        }
        let data_dir = rustix::fs::open(
            &data,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| StoreError::io("open", &data)(e.into()))?;
        Ok(Self {
            root,
            data,
            data_dir,
            meta,
            tmp,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Creates a new locked temporary file in `tmp/`.
    pub(crate) fn create_temp(&self) -> Result<TempFile, StoreError> {
        loop {
            let path = self.tmp.join(format!("{:016x}.part", fastrand::u64(..)));
            match OpenOptions::new()
                .write(true)
                .read(true)
                .create_new(true)
                .open(&path)
            {
                Ok(file) => {
                    let temp = TempFile {
                        path,
                        file: Some(file),
                    };
                    if let Some(file) = &temp.file {
                        file.try_lock().map_err(|e| StoreError::Io {
                            action: "lock",
                            path: temp.path.clone(),
                            source: io::Error::other(e),
                        })?;
                    }
                    return Ok(temp);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(StoreError::io("create", path)(e)),
            }
        }
    }

    fn commit(
        &self,
        mut temp: TempFile,
        key: &Key,
        sha256: Sha256,
    ) -> Result<Metadata, StoreError> {
        let Some(file) = temp.file.as_ref() else {
            return Err(StoreError::Corrupt {
                path: temp.path.clone(),
                reason: "temporary file closed",
            });
        };
        file.sync_all()
            .map_err(StoreError::io("fsync", &temp.path))?;
        let stat = file
            .metadata()
            .map_err(StoreError::io("stat", &temp.path))?;
        let identity = Identity::of(&stat);
        let target = self.data.join(key.relative_path());
        let sidecar = self.meta.join(key.relative_path());
        let data_dir = parent(&target)?;
        let meta_dir = parent(&sidecar)?;
        fs::create_dir_all(data_dir).map_err(StoreError::io("create directory", data_dir))?;
        fs::create_dir_all(meta_dir).map_err(StoreError::io("create directory", meta_dir))?;
        // The sidecar first: if a crash comes between the two renames, the sidecar names an
        // inode the key does not have, and is not believed (the file is hashed again).
        self.write_sidecar(&sidecar, sha256, identity)?;
        fs::rename(&temp.path, &target).map_err(StoreError::io("rename into", &target))?;
        // Renamed: nothing to remove any more.
        temp.path = PathBuf::new();
        drop(temp);
        sync_dir(data_dir)?;
        sync_dir(meta_dir)?;
        self.remember(key, identity, sha256);
        Ok(Metadata {
            size: identity.size,
            sha256,
            modified: modified(&stat),
        })
    }

    fn write_sidecar(
        &self,
        sidecar: &Path,
        sha256: Sha256,
        identity: Identity,
    ) -> Result<(), StoreError> {
        let mut temp = self.create_temp()?;
        let text = format!(
            "sha256 {sha256}\nsize {}\ndev {}\nino {}\nmtime_ns {}\n",
            identity.size, identity.dev, identity.ino, identity.mtime_ns
        );
        if let Some(file) = temp.file.as_mut() {
            file.write_all(text.as_bytes())
                .map_err(StoreError::io("write", &temp.path))?;
            file.sync_all()
                .map_err(StoreError::io("fsync", &temp.path))?;
        }
        fs::rename(&temp.path, sidecar).map_err(StoreError::io("rename into", sidecar))?;
        temp.path = PathBuf::new();
        Ok(())
    }

    /// [`Inner::open_file`] without blocking, for the serving path on the async runtime: the
    /// path resolved from the kernel's dentry cache only (`openat2` with `RESOLVE_CACHED`,
    /// beneath `data/`), the SHA-256 from the in-memory cache. `None` when that is not enough
    /// (the answer then comes from a blocking thread).
    pub(crate) fn try_open_cached(
        &self,
        key: &Key,
    ) -> Option<Result<Option<(File, Metadata)>, StoreError>> {
        if !OPEN_CACHED.load(Ordering::Relaxed) {
            return None;
        }
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY;
        let resolve = ResolveFlags::CACHED | ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
        let file = match rustix::fs::openat2(
            &self.data_dir,
            key.relative_path(),
            flags,
            Mode::empty(),
            resolve,
        ) {
            Ok(fd) => File::from(fd),
            Err(Errno::NOENT | Errno::NOTDIR) => return Some(Ok(None)),
            Err(Errno::NOSYS | Errno::INVAL) => {
                OPEN_CACHED.store(false, Ordering::Relaxed);
                return None;
            }
            // EAGAIN (not all in the dentry cache), and any error the blocking path reports.
            Err(_) => return None,
        };
        let stat = file.metadata().ok()?;
        if !stat.is_file() {
            return Some(Ok(None));
        }
        let identity = Identity::of(&stat);
        let sha256 = self.cached(key, identity)?;
        Some(Ok(Some((
            file,
            Metadata {
                size: identity.size,
                sha256,
                modified: modified(&stat),
            },
        ))))
    }

    /// Opens the file under `key` for reading, resolving its path beneath `data/` only (no
    /// symbolic link planted in `data/` leads out of it), with `open` where `openat2` is
    /// missing.
    fn open_beneath(&self, key: &Key) -> io::Result<File> {
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY;
        let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
        match rustix::fs::openat2(
            &self.data_dir,
            key.relative_path(),
            flags,
            Mode::empty(),
            resolve,
        ) {
            Ok(fd) => Ok(File::from(fd)),
            Err(Errno::NOSYS) => File::open(self.data.join(key.relative_path())),
            Err(errno) => Err(errno.into()),
        }
    }

    /// Opens the file under `key` with its metadata; `None` if there is none.
    pub(crate) fn open_file(&self, key: &Key) -> Result<Option<(File, Metadata)>, StoreError> {
        let path = self.data.join(key.relative_path());
        let file = match self.open_beneath(key) {
            Ok(file) => file,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(StoreError::io("open", path)(e)),
        };
        let stat = file.metadata().map_err(StoreError::io("stat", &path))?;
        if !stat.is_file() {
            return Ok(None);
        }
        let identity = Identity::of(&stat);
        let sha256 = match self.cached(key, identity) {
            Some(sha256) => sha256,
            None => {
                let sidecar = self.meta.join(key.relative_path());
                let sha256 = match read_sidecar(&sidecar, identity) {
                    Some(sha256) => sha256,
                    None => {
                        tracing::info!(path = %path.display(), "no matching sidecar; hashing the file again");
                        let sha256 = hash_file(&file, &path)?;
                        if let Some(dir) = sidecar.parent() {
                            fs::create_dir_all(dir)
                                .map_err(StoreError::io("create directory", dir))?;
                        }
                        self.write_sidecar(&sidecar, sha256, identity)?;
                        sha256
                    }
                };
                self.remember(key, identity, sha256);
                sha256
            }
        };
        Ok(Some((
            file,
            Metadata {
                size: identity.size,
                sha256,
                modified: modified(&stat),
            },
        )))
    }

    fn remove(&self, key: &Key) -> Result<bool, StoreError> {
        let path = self.data.join(key.relative_path());
        let sidecar = self.meta.join(key.relative_path());
        self.forget(key);
        let existed = match fs::metadata(&path) {
            Ok(stat) if stat.is_file() => {
                fs::remove_file(&path).map_err(StoreError::io("remove", &path))?;
                true
            }
            Ok(_) => false,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                false
            }
            Err(e) => return Err(StoreError::io("stat", path)(e)),
        };
        match fs::remove_file(&sidecar) {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) => {}
            Err(e) => return Err(StoreError::io("remove", sidecar)(e)),
        }
        if existed {
            sync_dir(parent(&path)?)?;
        }
        Ok(existed)
    }

    fn cached(&self, key: &Key, identity: Identity) -> Option<Sha256> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .get(key)
            .filter(|c| c.identity == identity)
            .map(|c| c.sha256)
    }

    fn remember(&self, key: &Key, identity: Identity, sha256: Sha256) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key.clone(), Cached { identity, sha256 });
    }

    fn forget(&self, key: &Key) {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }
}

fn parent(path: &Path) -> Result<&Path, StoreError> {
    path.parent().ok_or_else(|| StoreError::Corrupt {
        path: path.to_owned(),
        reason: "no parent directory",
    })
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StoreError::io("fsync directory", dir))
}

fn modified(stat: &fs::Metadata) -> SystemTime {
    stat.modified()
        .unwrap_or(UNIX_EPOCH + Duration::from_secs(u64::try_from(stat.mtime()).unwrap_or(0)))
}

/// The SHA-256 in a sidecar, if the sidecar describes this very file.
fn read_sidecar(path: &Path, identity: Identity) -> Option<Sha256> {
    let text = fs::read_to_string(path).ok()?;
    let mut sha256 = None;
    let mut seen = Identity {
        dev: 0,
        ino: 0,
        size: 0,
        mtime_ns: 0,
    };
    for line in text.lines() {
        let (name, value) = line.split_once(' ')?;
        match name {
            "sha256" => sha256 = Sha256::from_hex(value),
            "size" => seen.size = value.parse().ok()?,
            "dev" => seen.dev = value.parse().ok()?,
            "ino" => seen.ino = value.parse().ok()?,
            "mtime_ns" => seen.mtime_ns = value.parse().ok()?,
            _ => {}
        }
    }
    (seen == identity).then_some(sha256).flatten()
}

fn hash_file(mut file: &File, path: &Path) -> Result<Sha256, StoreError> {
    let mut context = digest::Context::new(&digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(StoreError::io("read", path))?;
        let Some(data) = buf.get(..n).filter(|d| !d.is_empty()) else {
            break;
        };
        context.update(data);
    }
    Ok(Sha256::from_digest(&context.finish()))
}
