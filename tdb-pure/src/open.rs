//! `tdb_open`: create or open a file (or an in-memory database), validate its header,
//! pick the hash function, and run crash recovery.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::error::{Error, Result};
use crate::fault::{FaultHook, Hook};
use crate::hash::{CustomHash, HashKind};
use crate::header::{
    data_start, ByteOrder, Header, DEFAULT_HASH_SIZE, FEATURE_FLAGS_OFS, FEATURE_FLAG_MAGIC,
    FEATURE_FLAG_MUTEX, HASH_RWLOCK_MAGIC, HEADER_SIZE, MAGIC1_OFS, MAGIC2_OFS, MAGIC_FOOD,
    MUTEX_SIZE_OFS,
};
use crate::io::Io;
use crate::lock::{LockType, Locks, ACTIVE_LOCK, OPEN_LOCK};
use crate::mutex::{self, MutexArea};
use crate::{flags, Tdb, TravLock, OPEN_FILES};

/// The arguments of `tdb_open` (the workspace's one [`tdb_vocab::OpenOptions`], under the
/// name this crate has always used).
pub use tdb_vocab::OpenOptions as OpenFlags;

impl Tdb {
    /// `tdb_open(path, hash_size, tdb_flags, open_flags, mode)`.
    pub fn open(path: impl AsRef<Path>, options: &OpenFlags) -> Result<Tdb> {
        if options.tdb_flags & flags::INTERNAL != 0 {
            if options.tdb_flags & flags::MUTEX_LOCKING != 0 {
                return Err(Error::Einval(
                    "TDB_MUTEX_LOCKING and TDB_INTERNAL are not allowed together".into(),
                ));
            }
            return Tdb::open_internal(options.hash_size, options.tdb_flags);
        }
        open_file(path.as_ref(), options, None, None)
    }

    /// `tdb_open_ex`: [`Tdb::open`] with a caller-supplied hash function (`None` = the
    /// built-in ones). As in C, a file whose header carries no magic hashes (made before
    /// tdb 1.2.6) uses the old hash whatever is supplied, and any other file must have
    /// been created with the supplied function (else `TDB_ERR_EINVAL`).
    pub fn open_ex(
        path: impl AsRef<Path>,
        options: &OpenFlags,
        hash: Option<CustomHash>,
    ) -> Result<Tdb> {
        if options.tdb_flags & flags::INTERNAL != 0 {
            if options.tdb_flags & flags::MUTEX_LOCKING != 0 {
                return Err(Error::Einval(
                    "TDB_MUTEX_LOCKING and TDB_INTERNAL are not allowed together".into(),
                ));
            }
            let mut tdb = Tdb::open_internal(options.hash_size, options.tdb_flags)?;
            if let Some(h) = hash {
                tdb.custom_hash = Some(h);
                let (m1, m2) = tdb.magic_hashes(tdb.io.order);
                tdb.io.write_u32(MAGIC1_OFS, m1)?;
                tdb.io.write_u32(MAGIC2_OFS, m2)?;
            }
            return Ok(tdb);
        }
        open_file(path.as_ref(), options, None, hash)
    }

    /// [`Tdb::open`] with a fault-injection hook ([`crate::fault`]) in place from the
    /// start, so that it sees the writes of the crash recovery `open` may run. For crash
    /// tests.
    pub fn open_with_fault_hook(
        path: impl AsRef<Path>,
        options: &OpenFlags,
        hook: FaultHook,
    ) -> Result<Tdb> {
        if options.tdb_flags & flags::INTERNAL != 0 {
            return Err(Error::Einval(
                "a fault hook needs a file, not TDB_INTERNAL".into(),
            ));
        }
        open_file(path.as_ref(), options, Some(hook), None)
    }

    /// Set (or with `None` remove) the fault-injection hook ([`crate::fault`]) called
    /// before every change to the file from now on. For crash tests.
    pub fn set_fault_hook(&mut self, hook: Option<FaultHook>) {
        self.io.fault = hook.map(Hook);
    }

