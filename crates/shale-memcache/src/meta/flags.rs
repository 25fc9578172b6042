//! Meta command lines → [`MetaCommand`]s: key, data length and flags.

use bytes::Bytes;

use crate::base64;
use crate::frame::{FrameLimits, LineOutcome};
use crate::numbers::{safe_strtol32, safe_strtoul32, safe_strtoull};
use crate::request::Request;
use crate::text::parse::KEY_MAX_LENGTH;

/// Which meta command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaKind {
    /// `mg`: get.
    Get,
    /// `ms`: set.
    Set,
    /// `md`: delete.
    Delete,
    /// `ma`: arithmetic.
    Arith,
    /// `mn`: no-op (flushes quiet mode).
    Noop,
    /// `me`: debug dump of an item.
    Debug,
}

impl MetaKind {
    /// The metric name.
    pub fn name(self) -> &'static str {
        match self {
            MetaKind::Get => "mg",
            MetaKind::Set => "ms",
            MetaKind::Delete => "md",
            MetaKind::Arith => "ma",
            MetaKind::Noop => "mn",
            MetaKind::Debug => "me",
        }
    }

    /// The flags this command accepts (memcached 1.6.18's lists, plus `E` and `x`:
    /// `ms` takes `N` and ignores it; `S` is not an `ms` flag).
    fn allowed(self) -> &'static [u8] {
        match self {
            MetaKind::Get => b"bcfhklOqstuvENRT",
            MetaKind::Set => b"bcCEFIkOqsTMftN",
            MetaKind::Delete => b"bCEIkOqTx",
            MetaKind::Arith => b"bCENJDTMOqtcvk",
            MetaKind::Noop | MetaKind::Debug => b"b",
        }
    }
}

/// The flags of one meta command.
#[derive(Clone, Debug, Default)]
pub struct MetaFlags {
    /// Flags that produce output (and `T`/`N`, which `mg` applies in order), in
    /// the order sent.
    pub returns: Vec<u8>,
    /// `b`: the key is base64.
    pub base64: bool,
    /// `q`: quiet mode.
    pub quiet: bool,
    /// `v`: return the value.
    pub value: bool,
    /// `O`: opaque token echoed back.
    pub opaque: Option<Bytes>,
    /// `T`: new TTL in seconds.
    pub ttl: Option<i64>,
    /// `N`: vivify on miss with this TTL (`mg`, `ma`; `ms` parses and ignores it,
    /// as memcached 1.6.18 does).
    pub vivify: Option<i64>,
    /// `R`: recache window (accepted; see docs).
    pub recache: Option<i64>,
    /// `C`: compare CAS.
    pub compare_cas: Option<u64>,
    /// `E`: explicit new CAS.
    pub new_cas: Option<u64>,
    /// `F`: client flags to set.
    pub client_flags: Option<u32>,
    /// `I`: invalidate (mark stale) instead of failing/deleting.
    pub invalidate: bool,
    /// `M`: mode character.
    pub mode: Option<u8>,
    /// `D`: delta.
    pub delta: Option<u64>,
    /// `J`: initial value for autovivified counters.
    pub initial: Option<u64>,
    /// `x`: `md` removes the value but keeps the item.
    pub remove_value: bool,
    /// `u`: do not bump the item in the LRU (accepted, no effect).
    pub no_bump: bool,
}

/// A parsed meta command.
#[derive(Debug)]
pub struct MetaCommand {
    /// Which command.
    pub kind: MetaKind,
    /// The key (decoded if base64).
    pub key: Bytes,
    /// The key as sent (for the `k` flag).
    pub key_token: Bytes,
    /// The flags.
    pub flags: MetaFlags,
    /// The value (`ms`; filled in by the framer).
    pub data: Bytes,
}

const BAD_FORMAT: &[u8] = b"CLIENT_ERROR bad command line format\r\n";
const BAD_TOKEN: &[u8] = b"CLIENT_ERROR bad token in command line format\r\n";

fn error(name: &'static str, reply: &'static [u8], swallow: usize) -> LineOutcome {
    LineOutcome {
        request: Request::error(name, reply),
        data_len: None,
        swallow,
        loud_data_errors: true,
    }
}

