//! The tag numbers of the version-edit encoding. They are part of the on-disk format
//! (`docs/format/manifest.md`) and never change meaning.

/// Ends every edit (must be its last byte), so that a truncated edit never decodes.
pub const END: u32 = 0;
/// The keyspace (u32 varint) that the file, log-number and compact-pointer fields apply to.
pub const KEYSPACE: u32 = 1;
/// The keyspace's log number (u64 varint).
pub const LOG_NUMBER: u32 = 2;
/// The next file number to allocate (u64 varint).
pub const NEXT_FILE_NUMBER: u32 = 3;
/// The last sequence number in use (u64 varint).
pub const LAST_SEQNO: u32 = 4;
/// A compaction pointer: level (u32 varint), internal key (length-prefixed).
pub const COMPACT_POINTER: u32 = 5;
/// A removed table file: level (u32 varint), file number (u64 varint).
pub const DELETED_FILE: u32 = 6;
/// An added table file: level, number, size, keys, seqnos, counts, then extension fields.
pub const NEW_FILE: u32 = 7;
/// A new keyspace: id (u32 varint), name (length-prefixed UTF-8).
pub const ADD_KEYSPACE: u32 = 8;
/// A dropped keyspace: id (u32 varint).
pub const DROP_KEYSPACE: u32 = 9;
/// The largest keyspace id ever used (u32 varint): ids are never reused.
pub const MAX_KEYSPACE_ID: u32 = 10;

/// Tags with this bit set carry a length-prefixed payload and may be skipped by a
/// reader that does not know them (like RocksDB's `kTagSafeIgnoreMask`). The same rule
/// applies to the extension fields that end a [`NEW_FILE`] entry.
pub const SAFE_IGNORE_BIT: u32 = 0x40;

/// Ends the extension fields of a [`NEW_FILE`] entry.
pub const NEW_FILE_END: u32 = 0;

/// True if an unknown `tag` may be skipped (its payload is length-prefixed).
pub fn is_safe_to_ignore(tag: u32) -> bool {
    tag & SAFE_IGNORE_BIT != 0
}
