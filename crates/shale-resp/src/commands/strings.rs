//! String commands: GET, SET and friends, counters, ranges.

use bytes::{Bytes, BytesMut};

use super::{Cx, int_arg, is, parse_f64, parse_i64};
use crate::exec::{CmdError, CmdResult, fail};
use crate::layout::Kind;
use crate::resp::Reply;

const SYNTAX: &str = "ERR syntax error";

fn arg(args: &[Bytes], i: usize) -> &[u8] {
    args.get(i).map_or(&[][..], |a| a.as_ref())
}

/// The largest string a command may build.
pub(crate) fn max_string(cx: &Cx<'_, '_>) -> usize {
    cx.srv.ctx.limits.max_request_bytes.min(512 * 1024 * 1024)
}

fn too_big() -> CmdError {
    CmdError::Reply("ERR string exceeds maximum allowed size (proto-max-bulk-len)".into())
}

/// `GET key`.
pub fn get(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    Ok(cx
        .ex
        .get_string(arg(args, 1))?
        .map_or(Reply::Nil, Reply::Bulk))
}

#[derive(Default)]
struct ExtOpts {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    /// (unit ms?, absolute?, argument)
    expire: Option<(bool, bool, Bytes)>,
}

/// Parses SET / GETEX options from `args[start..]` (Redis's
/// `parseExtendedStringArgumentsOrReply`).
fn parse_ext(args: &[Bytes], start: usize, is_set: bool) -> CmdResult<ExtOpts> {
    let mut o = ExtOpts::default();
    let mut j = start;
    while let Some(opt) = args.get(j) {
        let next = args.get(j + 1);
        let exp_kind = o.expire.as_ref().map(|(ms, abs, _)| (*ms, *abs));
        let other_exp = |me: (bool, bool)| exp_kind.is_some_and(|k| k != me);
        if is_set && is(opt, "nx") && !o.xx {
            o.nx = true;
        } else if is_set && is(opt, "xx") && !o.nx {
            o.xx = true;
        } else if is_set && is(opt, "get") {
            o.get = true;
        } else if is_set && is(opt, "keepttl") && !o.persist && exp_kind.is_none() {
            o.keepttl = true;
        } else if !is_set && is(opt, "persist") && !o.keepttl && exp_kind.is_none() {
            o.persist = true;
        } else if let (Some(me), Some(n)) = (
            if is(opt, "ex") {
                Some((false, false))
            } else if is(opt, "px") {
                Some((true, false))
            } else if is(opt, "exat") {
                Some((false, true))
            } else if is(opt, "pxat") {
                Some((true, true))
            } else {
                None
            },
            next,
        ) {
            if o.keepttl || o.persist || other_exp(me) {
                return fail(SYNTAX);
            }
            o.expire = Some((me.0, me.1, n.clone()));
            j += 1;
        } else {
            return fail(SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// Converts an expire argument to an absolute ms time (Redis's
/// `getExpireMillisecondsOrReply`).
fn expire_ms(now: u64, ms_unit: bool, absolute: bool, a: &[u8], cmd: &str) -> CmdResult<u64> {
    let v = int_arg(a)?;
    let bad = || CmdError::Reply(format!("ERR invalid expire time in '{cmd}' command"));
    if v <= 0 || (!ms_unit && v > i64::MAX / 1000) {
        return Err(bad());
    }
    let mut ms = if ms_unit { v } else { v * 1000 };
    if !absolute {
        ms = ms
            .checked_add(i64::try_from(now).unwrap_or(i64::MAX))
            .ok_or_else(bad)?;
    }
    u64::try_from(ms).map_err(|_| bad())
}

/// The shared body of SET, SETNX, SETEX, PSETEX, GETSET.
fn set_generic(
    cx: &mut Cx<'_, '_>,
    key: &[u8],
    value: Bytes,
    o: &ExtOpts,
    cmd: &str,
) -> CmdResult<Option<Reply>> {
    let expiry = match &o.expire {
        Some((ms, abs, a)) => expire_ms(cx.ex.now, *ms, *abs, a, cmd)?,
        None => 0,
    };
    // With GET the old value is read (a keyspace hit or miss, as Redis's
    // getGenericCommand counts); without, only its existence and TTL matter. A
    // plain SET needs the old record only to clear a hash's fields: without a hash
    // marker there is none, and the record is not read at all.
    let plain = !(o.get || o.nx || o.xx || o.keepttl);
    let old = if plain && !cx.ex.may_be_hash(key)? {
        None
    } else if o.get {
        cx.ex.read(key)?
    } else {
        cx.ex.lookup(key)?
    };
    let mut reply = None;
    if o.get {
        reply = Some(match &old {
            Some(r) if r.kind != Kind::String => return fail(crate::exec::WRONGTYPE),
            Some(r) => Reply::Bulk(r.payload.clone()),
            None => Reply::Nil,
        });
    }
    let found = old.is_some();
    if (o.nx && found) || (o.xx && !found) {
        return Ok(Some(reply.unwrap_or(Reply::Nil)));
    }
    let expiry = if o.keepttl {
        old.as_ref().map_or(0, |r| r.expiry)
    } else {
        expiry
    };
    if value.len() > max_string(cx) {
        return Err(too_big());
    }
    cx.ex.set_string(key, old.as_ref(), value, expiry)?;
    Ok(reply)
}

/// `SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT t|KEEPTTL]`.
pub fn set(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let o = parse_ext(args, 3, true)?;
    let value = args.get(2).cloned().unwrap_or_default();
    Ok(set_generic(cx, arg(args, 1), value, &o, "set")?.unwrap_or(Reply::OK))
}

/// `SETNX key value`.
pub fn setnx(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    if cx.ex.lookup(arg(args, 1))?.is_some() {
        return Ok(Reply::Int(0));
    }
    let value = args.get(2).cloned().unwrap_or_default();
    set_generic(cx, arg(args, 1), value, &ExtOpts::default(), "setnx")?;
    Ok(Reply::Int(1))
}

fn setex_generic(cx: &mut Cx<'_, '_>, args: &[Bytes], ms: bool, cmd: &str) -> CmdResult {
    let o = ExtOpts {
        expire: Some((ms, false, args.get(2).cloned().unwrap_or_default())),
        ..ExtOpts::default()
    };
    let value = args.get(3).cloned().unwrap_or_default();
    set_generic(cx, arg(args, 1), value, &o, cmd)?;
    Ok(Reply::OK)
}

/// `SETEX key seconds value`.
pub fn setex(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    setex_generic(cx, args, false, "setex")
}

/// `PSETEX key ms value`.
pub fn psetex(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    setex_generic(cx, args, true, "psetex")
}

/// `GETSET key value`.
pub fn getset(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let o = ExtOpts {
        get: true,
        ..ExtOpts::default()
    };
    let value = args.get(2).cloned().unwrap_or_default();
    Ok(set_generic(cx, arg(args, 1), value, &o, "getset")?.unwrap_or(Reply::Nil))
}

/// `GETDEL key`.
pub fn getdel(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let key = arg(args, 1);
    match cx.ex.get_string(key)? {
        Some(v) => {
            cx.ex.delete_key(key, Some(Kind::String))?;
            Ok(Reply::Bulk(v))
        }
        None => Ok(Reply::Nil),
    }
}

/// `GETEX key [EX|PX|EXAT|PXAT t|PERSIST]`.
pub fn getex(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let o = parse_ext(args, 2, false)?;
    let key = arg(args, 1);
    // Redis looks the key up before it validates the expire time.
    let Some(mut rec) = cx.ex.read_kind(key, Kind::String)? else {
        return Ok(Reply::Nil);
    };
    let expiry = match &o.expire {
        Some((ms, abs, a)) => Some(expire_ms(cx.ex.now, *ms, *abs, a, "getex")?),
        None => None,
    };
    let value = rec.payload.clone();
    if let Some(e) = expiry {
        rec.expiry = e;
        cx.ex.write_record(key, &rec)?;
    } else if o.persist && rec.expiry != 0 {
        rec.expiry = 0;
        cx.ex.write_record(key, &rec)?;
    }
    Ok(Reply::Bulk(value))
}

/// `MGET key...`.
pub fn mget(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let mut budget = super::ReplyBudget::new(cx, "ask for fewer keys");
    budget.take(super::HEADER_BYTES)?;
    let mut out = Vec::with_capacity(args.len().saturating_sub(1));
    for k in args.iter().skip(1) {
        out.push(match cx.ex.read(k)? {
            Some(r) if r.kind == Kind::String => {
                budget.bulk(r.payload.len())?;
                Reply::Bulk(r.payload)
            }
            _ => {
                budget.take(5)?; // $-1
                Reply::Nil
            }
        });
    }
    Ok(Reply::Array(out))
}

/// `MSET key value ...`.
pub fn mset(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return fail(&super::wrong_args("mset"));
    }
    for pair in args.get(1..).unwrap_or(&[]).chunks(2) {
        if let [k, v] = pair {
            set_generic(cx, k, v.clone(), &ExtOpts::default(), "mset")?;
        }
    }
    Ok(Reply::OK)
}

/// `MSETNX key value ...`.
pub fn msetnx(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return fail(&super::wrong_args("msetnx"));
    }
    let pairs = args.get(1..).unwrap_or(&[]);
    for pair in pairs.chunks(2) {
        if let Some(k) = pair.first()
            && cx.ex.lookup(k)?.is_some()
        {
            return Ok(Reply::Int(0));
        }
    }
    for pair in pairs.chunks(2) {
        if let [k, v] = pair {
            set_generic(cx, k, v.clone(), &ExtOpts::default(), "msetnx")?;
        }
    }
    Ok(Reply::Int(1))
}

/// `APPEND key value`.
pub fn append(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let key = arg(args, 1);
    let add = arg(args, 2);
    let (mut buf, expiry) = match cx.ex.lookup_kind(key, Kind::String)? {
        Some(r) => (BytesMut::from(r.payload.as_ref()), r.expiry),
        None => (BytesMut::new(), 0),
    };
    if buf.len() + add.len() > max_string(cx) {
        return Err(too_big());
    }
    buf.extend_from_slice(add);
    let len = buf.len();
    cx.ex
        .write_record(key, &crate::layout::Record::string(buf.freeze(), expiry))?;
    Ok(Reply::Int(i64::try_from(len).unwrap_or(i64::MAX)))
}

/// `STRLEN key`.
pub fn strlen(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let n = cx.ex.get_string(arg(args, 1))?.map_or(0, |v| v.len());
    Ok(Reply::Int(i64::try_from(n).unwrap_or(i64::MAX)))
}

fn incr_generic(cx: &mut Cx<'_, '_>, key: &[u8], by: i64) -> CmdResult {
    let rec = cx.ex.lookup_kind(key, Kind::String)?;
    let (cur, expiry) = match &rec {
        Some(r) => (
            parse_i64(&r.payload).ok_or_else(|| {
                CmdError::Reply("ERR value is not an integer or out of range".into())
            })?,
            r.expiry,
        ),
        None => (0, 0),
    };
    let new = cur
        .checked_add(by)
        .ok_or_else(|| CmdError::Reply("ERR increment or decrement would overflow".into()))?;
    cx.ex.write_record(
        key,
        &crate::layout::Record::string(Bytes::from(new.to_string()), expiry),
    )?;
    Ok(Reply::Int(new))
}

/// `INCR key`.
pub fn incr(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    incr_generic(cx, arg(args, 1), 1)
}

/// `DECR key`.
pub fn decr(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    incr_generic(cx, arg(args, 1), -1)
}

/// `INCRBY key n`.
pub fn incrby(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let by = int_arg(arg(args, 2))?;
    incr_generic(cx, arg(args, 1), by)
}

/// `DECRBY key n`.
pub fn decrby(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let by = int_arg(arg(args, 2))?;
    let neg = by
        .checked_neg()
        .ok_or_else(|| CmdError::Reply("ERR decrement would overflow".into()))?;
    incr_generic(cx, arg(args, 1), neg)
}

/// Fixed-point scale of the exact decimal arithmetic used by INCRBYFLOAT.
const SCALE: i128 = 100_000_000_000_000_000;

/// Parses a decimal (`-12.5`, `1.5e3`) exactly as a multiple of 10^-17, when it
/// fits (at most 17 fractional digits after applying the exponent, |v| < 10^20).
fn dec_parse(s: &[u8]) -> Option<i128> {
    let s = std::str::from_utf8(s).ok()?;
    let (mant, exp) = match s.find(['e', 'E']) {
        Some(i) => (s.get(..i)?, s.get(i + 1..)?.parse::<i32>().ok()?),
        None => (s, 0),
    };
    if !(-40..=40).contains(&exp) {
        return None;
    }
    let (neg, body) = match mant.as_bytes().first()? {
        b'-' => (true, mant.get(1..)?),
        b'+' => (false, mant.get(1..)?),
        _ => (false, mant),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // digits × 10^(exp - frac.len()), scaled by 10^17.
    let digits = format!("{int}{frac}");
    let digits = digits.trim_start_matches('0');
    if digits.len() > 36 {
        return None;
    }
    let mut v: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let shift = 17 + exp - i32::try_from(frac.len()).ok()?;
    if shift >= 0 {
        for _ in 0..shift {
            v = v.checked_mul(10)?;
        }
    } else {
        for _ in 0..-shift {
            if v % 10 != 0 {
                return None;
            }
            v /= 10;
        }
    }
    if v >= 100_000_000_000_000_000_000 * SCALE {
        return None;
    }
    Some(if neg { -v } else { v })
}

fn dec_format(v: i128) -> String {
    let neg = v < 0;
    let a = v.unsigned_abs();
    let scale = SCALE.unsigned_abs();
    let int = a / scale;
    let frac = format!("{:017}", a % scale);
    let frac = frac.trim_end_matches('0');
    let sign = if neg { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

/// Formats a double in plain decimal notation (shortest form that reads back
/// the same), as close as binary floating point gets to Redis's long double output.
fn human_double(v: f64) -> String {
    let s = format!("{v}");
    if s == "-0" { "0".into() } else { s }
}

/// Adds `incr` to the float text `cur` the way INCRBYFLOAT does: exactly for plain
/// decimals, in binary floating point otherwise. `Err(true)`: `cur` is not a float;
/// `Err(false)`: the result is NaN or infinite.
pub(crate) fn float_add(cur: &[u8], incr: &[u8]) -> Result<String, bool> {
    if let (Some(a), Some(b)) = (dec_parse(cur), dec_parse(incr))
        && let Some(sum) = a.checked_add(b)
    {
        return Ok(dec_format(sum));
    }
    let a = parse_f64(cur).ok_or(true)?;
    let b = parse_f64(incr).ok_or(true)?;
    let r = a + b;
    if r.is_nan() || r.is_infinite() {
        return Err(false);
    }
    Ok(human_double(r))
}

/// `INCRBYFLOAT key incr`.
pub fn incrbyfloat(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let key = arg(args, 1);
    let incr = arg(args, 2);
    let rec = cx.ex.lookup_kind(key, Kind::String)?;
    if parse_f64(incr).is_none() {
        return fail("ERR value is not a valid float");
    }
    let (cur, expiry) = match &rec {
        Some(r) => (r.payload.clone(), r.expiry),
        None => (Bytes::from_static(b"0"), 0),
    };
    if parse_f64(&cur).is_none() {
        return fail("ERR value is not a valid float");
    }
    let new = match float_add(&cur, incr) {
        Ok(s) => s,
        Err(true) => return fail("ERR value is not a valid float"),
        Err(false) => return fail("ERR increment would produce NaN or Infinity"),
    };
    let new = Bytes::from(new);
    cx.ex
        .write_record(key, &crate::layout::Record::string(new.clone(), expiry))?;
    Ok(Reply::Bulk(new))
}

/// `GETRANGE key start end`.
pub fn getrange(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let mut start = int_arg(arg(args, 2))?;
    let mut end = int_arg(arg(args, 3))?;
    let Some(v) = cx.ex.get_string(arg(args, 1))? else {
        return Ok(Reply::bulk(Bytes::new()));
    };
    let len = i64::try_from(v.len()).unwrap_or(i64::MAX);
    if start < 0 && end < 0 && start > end {
        return Ok(Reply::bulk(Bytes::new()));
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return Ok(Reply::bulk(Bytes::new()));
    }
    let (s, e) = (
        usize::try_from(start).unwrap_or(0),
        usize::try_from(end).unwrap_or(0),
    );
    Ok(Reply::Bulk(v.slice(s..=e.min(v.len() - 1))))
}

/// `SETRANGE key offset value`.
pub fn setrange(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let key = arg(args, 1);
    let offset = int_arg(arg(args, 2))?;
    let value = arg(args, 3);
    if offset < 0 {
        return fail("ERR offset is out of range");
    }
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    let rec = cx.ex.lookup_kind(key, Kind::String)?;
    let (cur, expiry) = match &rec {
        Some(r) => (r.payload.clone(), r.expiry),
        None => {
            if value.is_empty() {
                return Ok(Reply::Int(0));
            }
            (Bytes::new(), 0)
        }
    };
    if value.is_empty() {
        return Ok(Reply::Int(i64::try_from(cur.len()).unwrap_or(i64::MAX)));
    }
    if offset.saturating_add(value.len()) > max_string(cx) {
        return Err(too_big());
    }
    let mut buf = BytesMut::from(cur.as_ref());
    let need = offset + value.len();
    if buf.len() < need {
        buf.resize(need, 0);
    }
    if let Some(dst) = buf.get_mut(offset..need) {
        dst.copy_from_slice(value);
    }
    let len = buf.len();
    cx.ex
        .write_record(key, &crate::layout::Record::string(buf.freeze(), expiry))?;
    Ok(Reply::Int(i64::try_from(len).unwrap_or(i64::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_add_matches_redis_formatting() {
        assert_eq!(float_add(b"0.1", b"0.2").unwrap(), "0.3");
        assert_eq!(float_add(b"10", b"-10.5").unwrap(), "-0.5");
        assert_eq!(float_add(b"1e3", b"1").unwrap(), "1001");
        assert_eq!(float_add(b"3", b"2").unwrap(), "5");
        assert_eq!(float_add(b"abc", b"2"), Err(true));
        assert_eq!(float_add(b"1.51000", b"1e2").unwrap(), "101.51");
        assert_eq!(float_add(b"5", b"-2.5E-1").unwrap(), "4.75");
    }
}
