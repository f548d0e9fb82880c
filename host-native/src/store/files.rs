//! The store directory: marker file, author key file, segment file names, low-level file ops.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use xaeroflux_core::AuthorKey;

use crate::error::{IoError, OpenError};

/// Format version of the store directory (marker file, key file, segments, index schema):
/// 3 since version-2 pages (`docs/storage.md` lists the versions; an older store is upgraded
/// when opened).
pub const FORMAT_VERSION: u32 = 3;
pub(crate) const MARKER: &str = "XAEROFLUX";
pub(crate) const MARKER_MAGIC: [u8; 8] = *b"XFSTORE\0";
pub(crate) const KEY_FILE: &str = "author.key";
pub(crate) const KEY_MAGIC: [u8; 4] = *b"XFKY";
pub(crate) const KEY_VERSION: u8 = 1;
pub(crate) const KEY_FILE_LEN: usize = 72;
pub(crate) const INDEX_FILE: &str = "index.redb";
pub(crate) const SEGMENT_DIR: &str = "segments";
const PROBE: &str = ".write-probe";

/// Names a store may contain; a directory holding only these (and no marker) is an
/// interrupted creation, which is redone.
const OWN_NAMES: [&str; 6] = [MARKER, KEY_FILE, INDEX_FILE, SEGMENT_DIR, PROBE, super::taillog::LOG_FILE];

pub(crate) fn io<'p>(op: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> IoError + 'p {
    move |e| IoError::new(op, Some(path.to_path_buf()), e)
}

/// The segment file of number `n`: `segments/00000000.seg`.
pub(crate) fn segment_path(dir: &Path, n: u32) -> PathBuf {
    dir.join(SEGMENT_DIR).join(format!("{n:08}.seg"))
}