    /// A `TDB_INTERNAL` (memory-only) database.
    pub fn open_internal(hash_size: u32, tdb_flags: u32) -> Result<Tdb> {
        let hash_size = if hash_size == 0 {
            DEFAULT_HASH_SIZE
        } else {
            hash_size
        };
        let order = ByteOrder::native();
        let mut image = Header::new_file_image(hash_size, HashKind::Jenkins, 0, order);
        // C writes the magic string only into files: an in-memory header lacks it (so
        // C's tdb_check calls an internal database corrupt).
        image[..MAGIC_FOOD.len()].fill(0);
        let io = Io::memory(image, order);
        let tdb_flags =
            (tdb_flags | flags::INTERNAL | flags::NOLOCK | flags::NOMMAP) & !flags::CLEAR_IF_FIRST;
        Ok(new_handle(
            io,
            hash_size,
            HashKind::Jenkins,
            tdb_flags,
            false,
            None,
            None,
        ))
    }
}

fn new_handle(
    mut io: Io,
    hash_size: u32,
    hash: HashKind,
    mut tdb_flags: u32,
    read_only: bool,
    fd: Option<i32>,
    dev_ino: Option<(u64, u64)>,
) -> Tdb {
    if tdb_flags & flags::DISALLOW_NESTING == 0 {
        tdb_flags |= flags::ALLOW_NESTING;
    }
    let nolock = tdb_flags & flags::NOLOCK != 0;
    io.lend_mapped = !nolock;
    Tdb {
        io,
        hash_size,
        hash,
        custom_hash: None,
        flags: tdb_flags,
        read_only,
        max_dead: if tdb_flags & flags::VOLATILE != 0 {
            5
        } else {
            0
        },
        locks: Locks::new(fd, nolock),
        traverse_read: 0,
        traverse_write: 0,
        travlocks: Vec::new(),
        walk: TravLock {
            off: 0,
            list: 0,
            ltype: LockType::Read,
            steps: 0,
        },
        ecode: 0,
        dev_ino,
    }
}

/// The file's magic hashes `want` are not those of the hash function(s) in use (the last
/// tried gave `have`): `TDB_ERR_EINVAL`, in C's words.
fn hash_mismatch(alg: &str, want: (u32, u32), have: (u32, u32)) -> Error {
    let rel = |a: u32, b: u32| if a == b { "==" } else { "!=" };
    Error::Einval(format!(
        "was not created with {alg} hash function we are using\n\
         magic1_hash[0x{:08X} {} 0x{:08X}] magic2_hash[0x{:08X} {} 0x{:08X}]",
        want.0,
        rel(want.0, have.0),
        have.0,
        want.1,
        rel(want.1, have.1),
        have.1
    ))
}

fn os_err(what: &str, e: std::io::Error) -> Error {
    Error::Os(
        e.raw_os_error().unwrap_or(libc::EIO),
        format!("{what}: {e}"),
    )
}

