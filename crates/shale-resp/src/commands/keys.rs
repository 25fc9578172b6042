//! Generic key commands: DEL, EXISTS, TYPE, RENAME, COPY, expiry, KEYS, SCAN.

use bytes::Bytes;

use super::{Cx, HEADER_BYTES, ReplyBudget, int_arg, is};
use crate::exec::{CmdError, CmdResult, fail};
use crate::layout::{self, Kind, Record};
use crate::resp::Reply;

fn arg(args: &[Bytes], i: usize) -> &[u8] {
    args.get(i).map_or(&[][..], |a| a.as_ref())
}

fn n(v: usize) -> Reply {
    Reply::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

/// `DEL key...` and `UNLINK key...`.
pub fn del(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let mut count = 0;
    for k in args.iter().skip(1) {
        if cx.ex.remove(k)? {
            count += 1;
        }
    }
    Ok(n(count))
}

/// `EXISTS key...` (a key named twice counts twice).
pub fn exists(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let mut count = 0;
    for k in args.iter().skip(1) {
        if cx.ex.read(k)?.is_some() {
            count += 1;
        }
    }
    Ok(n(count))
}

/// `TYPE key`.
pub fn type_(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::Simple(
        cx.ex.read(arg(args, 1))?.map_or("none", |r| r.kind.name()),
    ))
}

/// Copies `src`'s value (record and hash fields) to `dst`, replacing `dst`.
fn copy_value(cx: &mut Cx<'_, '_>, src: &[u8], rec: &Record, dst: &[u8]) -> CmdResult<()> {
    let fields = if rec.kind == Kind::Hash {
        cx.ex.hash_all(src)?
    } else {
        Vec::new()
    };
    cx.ex.remove(dst)?;
    if rec.kind == Kind::Hash {
        cx.ex.clear_fields(dst)?;
        for (f, v) in &fields {
            cx.ex.put_field(dst, f, v)?;
        }
    }
    cx.ex.write_record(dst, rec)
}

fn rename_generic(cx: &mut Cx<'_, '_>, args: &[Bytes], nx: bool) -> CmdResult {
    let (src, dst) = (arg(args, 1), arg(args, 2));
    let Some(rec) = cx.ex.lookup(src)? else {
        return fail("ERR no such key");
    };
    if src == dst {
        return Ok(if nx { Reply::Int(0) } else { Reply::OK });
    }
    if nx && cx.ex.lookup(dst)?.is_some() {
        return Ok(Reply::Int(0));
    }
    copy_value(cx, src, &rec, dst)?;
    cx.ex.delete_key(src, Some(rec.kind))?;
    Ok(if nx { Reply::Int(1) } else { Reply::OK })
}

/// `RENAME key newkey`.
pub fn rename(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    rename_generic(cx, args, false)
}

/// `RENAMENX key newkey`.
pub fn renamenx(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    rename_generic(cx, args, true)
}

/// The `DB n` option of `COPY`, if any (used for locking too).
pub(crate) fn copy_target_db(args: &[Bytes]) -> Option<i64> {
    let mut j = 3;
    let mut db = None;
    while let Some(a) = args.get(j) {
        if is(a, "db") {
            db = args.get(j + 1).and_then(|v| super::parse_i64(v));
            j += 1;
        }
        j += 1;
    }
    db
}

/// `COPY source destination [DB n] [REPLACE]`.
pub fn copy(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let (src, dst) = (arg(args, 1), arg(args, 2));
    let mut replace = false;
    let mut target = cx.ex.db;
    let mut j = 3;
    while let Some(a) = args.get(j) {
        if is(a, "replace") {
            replace = true;
        } else if is(a, "db") && args.get(j + 1).is_some() {
            let db = int_arg(arg(args, j + 1))?;
            target = match usize::try_from(db) {
                Ok(d) if d < cx.srv.dbs.len() => d,
                _ => return fail("ERR DB index is out of range"),
            };
            j += 1;
        } else {
            return fail("ERR syntax error");
        }
        j += 1;
    }
    let here = cx.ex.db;
    if src == dst && target == here {
        return fail("ERR source and destination objects are the same");
    }
    let Some(rec) = cx.ex.read(src)? else {
        return Ok(Reply::Int(0));
    };
    let fields = if rec.kind == Kind::Hash {
        cx.ex.hash_all(src)?
    } else {
        Vec::new()
    };
    cx.ex.db = target;
    let r = (|| {
        if cx.ex.lookup(dst)?.is_some() && !replace {
            return Ok(Reply::Int(0));
        }
        cx.ex.remove(dst)?;
        if rec.kind == Kind::Hash {
            cx.ex.clear_fields(dst)?;
            for (f, v) in &fields {
                cx.ex.put_field(dst, f, v)?;
            }
        }
        cx.ex.write_record(dst, &rec)?;
        Ok(Reply::Int(1))
    })();
    cx.ex.db = here;
    r
}

