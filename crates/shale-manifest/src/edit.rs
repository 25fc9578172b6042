//! [`VersionEdit`]: one change to the database's shape, and its encoding (one manifest
//! record). The byte layout and the tag table are in `docs/format/manifest.md`.

use std::fmt;

use shale_core::coding::{Decoder, put_length_prefixed, put_varint32, put_varint64};
use shale_core::key::TRAILER_LEN;
use shale_core::{Error, Result, SeqNo};

use crate::FileMeta;
use crate::tags;

/// One change to the database's shape: files added and removed, counters advanced,
/// keyspaces created and dropped. Every field is optional; an empty edit is valid.
///
/// The file, log-number and compact-pointer fields apply to [`VersionEdit::keyspace`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionEdit {
    /// The keyspace the per-keyspace fields apply to (0 = "default").
    pub keyspace: u32,
    /// The oldest WAL still needed for this keyspace's unflushed data.
    pub log_number: Option<u64>,
    /// The next file number to allocate (filled in by `log_and_apply`).
    pub next_file_number: Option<u64>,
    /// The last sequence number in use (filled in by `log_and_apply`).
    pub last_seqno: Option<SeqNo>,
    /// Table files added: (level, file).
    pub new_files: Vec<(usize, FileMeta)>,
    /// Table files removed: (level, file number).
    pub deleted_files: Vec<(usize, u64)>,
    /// Where the next compaction of a level starts: (level, internal key).
    pub compact_pointers: Vec<(usize, Vec<u8>)>,
    /// A keyspace created by this edit: (id, name).
    pub add_keyspace: Option<(u32, String)>,
    /// A keyspace dropped by this edit.
    pub drop_keyspace: Option<u32>,
    /// The largest keyspace id ever assigned (ids of dropped keyspaces are not reused).
    pub max_keyspace_id: Option<u32>,
}

/// The `file` name used in decode errors before the caller relocates them.
const EDIT_FILE: &str = "version edit";

impl VersionEdit {
    /// An empty edit for `keyspace`.
    pub fn for_keyspace(keyspace: u32) -> Self {
        VersionEdit {
            keyspace,
            ..VersionEdit::default()
        }
    }

    /// Records that `file` was added at `level`.
    pub fn add_file(&mut self, level: usize, file: FileMeta) {
        self.new_files.push((level, file));
    }

    /// Records that file `number` was removed from `level`.
    pub fn delete_file(&mut self, level: usize, number: u64) {
        self.deleted_files.push((level, number));
    }

