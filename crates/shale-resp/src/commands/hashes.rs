//! Hash commands.

use bytes::Bytes;

use super::keys::{decode_cursor, encode_cursor, random_u64, scan_opts};
use super::{Cx, int_arg, parse_f64, parse_i64};
use crate::exec::{CmdError, CmdResult, fail};
use crate::layout::Kind;
use crate::resp::Reply;

fn arg(args: &[Bytes], i: usize) -> &[u8] {
    args.get(i).map_or(&[][..], |a| a.as_ref())
}

fn n(v: usize) -> Reply {
    Reply::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

fn set_fields(cx: &mut Cx<'_, '_>, args: &[Bytes], name: &str) -> CmdResult<usize> {
    if args.len() % 2 == 1 {
        return fail(&super::wrong_args(name));
    }
    let key = arg(args, 1);
    let rec = cx.ex.hash_for_write(key)?;
    let mut count = rec.hash_len();
    let mut added = 0;
    for pair in args.get(2..).unwrap_or(&[]).chunks(2) {
        if let [f, v] = pair {
            if cx.ex.hash_field(key, f)?.is_none() {
                added += 1;
                count += 1;
            }
            cx.ex.put_field(key, f, v)?;
        }
    }
    cx.ex.save_hash(key, &rec, count)?;
    Ok(added)
}

/// `HSET key field value [field value ...]`.
pub fn hset(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    Ok(n(set_fields(cx, args, "hset")?))
}

/// `HMSET key field value [field value ...]`.
pub fn hmset(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    set_fields(cx, args, "hmset")?;
    Ok(Reply::OK)
}

/// `HSETNX key field value`.
pub fn hsetnx(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let key = arg(args, 1);
    let rec = cx.ex.hash_for_write(key)?;
    if cx.ex.hash_field(key, arg(args, 2))?.is_some() {
        return Ok(Reply::Int(0));
    }
    cx.ex.put_field(key, arg(args, 2), arg(args, 3))?;
    cx.ex.save_hash(key, &rec, rec.hash_len() + 1)?;
    Ok(Reply::Int(1))
}

/// `HGET key field`.
pub fn hget(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let key = arg(args, 1);
    if cx.ex.lookup_kind(key, Kind::Hash)?.is_none() {
        return Ok(Reply::Nil);
    }
    Ok(cx
        .ex
        .hash_field(key, arg(args, 2))?
        .map_or(Reply::Nil, Reply::Bulk))
}

/// `HMGET key field...`.
pub fn hmget(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let key = arg(args, 1);
    let live = cx.ex.lookup_kind(key, Kind::Hash)?.is_some();
    let mut out = Vec::new();
    for f in args.iter().skip(2) {
        out.push(if live {
            cx.ex.hash_field(key, f)?.map_or(Reply::Nil, Reply::Bulk)
        } else {
            Reply::Nil
        });
    }
    Ok(Reply::Array(out))
}

fn all_fields(cx: &mut Cx<'_, '_>, key: &[u8]) -> CmdResult<Vec<(Bytes, Bytes)>> {
    if cx.ex.lookup_kind(key, Kind::Hash)?.is_none() {
        return Ok(Vec::new());
    }
    cx.ex.hash_all(key)
}

/// `HGETALL key`.
pub fn hgetall(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let rows = all_fields(cx, arg(args, 1))?;
    Ok(Reply::Map(
        rows.into_iter()
            .map(|(f, v)| (Reply::Bulk(f), Reply::Bulk(v)))
            .collect(),
    ))
}

/// `HKEYS key`.
pub fn hkeys(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let rows = all_fields(cx, arg(args, 1))?;
    Ok(Reply::Array(
        rows.into_iter().map(|(f, _)| Reply::Bulk(f)).collect(),
    ))
}

/// `HVALS key`.
pub fn hvals(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let rows = all_fields(cx, arg(args, 1))?;
    Ok(Reply::Array(
        rows.into_iter().map(|(_, v)| Reply::Bulk(v)).collect(),
    ))
}

/// `HDEL key field...`.
pub fn hdel(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let key = arg(args, 1);
    let Some(rec) = cx.ex.lookup_kind(key, Kind::Hash)? else {
        return Ok(Reply::Int(0));
    };
    let mut count = rec.hash_len();
    let mut removed = 0;
    for f in args.iter().skip(2) {
        if cx.ex.hash_field(key, f)?.is_some() {
            cx.ex.delete_field(key, f)?;
            removed += 1;
            count = count.saturating_sub(1);
        }
    }
    if removed > 0 {
        cx.ex.save_hash(key, &rec, count)?;
    }
    Ok(n(removed))
}

/// `HEXISTS key field`.
pub fn hexists(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let key = arg(args, 1);
    if cx.ex.lookup_kind(key, Kind::Hash)?.is_none() {
        return Ok(Reply::Int(0));
    }
    Ok(Reply::Int(i64::from(
        cx.ex.hash_field(key, arg(args, 2))?.is_some(),
    )))
}

/// `HLEN key`.
pub fn hlen(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let len = cx
        .ex
        .lookup_kind(arg(args, 1), Kind::Hash)?
        .map_or(0, |r| r.hash_len());
    Ok(Reply::Int(i64::try_from(len).unwrap_or(i64::MAX)))
}

/// `HSTRLEN key field`.
pub fn hstrlen(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let key = arg(args, 1);
    if cx.ex.lookup_kind(key, Kind::Hash)?.is_none() {
        return Ok(Reply::Int(0));
    }
    Ok(n(cx
        .ex
        .hash_field(key, arg(args, 2))?
        .map_or(0, |v| v.len())))
}

/// `HINCRBY key field n`.
pub fn hincrby(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let by = int_arg(arg(args, 3))?;
    let key = arg(args, 1);
    let field = arg(args, 2);
    let rec = cx.ex.hash_for_write(key)?;
    let old = cx.ex.hash_field(key, field)?;
    let cur = match &old {
        Some(v) => parse_i64(v)
            .ok_or_else(|| CmdError::Reply("ERR hash value is not an integer".into()))?,
        None => 0,
    };
    let new = cur
        .checked_add(by)
        .ok_or_else(|| CmdError::Reply("ERR increment or decrement would overflow".into()))?;
    cx.ex.put_field(key, field, new.to_string().as_bytes())?;
    let count = rec.hash_len() + u64::from(old.is_none());
    cx.ex.save_hash(key, &rec, count)?;
    Ok(Reply::Int(new))
}

/// `HINCRBYFLOAT key field incr`.
pub fn hincrbyfloat(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let incr = arg(args, 3);
    if parse_f64(incr).is_none() {
        return fail("ERR value is not a valid float");
    }
    let key = arg(args, 1);
    let field = arg(args, 2);
    let rec = cx.ex.hash_for_write(key)?;
    let old = cx.ex.hash_field(key, field)?;
    let cur = old.clone().unwrap_or_else(|| Bytes::from_static(b"0"));
    if parse_f64(&cur).is_none() {
        return fail("ERR hash value is not a float");
    }
    let new = match super::strings::float_add(&cur, incr) {
        Ok(s) => s,
        Err(true) => return fail("ERR hash value is not a float"),
        Err(false) => return fail("ERR increment would produce NaN or Infinity"),
    };
    cx.ex.put_field(key, field, new.as_bytes())?;
    let count = rec.hash_len() + u64::from(old.is_none());
    cx.ex.save_hash(key, &rec, count)?;
    Ok(Reply::bulk(new))
}

/// `HSCAN key cursor [MATCH pattern] [COUNT n]` (the cursor encodes the last field).
pub fn hscan(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let key = arg(args, 1);
    let after = decode_cursor(arg(args, 2))?;
    // As in Redis: the cursor, then the key (a missing one answers an empty scan
    // whatever the options say, a string WRONGTYPE), then the options.
    if cx.ex.lookup_kind(key, Kind::Hash)?.is_none() {
        return Ok(Reply::Array(vec![
            Reply::bulk("0"),
            Reply::Array(Vec::new()),
        ]));
    }
    let o = scan_opts(args, 3, false)?;
    let rows = cx.ex.hash_page(key, after.as_deref(), o.count)?;
    let cursor = match rows.last() {
        Some((f, _)) if rows.len() == o.count && !cx.ex.hash_page(key, Some(f), 1)?.is_empty() => {
            encode_cursor(f)
        }
        _ => "0".into(),
    };
    let mut out = Vec::new();
    for (f, v) in rows {
        if o.pattern
            .as_ref()
            .is_none_or(|p| crate::glob::matches(p, &f))
        {
            out.push(Reply::Bulk(f));
            out.push(Reply::Bulk(v));
        }
    }
    Ok(Reply::Array(vec![Reply::bulk(cursor), Reply::Array(out)]))
}

/// `HRANDFIELD key [count [WITHVALUES]]`.
pub fn hrandfield(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let key = arg(args, 1);
    let count = match args.get(2) {
        Some(c) => Some(int_arg(c)?),
        None => None,
    };
    let with_values = match args.get(3) {
        Some(a) if super::is(a, "withvalues") && args.len() == 4 => true,
        Some(_) => return fail("ERR syntax error"),
        None => false,
    };
    let rows = all_fields(cx, key)?;
    let mut seed = random_u64() | 1;
    let mut next = |n: usize| {
        // xorshift64
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        usize::try_from(seed % (n.max(1) as u64)).unwrap_or(0)
    };
    let Some(count) = count else {
        if rows.is_empty() {
            return Ok(Reply::Nil);
        }
        let i = next(rows.len());
        return Ok(rows
            .get(i)
            .map_or(Reply::Nil, |(f, _)| Reply::Bulk(f.clone())));
    };
    if count < -(i64::MAX / 2) {
        return fail("ERR value is out of range");
    }
    let picks: Vec<(Bytes, Bytes)> = if count >= 0 {
        let want = usize::try_from(count).unwrap_or(usize::MAX).min(rows.len());
        let mut rows = rows;
        for i in 0..want {
            let j = i + next(rows.len() - i);
            rows.swap(i, j);
        }
        rows.truncate(want);
        rows
    } else if rows.is_empty() {
        Vec::new()
    } else {
        let want = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
        if want > cx.srv.ctx.limits.max_items_per_command {
            return fail("ERR value is out of range");
        }
        (0..want)
            .filter_map(|_| rows.get(next(rows.len())).cloned())
            .collect()
    };
    let proto3 = cx.sess.proto >= 3;
    let mut out = Vec::new();
    for (f, v) in picks {
        if with_values && proto3 {
            out.push(Reply::Array(vec![Reply::Bulk(f), Reply::Bulk(v)]));
        } else {
            out.push(Reply::Bulk(f));
            if with_values {
                out.push(Reply::Bulk(v));
            }
        }
    }
    Ok(Reply::Array(out))
}
