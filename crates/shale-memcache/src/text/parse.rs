//! Text-protocol command lines → [`TextCommand`]s, with memcached's error replies.

use bytes::Bytes;

use crate::frame::{FrameLimits, LineOutcome};
use crate::numbers::{safe_strtol32, safe_strtoul32, safe_strtoull};
use crate::request::Request;

/// Longest key memcached accepts.
pub const KEY_MAX_LENGTH: usize = 250;

/// How a storage command treats an existing item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    /// `set`: store unconditionally.
    Set,
    /// `add`: store only if absent.
    Add,
    /// `replace`: store only if present.
    Replace,
    /// `append`: add the data after the existing value.
    Append,
    /// `prepend`: add the data before the existing value.
    Prepend,
    /// `cas`: store only if the item's CAS unique is unchanged.
    Cas,
}

/// A parsed text-protocol command.
#[derive(Debug)]
pub enum TextCommand {
    /// `get`/`gets`/`gat`/`gats`.
    Get {
        /// Metric name.
        name: &'static str,
        /// Keys in order.
        keys: Vec<Bytes>,
        /// Return CAS uniques (`gets`, `gats`).
        cas: bool,
        /// New exptime (`gat`, `gats`).
        touch: Option<i64>,
    },
    /// `set`/`add`/`replace`/`append`/`prepend`/`cas`.
    Store {
        /// Which storage command.
        mode: StoreMode,
        /// The key.
        key: Bytes,
        /// Client flags.
        flags: u32,
        /// Exptime as sent.
        exptime: i64,
        /// CAS unique to compare (`cas` only).
        cas: u64,
        /// The value (filled in by the framer).
        data: Bytes,
        /// No reply.
        noreply: bool,
    },
    /// A storage command whose value is too large (its data is discarded).
    TooLarge {
        /// Metric name.
        name: &'static str,
        /// `set` removes the old item, as memcached does.
        delete: Option<Bytes>,
        /// No reply.
        noreply: bool,
    },
    /// `delete`.
    Delete {
        /// The key.
        key: Bytes,
        /// No reply.
        noreply: bool,
    },
    /// `incr`/`decr`.
    Arith {
        /// The key.
        key: Bytes,
        /// `incr` (else `decr`).
        incr: bool,
        /// The amount.
        delta: u64,
        /// No reply.
        noreply: bool,
    },
    /// `touch`.
    Touch {
        /// The key.
        key: Bytes,
        /// New exptime.
        exptime: i64,
        /// No reply.
        noreply: bool,
    },
    /// `flush_all [delay]`.
    FlushAll {
        /// Seconds to wait (0 = now).
        delay: i64,
        /// No reply.
        noreply: bool,
    },
    /// `version`.
    Version,
    /// `verbosity`.
    Verbosity {
        /// No reply.
        noreply: bool,
    },
    /// `stats [group]`.
    Stats {
        /// The group (`settings`, `items`, …) if any.
        group: Option<Bytes>,
    },
}

impl TextCommand {
    /// The metric name.
    pub fn name(&self) -> &'static str {
        match self {
            TextCommand::Get { name, .. } | TextCommand::TooLarge { name, .. } => name,
            TextCommand::Store { mode, .. } => match mode {
                StoreMode::Set => "set",
                StoreMode::Add => "add",
                StoreMode::Replace => "replace",
                StoreMode::Append => "append",
                StoreMode::Prepend => "prepend",
                StoreMode::Cas => "cas",
            },
            TextCommand::Delete { .. } => "delete",
            TextCommand::Arith { incr: true, .. } => "incr",
            TextCommand::Arith { incr: false, .. } => "decr",
            TextCommand::Touch { .. } => "touch",
            TextCommand::FlushAll { .. } => "flush_all",
            TextCommand::Version => "version",
            TextCommand::Verbosity { .. } => "verbosity",
            TextCommand::Stats { .. } => "stats",
        }
    }

    /// True if the reply is suppressed.
    pub fn noreply(&self) -> bool {
        match self {
            TextCommand::Store { noreply, .. }
            | TextCommand::TooLarge { noreply, .. }
            | TextCommand::Delete { noreply, .. }
            | TextCommand::Arith { noreply, .. }
            | TextCommand::Touch { noreply, .. }
            | TextCommand::FlushAll { noreply, .. }
            | TextCommand::Verbosity { noreply, .. } => *noreply,
            _ => false,
        }
    }
}