/// Segment numbers present, ascending.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u32>, IoError> {
    let sdir = dir.join(SEGMENT_DIR);
    let mut out = Vec::new();
    for entry in fs::read_dir(&sdir).map_err(io("list segments", &sdir))? {
        let entry = entry.map_err(io("list segments", &sdir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(num) = name.strip_suffix(".seg") else { continue };
        if num.len() == 8
            && let Ok(n) = num.parse::<u32>()
        {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// What `path` holds.
pub(crate) enum DirState {
    /// A store: its marker's format version.
    Store(u32),
    /// Nothing, an empty directory, or an interrupted creation: create a store here.
    Fresh,
}

pub(crate) fn inspect(path: &Path) -> Result<DirState, OpenError> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(DirState::Fresh),
        Err(e) => return Err(IoError::new("inspect store path", Some(path.to_path_buf()), e).into()),
    };
    if !meta.is_dir() {
        return Err(OpenError::NotAStore { path: path.to_path_buf(), reason: "not a directory" });
    }
    let marker = path.join(MARKER);
    match File::open(&marker) {
        Ok(mut f) => {
            let mut buf = [0u8; 17];
            let n = read_up_to(&mut f, &mut buf).map_err(io("read marker", &marker))?;
            if n != 16 || buf[..8] != MARKER_MAGIC {
                return Err(OpenError::NotAStore { path: path.to_path_buf(), reason: "marker file is not ours" });
            }
            let mut v = [0u8; 4];
            v.copy_from_slice(&buf[8..12]);
            Ok(DirState::Store(u32::from_le_bytes(v)))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            for entry in fs::read_dir(path).map_err(io("list store directory", path))? {
                let entry = entry.map_err(io("list store directory", path))?;
                let name = entry.file_name();
                if !name.to_str().is_some_and(|n| OWN_NAMES.contains(&n)) {
                    return Err(OpenError::NotAStore {
                        path: path.to_path_buf(),
                        reason: "directory is not empty and has no store marker",
                    });
                }
            }
            Ok(DirState::Fresh)
        }
        Err(e) => Err(IoError::new("open marker", Some(marker), e).into()),
    }
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Fails with [`OpenError::ReadOnly`] unless a file can be created in `dir`.
pub(crate) fn check_writable(dir: &Path) -> Result<(), OpenError> {
    let probe = dir.join(PROBE);
    match OpenOptions::new().write(true).create(true).truncate(true).open(&probe) {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        Err(e)
            if matches!(e.kind(), io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem)
                || e.raw_os_error() == Some(libc::EROFS) =>
        {
            Err(OpenError::ReadOnly { path: dir.to_path_buf() })
        }
        Err(e) => Err(IoError::new("probe store directory", Some(probe), e).into()),
    }
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), IoError> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(io("sync directory", dir))
}

/// `.<name><suffix>` beside `dest`: where a backup or an archive is written before it is
/// renamed to `dest` (`None` when `dest` names no directory entry).
pub(crate) fn partial_beside(dest: &Path, suffix: &str) -> Option<PathBuf> {
    let mut partial = std::ffi::OsString::from(".");
    partial.push(dest.file_name()?);
    partial.push(suffix);
    Some(dest.with_file_name(partial))
}

/// Renames the finished `partial` to `dest` (the failure named `op`), then syncs `dest`'s
/// parent directory. A failed rename removes `partial` with `remove`.
pub(crate) fn rename_into_place(
    partial: &Path,
    dest: &Path,
    op: &'static str,
    remove: fn(&Path) -> io::Result<()>,
) -> Result<(), IoError> {
    if let Err(e) = fs::rename(partial, dest) {
        let _ = remove(partial);
        return Err(IoError::new(op, Some(dest.to_path_buf()), e));
    }
    match dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

/// Removes the leftovers of an interrupted creation (only names a store uses).
pub(crate) fn clear_partial(dir: &Path) -> Result<(), IoError> {
    for name in [KEY_FILE, INDEX_FILE, PROBE] {
        let p = dir.join(name);
        match fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(IoError::new("remove partial store file", Some(p), e)),
        }
    }
    let s = dir.join(SEGMENT_DIR);
    match fs::remove_dir_all(&s) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(IoError::new("remove partial segments", Some(s), e)),
    }
}

/// Writes the marker (last step of creation): write to a temporary name, sync, rename, sync dir.
pub(crate) fn write_marker(dir: &Path) -> Result<(), IoError> {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&MARKER_MAGIC);
    bytes[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    let tmp = dir.join(PROBE);
    let mut f = File::create(&tmp).map_err(io("create marker", &tmp))?;
    f.write_all(&bytes).and_then(|()| f.sync_all()).map_err(io("write marker", &tmp))?;
    let marker = dir.join(MARKER);
    fs::rename(&tmp, &marker).map_err(io("rename marker", &marker))?;
    sync_dir(dir)
}

/// Creates the key file with fresh OS randomness, mode 0600.
pub(crate) fn create_key(dir: &Path) -> Result<AuthorKey, OpenError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|e| IoError::new("read OS randomness", None, io::Error::other(format!("getrandom: {e}"))))?;
    let key = AuthorKey::from_secret_bytes(&secret);
    secret.fill(0);
    write_key(dir, &key)?;
    Ok(key)
}

/// Creates the key file holding `key`, mode 0600 (a new store's, or a backup's: the source's
/// key).
pub(crate) fn write_key(dir: &Path, key: &AuthorKey) -> Result<(), OpenError> {
    let mut bytes = [0u8; KEY_FILE_LEN];
    bytes[..4].copy_from_slice(&KEY_MAGIC);
    bytes[4] = KEY_VERSION;
    bytes[8..40].copy_from_slice(&key.secret_bytes());
    bytes[40..72].copy_from_slice(key.author().as_bytes());
    let path = dir.join(KEY_FILE);
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&path).map_err(io("create key file", &path))?;
    let r = f.write_all(&bytes).and_then(|()| f.sync_all());
    bytes.fill(0);
    r.map_err(io("write key file", &path))?;
    Ok(())
}