/// Parses a meta command line.
pub fn parse(tokens: &[&[u8]], limits: &FrameLimits) -> LineOutcome {
    let kind = match tokens.first().copied() {
        Some(b"mg") => MetaKind::Get,
        Some(b"ms") => MetaKind::Set,
        Some(b"md") => MetaKind::Delete,
        Some(b"ma") => MetaKind::Arith,
        Some(b"me") => MetaKind::Debug,
        _ => MetaKind::Noop,
    };
    let name = kind.name();
    if kind == MetaKind::Noop {
        return LineOutcome::plain(Request::Meta(Box::new(MetaCommand {
            kind,
            key: Bytes::new(),
            key_token: Bytes::new(),
            flags: MetaFlags::default(),
            data: Bytes::new(),
        })));
    }
    let Some(&key_token) = tokens.get(1) else {
        return error("unknown", b"ERROR\r\n", 0);
    };
    let mut rest = tokens.get(2..).unwrap_or_default();
    // ms: the data length comes first; after it is known, errors discard the data.
    let mut swallow = 0;
    let mut data_len = None;
    if kind == MetaKind::Set {
        let Some((len, r)) = rest.split_first() else {
            return error(name, BAD_FORMAT, 0);
        };
        let Some(len) = safe_strtol32(len).and_then(|l| usize::try_from(l).ok()) else {
            return error(name, BAD_FORMAT, 0);
        };
        if len > i32::MAX as usize - 2 {
            return error(name, BAD_FORMAT, 0);
        }
        swallow = len + 2;
        if len > limits.item_size_max {
            return error(
                name,
                b"SERVER_ERROR object too large for cache\r\n",
                swallow,
            );
        }
        data_len = Some(len);
        rest = r;
    }
    if key_token.len() > KEY_MAX_LENGTH {
        return error(name, BAD_FORMAT, swallow);
    }
    let flags = match parse_flags(kind, rest) {
        Ok(f) => f,
        Err(e) => return error(name, e, swallow),
    };
    let key = if flags.base64 {
        match base64::decode(key_token) {
            Some(k) if !k.is_empty() && k.len() <= KEY_MAX_LENGTH => Bytes::from(k),
            _ => return error(name, b"CLIENT_ERROR error decoding key\r\n", swallow),
        }
    } else {
        if key_token.iter().any(|&c| c < 0x20 || c == 0x7f) {
            return error(name, BAD_FORMAT, swallow);
        }
        Bytes::copy_from_slice(key_token)
    };
    LineOutcome {
        request: Request::Meta(Box::new(MetaCommand {
            kind,
            key,
            key_token: Bytes::copy_from_slice(key_token),
            flags,
            data: Bytes::new(),
        })),
        data_len,
        swallow: 0,
        loud_data_errors: true,
    }
}

fn parse_flags(kind: MetaKind, tokens: &[&[u8]]) -> Result<MetaFlags, &'static [u8]> {
    let mut f = MetaFlags::default();
    let mut seen = [false; 128];
    let arith = kind == MetaKind::Arith;
    // memcached 1.6's error wording differs by command.
    let md_ma = matches!(kind, MetaKind::Delete | MetaKind::Arith);
    let either: &'static [u8] = b"CLIENT_ERROR invalid or duplicate flag\r\n";
    let invalid: &'static [u8] = if md_ma {
        either
    } else {
        b"CLIENT_ERROR invalid flag\r\n"
    };
    let duplicate: &'static [u8] = if md_ma {
        either
    } else {
        b"CLIENT_ERROR duplicate flag\r\n"
    };
    let numeric_error: &'static [u8] = if md_ma { either } else { BAD_TOKEN };
    for t in tokens {
        let Some((&c, val)) = t.split_first() else {
            continue;
        };
        if !kind.allowed().contains(&c) {
            return Err(invalid);
        }
        let slot = seen.get_mut(usize::from(c)).ok_or(invalid)?;
        if *slot {
            return Err(duplicate);
        }
        *slot = true;
        let int = |v: &[u8]| safe_strtol32(v).map(i64::from).ok_or(numeric_error);
        let uint = |v: &[u8]| safe_strtoull(v).ok_or(numeric_error);
        match c {
            b'b' => {
                f.base64 = true;
                f.returns.push(c);
            }
            b'q' => f.quiet = true,
            b'v' => f.value = true,
            b'u' => f.no_bump = true,
            b'x' => f.remove_value = true,
            b'I' => f.invalidate = true,
            b'O' => {
                f.opaque = Some(Bytes::copy_from_slice(val));
                f.returns.push(c);
            }
            b'c' | b'f' | b'h' | b'k' | b'l' | b's' | b't' => f.returns.push(c),
            b'T' => {
                f.ttl = Some(int(val)?);
                f.returns.push(c);
            }
            b'N' => {
                f.vivify = Some(int(val)?);
                f.returns.push(c);
            }
            b'R' => {
                f.recache = Some(int(val)?);
                f.returns.push(c);
            }
            b'C' => f.compare_cas = Some(uint(val)?),
            b'E' if kind == MetaKind::Set => {
                f.new_cas = Some(safe_strtoull(val).ok_or(invalid)?);
            }
            b'E' => f.new_cas = Some(uint(val)?),
            b'F' if kind == MetaKind::Set => {
                f.client_flags = Some(safe_strtoul32(val).ok_or(BAD_FORMAT)?);
            }
            b'F' => f.client_flags = Some(safe_strtoul32(val).ok_or(numeric_error)?),
            b'D' => f.delta = Some(uint(val)?),
            b'J' => f.initial = Some(uint(val)?),
            b'M' => {
                let m = val.first().copied().unwrap_or(0);
                let ok = if arith {
                    matches!(m, b'I' | b'+' | b'D' | b'-')
                } else {
                    matches!(m, b'E' | b'A' | b'P' | b'R' | b'S')
                };
                if !ok || val.len() != 1 {
                    return Err(if arith {
                        b"CLIENT_ERROR invalid mode for ma M token\r\n"
                    } else {
                        b"CLIENT_ERROR invalid mode for ms M token\r\n"
                    });
                }
                f.mode = Some(m);
            }
            _ => return Err(invalid),
        }
    }
    Ok(f)
}