    /// True if the edit changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == VersionEdit::for_keyspace(self.keyspace)
    }

    /// Encodes the edit as a manifest record payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.keyspace != 0 {
            put_varint32(&mut out, tags::KEYSPACE);
            put_varint32(&mut out, self.keyspace);
        }
        if let Some((id, name)) = &self.add_keyspace {
            put_varint32(&mut out, tags::ADD_KEYSPACE);
            put_varint32(&mut out, *id);
            put_length_prefixed(&mut out, name.as_bytes());
        }
        if let Some(n) = self.log_number {
            put_varint32(&mut out, tags::LOG_NUMBER);
            put_varint64(&mut out, n);
        }
        if let Some(n) = self.next_file_number {
            put_varint32(&mut out, tags::NEXT_FILE_NUMBER);
            put_varint64(&mut out, n);
        }
        if let Some(n) = self.last_seqno {
            put_varint32(&mut out, tags::LAST_SEQNO);
            put_varint64(&mut out, n);
        }
        if let Some(n) = self.max_keyspace_id {
            put_varint32(&mut out, tags::MAX_KEYSPACE_ID);
            put_varint32(&mut out, n);
        }
        for (level, key) in &self.compact_pointers {
            put_varint32(&mut out, tags::COMPACT_POINTER);
            put_level(&mut out, *level);
            put_length_prefixed(&mut out, key);
        }
        for (level, number) in &self.deleted_files {
            put_varint32(&mut out, tags::DELETED_FILE);
            put_level(&mut out, *level);
            put_varint64(&mut out, *number);
        }
        for (level, f) in &self.new_files {
            put_varint32(&mut out, tags::NEW_FILE);
            put_level(&mut out, *level);
            put_varint64(&mut out, f.number);
            put_varint64(&mut out, f.size);
            put_length_prefixed(&mut out, &f.smallest);
            put_length_prefixed(&mut out, &f.largest);
            put_varint64(&mut out, f.smallest_seqno);
            put_varint64(&mut out, f.largest_seqno);
            put_varint64(&mut out, f.num_entries);
            put_varint64(&mut out, f.num_deletions);
            put_varint32(&mut out, tags::NEW_FILE_END);
        }
        if let Some(id) = self.drop_keyspace {
            put_varint32(&mut out, tags::DROP_KEYSPACE);
            put_varint32(&mut out, id);
        }
        put_varint32(&mut out, tags::END);
        out
    }

    /// Decodes a manifest record payload. Errors are [`Error::Corruption`] with offsets
    /// relative to the start of `buf`; relocate them with [`Error::relocated`].
    pub fn decode(buf: &[u8]) -> Result<VersionEdit> {
        let mut d = Decoder::new(buf);
        let mut e = VersionEdit::default();
        let mut seen_keyspace = false;
        loop {
            let at = d.position();
            if d.is_empty() {
                return Err(bad(at, "edit is truncated (no end tag)"));
            }
            let tag = d.varint32().ok_or_else(|| bad(at, "bad tag varint"))?;
            let mut f = Field { d: &mut d, at, tag };
            match tag {
                tags::END => {
                    if !d.is_empty() {
                        return Err(bad(d.position(), "bytes after the end tag"));
                    }
                    return Ok(e);
                }
                tags::KEYSPACE => {
                    f.once(&mut seen_keyspace)?;
                    e.keyspace = f.u32()?;
                }
                tags::LOG_NUMBER => f.set(&mut e.log_number, |f| f.u64())?,
                tags::NEXT_FILE_NUMBER => f.set(&mut e.next_file_number, |f| f.u64())?,
                tags::LAST_SEQNO => f.set(&mut e.last_seqno, |f| f.u64())?,
                tags::MAX_KEYSPACE_ID => f.set(&mut e.max_keyspace_id, |f| f.u32())?,
                tags::COMPACT_POINTER => {
                    let level = f.level()?;
                    let key = f.internal_key("compact pointer")?;
                    e.compact_pointers.push((level, key));
                }
                tags::DELETED_FILE => {
                    let level = f.level()?;
                    let number = f.u64()?;
                    e.deleted_files.push((level, number));
                }
                tags::NEW_FILE => {
                    let level = f.level()?;
                    let file = f.file_meta()?;
                    e.new_files.push((level, file));
                }
                tags::ADD_KEYSPACE => f.set(&mut e.add_keyspace, |f| {
                    let id = f.u32()?;
                    let name = f.bytes()?;
                    let name = std::str::from_utf8(name)
                        .map_err(|_| bad(f.at, "keyspace name is not UTF-8"))?;
                    Ok((id, name.to_owned()))
                })?,
                tags::DROP_KEYSPACE => f.set(&mut e.drop_keyspace, |f| f.u32())?,
                t if tags::is_safe_to_ignore(t) => {
                    f.bytes()?;
                }
                t => return Err(bad(at, format!("unknown tag {t} (not safe to ignore)"))),
            }
        }
    }
}

fn put_level(out: &mut Vec<u8>, level: usize) {
    put_varint64(out, level as u64);
}

fn bad(at: usize, detail: impl Into<String>) -> Error {
    Error::corruption(EDIT_FILE, at as u64, detail.into())
}

/// Decoding state for one tagged field: the decoder, where the field started, its tag.
struct Field<'d, 'a> {
    d: &'d mut Decoder<'a>,
    at: usize,
    tag: u32,
}