const BAD_FORMAT: &[u8] = b"CLIENT_ERROR bad command line format\r\n";

/// True if `key` is a valid memcached key: 1 to 250 bytes, no control characters
/// (spaces cannot occur: they separate tokens).
pub fn valid_key(key: &[u8]) -> bool {
    !key.is_empty() && key.len() <= KEY_MAX_LENGTH && !key.iter().any(|&c| c < 0x20 || c == 0x7f)
}

fn error(name: &'static str, reply: &'static [u8], quiet: bool) -> LineOutcome {
    LineOutcome::plain(Request::Reply { name, reply, quiet })
}

fn cmd(c: TextCommand) -> LineOutcome {
    LineOutcome::plain(Request::Text(c))
}

/// memcached's `set_noreply_maybe`: the last token is `noreply`.
fn noreply(tokens: &[&[u8]]) -> bool {
    tokens.last().is_some_and(|t| *t == b"noreply")
}

/// Parses a text-protocol command line.
pub fn parse(tokens: &[&[u8]], limits: &FrameLimits) -> LineOutcome {
    let Some(&command) = tokens.first() else {
        return error("unknown", b"ERROR\r\n", false);
    };
    let n = tokens.len();
    match command {
        b"get" | b"gets" if n >= 2 => get(tokens, command == b"gets", None, limits),
        b"gat" | b"gats" if n >= 2 => {
            let name = if command == b"gat" { "gat" } else { "gats" };
            match tokens.get(1).and_then(|t| safe_strtol32(t)) {
                Some(e) => get(&tokens[1..], command == b"gats", Some(i64::from(e)), limits),
                None => error(name, b"CLIENT_ERROR invalid exptime argument\r\n", false),
            }
        }
        b"set" | b"add" | b"replace" | b"append" | b"prepend" if n == 5 || n == 6 => {
            let mode = match command {
                b"set" => StoreMode::Set,
                b"add" => StoreMode::Add,
                b"replace" => StoreMode::Replace,
                b"append" => StoreMode::Append,
                _ => StoreMode::Prepend,
            };
            store(tokens, mode, limits)
        }
        b"cas" if n == 6 || n == 7 => store(tokens, StoreMode::Cas, limits),
        b"delete" if (2..=4).contains(&n) => {
            let key = tokens[1];
            let quiet = noreply(tokens);
            if n > 2 {
                let hold_zero = tokens[2] == b"0";
                let valid = (n == 3 && (hold_zero || quiet)) || (n == 4 && hold_zero && quiet);
                if !valid {
                    return error(
                        "delete",
                        b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n",
                        quiet,
                    );
                }
            }
            if !valid_key(key) {
                return error("delete", BAD_FORMAT, quiet);
            }
            cmd(TextCommand::Delete {
                key: Bytes::copy_from_slice(key),
                noreply: quiet,
            })
        }
        b"incr" | b"decr" if n == 3 || n == 4 => {
            let name = if command == b"incr" { "incr" } else { "decr" };
            let quiet = noreply(tokens);
            let key = tokens[1];
            if !valid_key(key) {
                return error(name, BAD_FORMAT, quiet);
            }
            let Some(delta) = safe_strtoull(tokens[2]) else {
                return error(
                    name,
                    b"CLIENT_ERROR invalid numeric delta argument\r\n",
                    quiet,
                );
            };
            cmd(TextCommand::Arith {
                key: Bytes::copy_from_slice(key),
                incr: command == b"incr",
                delta,
                noreply: quiet,
            })
        }
        b"touch" if n == 3 || n == 4 => {
            let quiet = noreply(tokens);
            let key = tokens[1];
            if !valid_key(key) {
                return error("touch", BAD_FORMAT, quiet);
            }
            let Some(exptime) = safe_strtol32(tokens[2]) else {
                return error("touch", b"CLIENT_ERROR invalid exptime argument\r\n", quiet);
            };
            cmd(TextCommand::Touch {
                key: Bytes::copy_from_slice(key),
                exptime: i64::from(exptime),
                noreply: quiet,
            })
        }
        b"flush_all" if n <= 3 => {
            let quiet = noreply(tokens);
            let delay = if n == if quiet { 2 } else { 1 } {
                0
            } else {
                match safe_strtol32(tokens[1]) {
                    Some(d) => i64::from(d),
                    None => {
                        return error(
                            "flush_all",
                            b"CLIENT_ERROR invalid exptime argument\r\n",
                            quiet,
                        );
                    }
                }
            };
            cmd(TextCommand::FlushAll {
                delay,
                noreply: quiet,
            })
        }
        b"version" => cmd(TextCommand::Version),
        b"verbosity" if n == 2 || n == 3 => {
            let quiet = noreply(tokens);
            if safe_strtoul32(tokens[1]).is_none() {
                return error("verbosity", BAD_FORMAT, quiet);
            }
            cmd(TextCommand::Verbosity { noreply: quiet })
        }
        b"stats" => cmd(TextCommand::Stats {
            group: tokens.get(1).map(|g| Bytes::copy_from_slice(g)),
        }),
        b"quit" => LineOutcome::plain(Request::Quit),
        _ => error("unknown", b"ERROR\r\n", false),
    }
}