fn open_file(
    path: &Path,
    o: &OpenFlags,
    hook: Option<FaultHook>,
    custom_hash: Option<CustomHash>,
) -> Result<Tdb> {
    let acc = o.open_flags & libc::O_ACCMODE;
    if acc == libc::O_WRONLY {
        return Err(Error::Einval("O_WRONLY is not allowed".into()));
    }
    if o.tdb_flags & flags::ALLOW_NESTING != 0 && o.tdb_flags & flags::DISALLOW_NESTING != 0 {
        return Err(Error::Nesting);
    }
    let read_only = acc == libc::O_RDONLY;
    let mut tdb_flags = o.tdb_flags;
    if tdb_flags & flags::MUTEX_LOCKING != 0 {
        // Mutex files use the jenkins hash (C sets this before anything else).
        tdb_flags |= flags::INCOMPATIBLE_HASH;
    }
    if read_only {
        tdb_flags |= flags::NOLOCK;
        tdb_flags &= !(flags::CLEAR_IF_FIRST | flags::MUTEX_LOCKING);
    }
    if tdb_flags & flags::MUTEX_LOCKING != 0 {
        if tdb_flags & flags::NOMMAP != 0 {
            return Err(Error::Einval(
                "TDB_MUTEX_LOCKING and TDB_NOMMAP are not allowed together".into(),
            ));
        }
        if !mutex::robust_mutexes_supported() {
            return Err(Error::Unsupported(
                "TDB_MUTEX_LOCKING needs robust process-shared mutexes, which this system \
                 lacks (ENOSYS)"
                    .into(),
            ));
        }
    }
    let create = o.open_flags & libc::O_CREAT != 0;
    let file = OpenOptions::new()
        .read(true)
        .write(!read_only)
        .create(create && !read_only)
        .truncate(o.open_flags & libc::O_TRUNC != 0 && !read_only)
        .custom_flags(
            (o.open_flags & !(libc::O_ACCMODE | libc::O_CREAT | libc::O_TRUNC)) | libc::O_CLOEXEC,
        )
        .mode(o.mode)
        .open(path)
        .map_err(|e| os_err(&format!("cannot open {}", path.display()), e))?;
    let meta = file.metadata().map_err(|e| os_err("fstat", e))?;
    let id = (meta.dev(), meta.ino());
    {
        let mut g = OPEN_FILES
            .lock()
            .map_err(|_| Error::Einval("open-file registry poisoned".into()))?;
        let set = g.get_or_insert_with(HashSet::new);
        if !set.insert(id) {
            return Err(Error::Os(
                libc::EBUSY,
                format!("{} is already open in this process (EBUSY)", path.display()),
            ));
        }
    }
    let fd = file.as_raw_fd();
    let use_mmap = tdb_flags & flags::NOMMAP == 0;
    let mut io = Io::file(file, meta.len(), read_only, use_mmap);
    io.fault = hook.map(Hook);
    // The handle owns the registry entry from here on (Drop removes it).
    let mut tdb = new_handle(
        io,
        1,
        HashKind::Old,
        tdb_flags,
        read_only,
        Some(fd),
        Some(id),
    );
    tdb.custom_hash = custom_hash;
    tdb.open_locked(o)?;
    Ok(tdb)
}

impl Tdb {
    fn open_locked(&mut self, o: &OpenFlags) -> Result<()> {
        let limit = u32::MAX;
        self.locks
            .nest_lock(OPEN_LOCK, LockType::Write, true, false, limit)?;
        let r = self.open_steps(o);
        let u = self.locks.nest_unlock(OPEN_LOCK, false);
        r.and(u)
    }