fn expire_generic(
    cx: &mut Cx<'_, '_>,
    args: &[Bytes],
    ms_unit: bool,
    absolute: bool,
    cmd: &str,
) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in args.iter().skip(3) {
        if is(a, "nx") {
            nx = true;
        } else if is(a, "xx") {
            xx = true;
        } else if is(a, "gt") {
            gt = true;
        } else if is(a, "lt") {
            lt = true;
        } else {
            return fail(&format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(a)
            ));
        }
    }
    if nx && (xx || gt || lt) {
        return fail("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return fail("ERR GT and LT options at the same time are not compatible");
    }
    let v = int_arg(arg(args, 2))?;
    let bad = || CmdError::Reply(format!("ERR invalid expire time in '{cmd}' command"));
    let mut when = v;
    if !ms_unit {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return Err(bad());
        }
        when *= 1000;
    }
    if !absolute {
        when = when
            .checked_add(i64::try_from(cx.ex.now).unwrap_or(i64::MAX))
            .ok_or_else(bad)?;
    }
    let key = arg(args, 1);
    let Some(mut rec) = cx.ex.lookup(key)? else {
        return Ok(Reply::Int(0));
    };
    let cur = rec.expiry;
    if nx && cur != 0 || xx && cur == 0 {
        return Ok(Reply::Int(0));
    }
    let cur_i = i64::try_from(cur).unwrap_or(i64::MAX);
    if gt && (cur == 0 || when <= cur_i) {
        return Ok(Reply::Int(0));
    }
    if lt && cur != 0 && when >= cur_i {
        return Ok(Reply::Int(0));
    }
    let now = i64::try_from(cx.ex.now).unwrap_or(i64::MAX);
    if when <= now {
        cx.ex.delete_key(key, Some(rec.kind))?;
        return Ok(Reply::Int(1));
    }
    rec.expiry = u64::try_from(when).unwrap_or(u64::MAX);
    cx.ex.write_record(key, &rec)?;
    Ok(Reply::Int(1))
}

/// `EXPIRE key seconds [NX|XX|GT|LT]`.
pub fn expire(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    expire_generic(cx, args, false, false, "expire")
}

/// `PEXPIRE key ms [NX|XX|GT|LT]`.
pub fn pexpire(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    expire_generic(cx, args, true, false, "pexpire")
}

/// `EXPIREAT key unix-seconds [NX|XX|GT|LT]`.
pub fn expireat(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    expire_generic(cx, args, false, true, "expireat")
}

/// `PEXPIREAT key unix-ms [NX|XX|GT|LT]`.
pub fn pexpireat(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    expire_generic(cx, args, true, true, "pexpireat")
}

fn ttl_generic(cx: &mut Cx<'_, '_>, args: &[Bytes], ms: bool, absolute: bool) -> CmdResult {
    let Some(rec) = cx.ex.read(arg(args, 1))? else {
        return Ok(Reply::Int(-2));
    };
    if rec.expiry == 0 {
        return Ok(Reply::Int(-1));
    }
    let e = i64::try_from(rec.expiry).unwrap_or(i64::MAX);
    if absolute {
        return Ok(Reply::Int(if ms { e } else { e / 1000 }));
    }
    let left = e
        .saturating_sub(i64::try_from(cx.ex.now).unwrap_or(0))
        .max(0);
    Ok(Reply::Int(if ms {
        left
    } else {
        left.saturating_add(500) / 1000
    }))
}

/// `TTL key`.
pub fn ttl(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    ttl_generic(cx, args, false, false)
}

/// `PTTL key`.
pub fn pttl(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    ttl_generic(cx, args, true, false)
}

/// `EXPIRETIME key`.
pub fn expiretime(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    ttl_generic(cx, args, false, true)
}