fn get(tokens: &[&[u8]], cas: bool, touch: Option<i64>, limits: &FrameLimits) -> LineOutcome {
    let name = match (touch.is_some(), cas) {
        (false, false) => "get",
        (false, true) => "gets",
        (true, false) => "gat",
        (true, true) => "gats",
    };
    let keys = tokens.get(1..).unwrap_or_default();
    if keys.len() > limits.max_keys {
        return error(name, b"CLIENT_ERROR too many keys\r\n", false);
    }
    if !keys.iter().all(|k| valid_key(k)) {
        return error(name, BAD_FORMAT, false);
    }
    cmd(TextCommand::Get {
        name,
        keys: keys.iter().map(|k| Bytes::copy_from_slice(k)).collect(),
        cas,
        touch,
    })
}

fn store(tokens: &[&[u8]], mode: StoreMode, limits: &FrameLimits) -> LineOutcome {
    let quiet = noreply(tokens);
    let name = TextCommand::Store {
        mode,
        key: Bytes::new(),
        flags: 0,
        exptime: 0,
        cas: 0,
        data: Bytes::new(),
        noreply: false,
    }
    .name();
    let key = tokens[1];
    if !valid_key(key) {
        return error(name, BAD_FORMAT, quiet);
    }
    let (Some(flags), Some(exptime), Some(vlen)) = (
        safe_strtoul32(tokens[2]),
        safe_strtol32(tokens[3]),
        safe_strtol32(tokens[4]),
    ) else {
        return error(name, BAD_FORMAT, quiet);
    };
    let cas = if mode == StoreMode::Cas {
        match safe_strtoull(tokens[5]) {
            Some(c) => c,
            None => return error(name, BAD_FORMAT, quiet),
        }
    } else {
        0
    };
    let Ok(vlen) = usize::try_from(vlen) else {
        return error(name, BAD_FORMAT, quiet);
    };
    if vlen > i32::MAX as usize - 2 {
        return error(name, BAD_FORMAT, quiet);
    }
    if vlen > limits.item_size_max {
        return LineOutcome {
            request: Request::Text(TextCommand::TooLarge {
                name,
                delete: (mode == StoreMode::Set).then(|| Bytes::copy_from_slice(key)),
                noreply: quiet,
            }),
            data_len: None,
            swallow: vlen + 2,
            loud_data_errors: false,
        };
    }
    LineOutcome {
        request: Request::Text(TextCommand::Store {
            mode,
            key: Bytes::copy_from_slice(key),
            flags,
            exptime: i64::from(exptime),
            cas,
            data: Bytes::new(),
            noreply: quiet,
        }),
        data_len: Some(vlen),
        swallow: 0,
        loud_data_errors: false,
    }
}