    fn open_steps(&mut self, o: &OpenFlags) -> Result<()> {
        let create = o.open_flags & libc::O_CREAT != 0;
        let mut wiped = false;
        if self.flags & flags::CLEAR_IF_FIRST != 0 && !self.read_only {
            let limit = u32::MAX;
            if self
                .locks
                .nest_lock(ACTIVE_LOCK, LockType::Write, false, false, limit)
                .is_ok()
            {
                self.locks
                    .raw(Some(LockType::Write), HEADER_SIZE, 0, true)?;
                let r = self.io.truncate(0);
                let _ = self.locks.raw(None, HEADER_SIZE, 0, false);
                r?;
                wiped = true;
            }
        }
        self.io.refresh_size()?;
        let mut raw = vec![0u8; HEADER_SIZE as usize];
        let have = self.io.size >= u64::from(HEADER_SIZE) && self.io.read(0, &mut raw).is_ok();
        if !have || !Header::has_magic(&raw) {
            // A file TDB_CLEAR_IF_FIRST just wiped is made anew, with or without O_CREAT.
            if (!create && !wiped) || self.read_only {
                return Err(Error::io("not a tdb file (short file or bad magic)"));
            }
            raw = self.create_database(o.hash_size)?;
        }
        let header = Header::decode(&raw)?;
        let mut locked = false;
        if header.has_mutexes() {
            locked = self.open_mutex_file(&header)?;
        }
        let hash = self.pick_hash(&header)?;
        self.io.order = header.order;
        if header.order != ByteOrder::native() {
            self.flags |= flags::CONVERT;
        } else {
            self.flags &= !flags::CONVERT;
        }
        if header.order == ByteOrder::Big {
            self.flags |= flags::BIGENDIAN;
        } else {
            self.flags &= !flags::BIGENDIAN;
        }
        self.hash_size = header.hash_size;
        self.hash = hash;
        if self.io.refresh_size()? < data_start(header.hash_size) {
            return Err(Error::Einval(format!(
                "file of {} bytes too small for {} hash buckets",
                self.io.size, header.hash_size
            )));
        }
        if wiped || locked {
            self.locks.nest_unlock(ACTIVE_LOCK, false)?;
        }
        if (self.flags & flags::CLEAR_IF_FIRST != 0 && !self.read_only) || wiped || locked {
            let limit = u32::MAX;
            self.locks
                .nest_lock(ACTIVE_LOCK, LockType::Read, true, false, limit)?;
        }
        self.recover_if_needed()?;
        if !self.read_only {
            self.drop_pointer_to_unwritten_area()?;
        }
        Ok(())
    }

    /// The hash function of an opened file: as stored for a file without magic hashes,
    /// the supplied one if any (it must match), else the built-in one that matches.
    fn pick_hash(&mut self, header: &Header) -> Result<HashKind> {
        if header.magic1_hash == 0 && header.magic2_hash == 0 {
            self.custom_hash = None;
            return Ok(HashKind::Old);
        }
        let want = (header.magic1_hash, header.magic2_hash);
        if self.custom_hash.is_none() {
            let first = if self.flags & flags::INCOMPATIBLE_HASH != 0 {
                HashKind::Jenkins
            } else {
                HashKind::Old
            };
            // C reports the magic hashes of the last function it tried.
            let last = crate::header::magic_hashes(first.other(), header.order);
            return header
                .select_hash(first == HashKind::Jenkins)
                .map_err(|_| hash_mismatch("either default", want, last));
        }
        let have = self.magic_hashes(header.order);
        if have != want {
            return Err(hash_mismatch("the user defined", want, have));
        }
        Ok(HashKind::Old)
    }

    /// A robust-mutex file (`tdb_mutex_open_ok` and what follows it in `tdb_open_ex`).
    /// With locking, it needs `TDB_MUTEX_LOCKING` and a mutex area of the size this
    /// platform computes; the area is mapped, and the first opener without
    /// `TDB_CLEAR_IF_FIRST` (the one that gets the active lock exclusively) initialises
    /// its mutexes again. Returns whether that active lock was taken. Without locking
    /// (read-only, `TDB_NOLOCK`) the database past the area is used as it is and the area
    /// is left untouched (C would initialise it again on a read-write `TDB_NOLOCK` open,
    /// under the feet of processes that hold its mutexes).
    fn open_mutex_file(&mut self, header: &Header) -> Result<bool> {
        let base = u64::from(header.mutex_size);
        let mut locked = false;
        if !self.locks.nolock {
            if self.flags & flags::MUTEX_LOCKING == 0 {
                return Err(Error::Einval(
                    "this is a robust-mutex tdb file: open it with TDB_MUTEX_LOCKING (or \
                     TDB_NOLOCK, or read-only)"
                        .into(),
                ));
            }
            if mutex::mutex_size(header.hash_size) != Some(header.mutex_size) {
                return Err(Error::Einval(format!(
                    "mutex area of {} bytes, but this platform needs {:?} for {} chains",
                    header.mutex_size,
                    mutex::mutex_size(header.hash_size),
                    header.hash_size
                )));
            }
            if self.io.real_size()? < base + u64::from(HEADER_SIZE) {
                return Err(Error::io("robust-mutex file ends inside its mutex area"));
            }
            let file = self.io.backing_file().expect("a file-backed handle");
            let area = MutexArea::map(file, header.mutex_size, header.hash_size)?;
            if self.flags & flags::CLEAR_IF_FIRST == 0 && !self.read_only {
                locked = self
                    .locks
                    .nest_lock(ACTIVE_LOCK, LockType::Write, false, false, u32::MAX)
                    .is_ok();
                if locked {
                    area.init()?;
                }
            }
            self.locks.mutexes = Some(area);
        } else if base < u64::from(HEADER_SIZE) || base % 4096 != 0 {
            return Err(Error::corrupt(format!(
                "mutex area of {base} bytes is not a whole number of pages"
            )));
        }
        self.io.set_base(base)?;
        let mut raw = vec![0u8; HEADER_SIZE as usize];
        self.io
            .read(0, &mut raw)
            .map_err(|_| Error::corrupt("robust-mutex file ends inside its mutex area"))?;
        let inner = Header::decode(&raw)?;
        if inner.hash_size != header.hash_size || inner.order != header.order {
            return Err(Error::corrupt(
                "the header after the mutex area does not match the file's header",
            ));
        }
        Ok(locked)
    }