/// `PEXPIRETIME key`.
pub fn pexpiretime(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    ttl_generic(cx, args, true, true)
}

/// `PERSIST key`.
pub fn persist(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let key = arg(args, 1);
    match cx.ex.lookup(key)? {
        Some(mut rec) if rec.expiry != 0 => {
            rec.expiry = 0;
            cx.ex.write_record(key, &rec)?;
            Ok(Reply::Int(1))
        }
        _ => Ok(Reply::Int(0)),
    }
}

/// Live keys after `after` (from the start when `None`), examining at most `limit`
/// key records; returns (key, record) pairs and the last key examined.
/// Live (key, record) pairs of one page, and the last key examined.
type KeyPage = (Vec<(Bytes, Record)>, Option<Bytes>);

pub(crate) fn key_page(
    cx: &mut Cx<'_, '_>,
    after: Option<&[u8]>,
    limit: usize,
) -> CmdResult<KeyPage> {
    let start = match after {
        Some(k) => layout::record_key(k).into_vec(),
        None => vec![layout::KEY_PREFIX],
    };
    let end = [layout::KEY_PREFIX + 1];
    let rows = cx.ex.scan_raw(&start, after.is_some(), &end, limit)?;
    let last = rows.last().map(|(k, _)| k.slice(1..));
    let now = cx.ex.now;
    let live = rows
        .into_iter()
        .filter_map(|(k, v)| {
            let rec = Record::decode(&v)?;
            (!rec.expired(now)).then(|| (k.slice(1..), rec))
        })
        .collect();
    Ok((live, last))
}

/// `KEYS pattern`: one pass over the key records, the reply bounded by the output
/// limit as it grows.
pub fn keys(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let pat = arg(args, 1).to_vec();
    let all = pat == b"*";
    let now = cx.ex.now;
    let mut budget = ReplyBudget::new(cx, "use SCAN");
    budget.take(HEADER_BYTES)?;
    let mut out = Vec::new();
    let end = [layout::KEY_PREFIX + 1];
    cx.ex
        .scan_each(&[layout::KEY_PREFIX], false, &end, |k, v| {
            let key = k.slice(1..);
            if (all || crate::glob::matches(&pat, &key))
                && Record::decode(&v).is_some_and(|r| !r.expired(now))
            {
                budget.bulk(key.len())?;
                out.push(Reply::Bulk(key));
            }
            Ok(true)
        })?;
    Ok(Reply::Array(out))
}

/// Encodes a SCAN cursor: `1` followed by each byte of the last key as three
/// decimal digits (so it is a decimal integer clients can parse).
pub fn encode_cursor(last: &[u8]) -> String {
    let mut s = String::with_capacity(1 + last.len() * 3);
    s.push('1');
    for b in last {
        s.push_str(&format!("{b:03}"));
    }
    s
}

/// Decodes a SCAN cursor: `None` for 0 (start), `Some(key)` otherwise. Like Redis
/// (`strtoul` with nothing left over), 0 may be spelled `00`, `+0`, `-0` or empty.
pub fn decode_cursor(c: &[u8]) -> CmdResult<Option<Vec<u8>>> {
    let bad = || CmdError::Reply("ERR invalid cursor".into());
    let unsigned = c
        .strip_prefix(b"+")
        .or_else(|| c.strip_prefix(b"-"))
        .unwrap_or(c);
    if c.is_empty() || (!unsigned.is_empty() && unsigned.iter().all(|&b| b == b'0')) {
        return Ok(None);
    }
    let digits = c.strip_prefix(b"1").ok_or_else(bad)?;
    if digits.len() % 3 != 0 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let mut out = Vec::with_capacity(digits.len() / 3);
    for d in digits.chunks(3) {
        let v = d
            .iter()
            .fold(0u32, |acc, &x| acc * 10 + u32::from(x - b'0'));
        out.push(u8::try_from(v).map_err(|_| bad())?);
    }
    Ok(Some(out))
}

/// Parsed `[MATCH p] [COUNT n] [TYPE t]` options.
pub(crate) struct ScanOpts {
    pub pattern: Option<Bytes>,
    pub count: usize,
    pub kind: Option<Bytes>,
}