impl<'a> Field<'_, 'a> {
    fn err(&self, what: &str) -> Error {
        bad(self.at, format!("tag {}: {what}", self.tag))
    }

    fn u64(&mut self) -> Result<u64> {
        self.d
            .varint64()
            .ok_or_else(|| self.err("bad or truncated varint"))
    }

    fn u32(&mut self) -> Result<u32> {
        self.d
            .varint32()
            .ok_or_else(|| self.err("bad or truncated 32-bit varint"))
    }

    fn level(&mut self) -> Result<usize> {
        let level = self.u32()?;
        usize::try_from(level).map_err(|_| self.err("level out of range"))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        match self.d.length_prefixed() {
            Some(b) => Ok(b),
            None => Err(self.err("length-prefixed field runs past the end")),
        }
    }

    fn internal_key(&mut self, what: &str) -> Result<Vec<u8>> {
        let key = self.bytes()?.to_vec();
        if key.len() < TRAILER_LEN {
            return Err(self.err(&format!("{what} is shorter than an internal key")));
        }
        Ok(key)
    }

    fn once(&self, seen: &mut bool) -> Result<()> {
        if std::mem::replace(seen, true) {
            return Err(self.err("field appears twice"));
        }
        Ok(())
    }

    fn set<T>(
        &mut self,
        slot: &mut Option<T>,
        read: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<()> {
        if slot.is_some() {
            return Err(self.err("field appears twice"));
        }
        *slot = Some(read(self)?);
        Ok(())
    }

    fn file_meta(&mut self) -> Result<FileMeta> {
        let number = self.u64()?;
        let size = self.u64()?;
        let smallest = self.internal_key("smallest key")?;
        let largest = self.internal_key("largest key")?;
        let smallest_seqno = self.u64()?;
        let largest_seqno = self.u64()?;
        let num_entries = self.u64()?;
        let num_deletions = self.u64()?;
        // Extension fields: (tag, length-prefixed payload)* ended by tag 0.
        loop {
            let ext = self.u32()?;
            if ext == tags::NEW_FILE_END {
                break;
            }
            if !tags::is_safe_to_ignore(ext) {
                return Err(self.err(&format!(
                    "new file {number}: unknown field {ext} (not safe to ignore)"
                )));
            }
            self.bytes()?;
        }
        Ok(FileMeta {
            number,
            size,
            smallest,
            largest,
            smallest_seqno,
            largest_seqno,
            num_entries,
            num_deletions,
        })
    }
}

/// Prints `bytes` with everything outside printable ASCII escaped as `\xNN`.
pub(crate) fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'\\' && b != b'"' {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
}

/// Prints an internal key as `'user key' @seqno kind`.
pub(crate) fn show_key(ikey: &[u8]) -> String {
    let (user, trailer) = shale_core::key::split_internal_key(ikey);
    format!("\"{}\" @{} k{}", escape(user), trailer >> 8, trailer & 0xff)
}

impl fmt::Display for VersionEdit {
    /// One field per line, each indented by two spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  keyspace: {}", self.keyspace)?;
        if let Some((id, name)) = &self.add_keyspace {
            writeln!(f, "  add keyspace: {id} \"{}\"", escape(name.as_bytes()))?;
        }
        if let Some(n) = self.log_number {
            writeln!(f, "  log number: {n}")?;
        }
        if let Some(n) = self.next_file_number {
            writeln!(f, "  next file number: {n}")?;
        }
        if let Some(n) = self.last_seqno {
            writeln!(f, "  last seqno: {n}")?;
        }
        if let Some(n) = self.max_keyspace_id {
            writeln!(f, "  max keyspace id: {n}")?;
        }
        for (level, key) in &self.compact_pointers {
            writeln!(f, "  compact pointer: L{level} {}", show_key(key))?;
        }
        for (level, number) in &self.deleted_files {
            writeln!(f, "  delete file: L{level} #{number}")?;
        }
        for (level, m) in &self.new_files {
            writeln!(
                f,
                "  add file: L{level} #{} size={} [{} .. {}] seqnos={}..{} entries={} deletions={}",
                m.number,
                m.size,
                show_key(&m.smallest),
                show_key(&m.largest),
                m.smallest_seqno,
                m.largest_seqno,
                m.num_entries,
                m.num_deletions
            )?;
        }
        if let Some(id) = self.drop_keyspace {
            writeln!(f, "  drop keyspace: {id}")?;
        }
        Ok(())
    }
}