    /// `tdb_new_database`: write a fresh header and zero heads; returns the header bytes.
    fn create_database(&mut self, hash_size: u32) -> Result<Vec<u8>> {
        let hash_size = if hash_size == 0 {
            DEFAULT_HASH_SIZE
        } else {
            hash_size
        };
        if hash_size > crate::header::MAX_HASH_SIZE {
            return Err(Error::Einval(format!("hash_size {hash_size} too large")));
        }
        let order = if self.flags & flags::CONVERT != 0 {
            ByteOrder::native().swapped()
        } else {
            ByteOrder::native()
        };
        let (hash, mut rwlocks) = if self.flags & flags::INCOMPATIBLE_HASH != 0 {
            (HashKind::Jenkins, HASH_RWLOCK_MAGIC)
        } else {
            (HashKind::Old, 0)
        };
        let with_mutexes = self.flags & flags::MUTEX_LOCKING != 0;
        let mutex_size = if with_mutexes {
            rwlocks = FEATURE_FLAG_MAGIC;
            mutex::mutex_size(hash_size).ok_or_else(|| {
                Error::Einval(format!("hash_size {hash_size} too large for a mutex area"))
            })?
        } else {
            0
        };
        let mut image = Header::new_file_image(hash_size, hash, rwlocks, order);
        if self.custom_hash.is_some() {
            let (m1, m2) = self.magic_hashes(order);
            order.put_at(&mut image, MAGIC1_OFS as usize, m1);
            order.put_at(&mut image, MAGIC2_OFS as usize, m2);
        }
        if with_mutexes {
            order.put_at(&mut image, FEATURE_FLAGS_OFS as usize, FEATURE_FLAG_MUTEX);
            order.put_at(&mut image, MUTEX_SIZE_OFS as usize, mutex_size);
        }
        self.io.set_base(0)?;
        self.io.truncate(0)?;
        self.io.grow(image.len() as u64)?;
        self.io.write(0, &image)?;
        if with_mutexes {
            // The area (whose first 168 bytes keep the header just written), its
            // mutexes initialised in place, then the database proper behind it.
            self.io
                .truncate(u64::from(mutex_size) + u64::from(HEADER_SIZE))?;
            let file = self.io.backing_file().expect("a file-backed handle");
            MutexArea::map(file, mutex_size, hash_size)?.init()?;
            self.io.set_base(u64::from(mutex_size))?;
            self.io.grow(image.len() as u64)?;
            self.io.write(0, &image)?;
            self.io.set_base(0)?;
        }
        Ok(image[..HEADER_SIZE as usize].to_vec())
    }
}