pub(crate) fn scan_opts(args: &[Bytes], from: usize, allow_type: bool) -> CmdResult<ScanOpts> {
    let mut o = ScanOpts {
        pattern: None,
        count: 10,
        kind: None,
    };
    let mut j = from;
    while let Some(a) = args.get(j) {
        let v = args.get(j + 1);
        match v {
            Some(v) if is(a, "count") => {
                let c = int_arg(v)?;
                if c < 1 {
                    return fail("ERR syntax error");
                }
                o.count = usize::try_from(c).unwrap_or(usize::MAX).min(1_000_000);
            }
            Some(v) if is(a, "match") => o.pattern = Some(v.clone()),
            Some(v) if allow_type && is(a, "type") => o.kind = Some(v.clone()),
            _ => return fail("ERR syntax error"),
        }
        j += 2;
    }
    Ok(o)
}

/// `SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]`: examines `COUNT` key
/// records after the cursor, the reply bounded by the output limit as it grows.
pub fn scan(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let after = decode_cursor(arg(args, 1))?;
    let o = scan_opts(args, 2, true)?;
    let start = match &after {
        Some(k) => layout::record_key(k).into_vec(),
        None => vec![layout::KEY_PREFIX],
    };
    let now = cx.ex.now;
    let mut budget = ReplyBudget::new(cx, "use a smaller COUNT");
    budget.take(2 * HEADER_BYTES)?;
    let (mut examined, mut typed) = (0usize, 0u64);
    let mut last: Option<Bytes> = None;
    let mut more = false;
    let mut keys = Vec::new();
    let end = [layout::KEY_PREFIX + 1];
    cx.ex.scan_each(&start, after.is_some(), &end, |k, v| {
        if examined == o.count {
            // One record past the page: the cursor goes on.
            more = true;
            return Ok(false);
        }
        examined += 1;
        let key = k.slice(1..);
        last = Some(key.clone());
        let Some(rec) = Record::decode(&v) else {
            return Ok(true);
        };
        if rec.expired(now)
            || o.pattern
                .as_ref()
                .is_some_and(|p| !crate::glob::matches(p, &key))
        {
            return Ok(true);
        }
        if let Some(t) = &o.kind {
            // Redis looks up each key that matched the pattern to learn its type:
            // a keyspace hit.
            typed += 1;
            if !t.eq_ignore_ascii_case(rec.kind.name().as_bytes()) {
                return Ok(true);
            }
        }
        budget.bulk(key.len())?;
        keys.push(Reply::Bulk(key));
        Ok(true)
    })?;
    cx.ex.count_hits(typed);
    let cursor = match (&last, more) {
        (Some(l), true) => encode_cursor(l),
        _ => "0".into(),
    };
    budget.bulk(cursor.len())?;
    Ok(Reply::Array(vec![Reply::bulk(cursor), Reply::Array(keys)]))
}

/// A pseudo-random u64 (std's randomly seeded hasher; no crate needed).
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos().into()),
    );
    h.finish()
}

/// `RANDOMKEY`.
pub fn randomkey(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let _ = args;
    let r = random_u64().to_be_bytes();
    let probe = r.get(..2).unwrap_or(&[]);
    let (rows, _) = key_page(cx, Some(probe), 64)?;
    if let Some((k, _)) = rows.into_iter().next() {
        return Ok(Reply::Bulk(k));
    }
    // Past the last key: the first live key from the start.
    let now = cx.ex.now;
    let mut first = None;
    let end = [layout::KEY_PREFIX + 1];
    cx.ex
        .scan_each(&[layout::KEY_PREFIX], false, &end, |k, v| {
            if Record::decode(&v).is_some_and(|r| !r.expired(now)) {
                first = Some(k.slice(1..));
                return Ok(false);
            }
            Ok(true)
        })?;
    Ok(first.map_or(Reply::Nil, Reply::Bulk))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_roundtrip() {
        for key in [&b""[..], b"a", b"\x00\xff", b"user:42"] {
            let c = encode_cursor(key);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(decode_cursor(c.as_bytes()).unwrap().unwrap(), key);
        }
        for zero in [&b"0"[..], b"", b"00", b"+0", b"-0"] {
            assert!(decode_cursor(zero).unwrap().is_none());
        }
        for bad in [&b"+"[..], b"-", b" 0", b"0 ", b"0x0"] {
            assert!(decode_cursor(bad).is_err());
        }
        assert!(decode_cursor(b"12").is_err());
        assert!(decode_cursor(b"1999").is_err());
    }
}