/// Loads the key file, checking its magic, version and that the stored public key matches.
pub(crate) fn load_key(dir: &Path) -> Result<AuthorKey, OpenError> {
    let path = dir.join(KEY_FILE);
    let bad = |reason| OpenError::BadKeyFile { path: path.clone(), reason };
    let mut f = File::open(&path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => bad("missing"),
        _ => IoError::new("open key file", Some(path.clone()), e).into(),
    })?;
    let mut bytes = [0u8; KEY_FILE_LEN + 1];
    let n = read_up_to(&mut f, &mut bytes).map_err(io("read key file", &path))?;
    if n != KEY_FILE_LEN {
        return Err(bad("wrong length"));
    }
    if bytes[..4] != KEY_MAGIC {
        return Err(bad("not a xaeroflux key file"));
    }
    if bytes[4] != KEY_VERSION {
        return Err(bad("unsupported key file version"));
    }
    let mut secret = [0u8; 32];
    secret.copy_from_slice(&bytes[8..40]);
    let key = AuthorKey::from_secret_bytes(&secret);
    secret.fill(0);
    let stored_public = &bytes[40..72];
    let ok = key.author().as_bytes() == stored_public;
    bytes.fill(0);
    if !ok {
        return Err(bad("secret and public key disagree"));
    }
    Ok(key)
}

/// Creates a segment file of `len` bytes with its blocks allocated (zero-filled), synced, and
/// the directory entry synced. An existing file of that number (leftover of a crash) is replaced.
pub(crate) fn create_segment(dir: &Path, n: u32, len: u64) -> Result<File, IoError> {
    let path = segment_path(dir, n);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(io("create segment", &path))?;
    allocate(&f, len).map_err(io("allocate segment", &path))?;
    f.sync_all().map_err(io("sync segment", &path))?;
    sync_dir(&dir.join(SEGMENT_DIR))?;
    Ok(f)
}

#[cfg(target_os = "linux")]
fn allocate(f: &File, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let len = libc::off_t::try_from(len).map_err(|_| io::Error::other("segment too large"))?;
    // SAFETY: plain syscall on a valid descriptor we own.
    let r = unsafe { libc::posix_fallocate(f.as_raw_fd(), 0, len) };
    match r {
        0 => Ok(()),
        libc::EOPNOTSUPP | libc::EINVAL => f.set_len(len as u64),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

#[cfg(not(target_os = "linux"))]
fn allocate(f: &File, len: u64) -> io::Result<()> {
    f.set_len(len)
}

/// Asks the kernel to drop the file's clean pages from its cache (a hint; errors ignored).
///
/// For the tail log: its preparation (1 MiB writes of zeros) and an open's reads leave it
/// cached in large folios, and on ext4 each small write into a large folio, and its
/// writeback, walks every block of the folio. Dropped, the log's block-sized writes (see
/// `TailLog::flush`) bring it back one small folio at a time.
pub(crate) fn drop_cached(f: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: plain syscall on a valid descriptor we own; it only reads its arguments.
        let _ = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = f;
}

/// Creates the tail log or grows it to `len` bytes of written zeros (not `posix_fallocate`: a
/// first write into an unwritten extent would make the commit's `fdatasync` commit metadata),
/// synced, with its directory entry synced.
pub(crate) fn prepare_log(dir: &Path, len: u64) -> Result<(), IoError> {
    let path = dir.join(super::taillog::LOG_FILE);
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io("create tail log", &path))?;
    let have = f.metadata().map_err(io("stat tail log", &path))?.len();
    if have < len {
        use std::io::Seek;
        f.seek(io::SeekFrom::Start(have)).map_err(io("grow tail log", &path))?;
        let zeros = vec![0u8; 1 << 20];
        let mut left = len - have;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            f.write_all(&zeros[..n]).map_err(io("grow tail log", &path))?;
            left -= n as u64;
        }
        f.sync_all().map_err(io("sync tail log", &path))?;
        sync_dir(dir)?;
    }
    Ok(())
}

pub(crate) fn open_segment(dir: &Path, n: u32) -> Result<File, IoError> {
    let path = segment_path(dir, n);
    OpenOptions::new().read(true).write(true).open(&path).map_err(io("open segment", &path))
}
