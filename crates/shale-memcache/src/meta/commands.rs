//! Executing meta commands.

use std::io::Write as _;

use bytes::{Bytes, BytesMut};

use crate::exec::{Delta, Env, add_delta, is_error, server_error};
use crate::item::{Item, STATE_STALE, STATE_TOKEN_SENT};
use crate::meta::flags::{MetaCommand, MetaFlags, MetaKind};
use crate::stats::bump;
use crate::store::{Store, StoreResult};

/// Runs `cmd`, appending its reply unless quiet mode hides it; returns true if it
/// failed.
pub fn execute(env: &Env<'_>, cmd: MetaCommand, out: &mut Vec<u8>) -> bool {
    bump(&env.store.counters.cmd_meta);
    let start = out.len();
    let r = match cmd.kind {
        MetaKind::Noop => {
            out.extend_from_slice(b"MN\r\n");
            Ok(())
        }
        MetaKind::Get => mg(env, &cmd, out),
        MetaKind::Set => ms(env, &cmd, out),
        MetaKind::Delete => md(env, &cmd, out),
        MetaKind::Arith => ma(env, &cmd, out),
        MetaKind::Debug => me(env, &cmd, out),
    };
    if let Err(e) = r {
        out.truncate(start);
        server_error(out, &e);
    }
    is_error(out.get(start..).unwrap_or_default())
}

/// Appends the return flags of a hit (` c123 f0 kfoo …`) in the order requested.
/// Only the flags `kind` reports are written (memcached 1.6.18: `ms` reports `c`,
/// `k`, `O`; `md` reports `k`, `O`; `ma` reports `c`, `t`, `k`, `O`).
fn return_flags(cmd: &MetaCommand, item: Option<&Item>, now: u64, out: &mut Vec<u8>) {
    let reported: &[u8] = match cmd.kind {
        MetaKind::Set => b"ckO",
        MetaKind::Delete => b"kO",
        MetaKind::Arith => b"ctkO",
        _ => b"cfhklOst",
    };
    let mut b_seen = false;
    for &c in &cmd.flags.returns {
        b_seen |= c == b'b';
        if reported.contains(&c) {
            render_flag(cmd, c, b_seen, item, now, out);
        }
    }
}

/// Appends one return flag. memcached 1.6.18 prints a base64 key encoded (with
/// ` b`) only if `b` came before `k` in the request, else decoded.
fn render_flag(
    cmd: &MetaCommand,
    c: u8,
    b_seen: bool,
    item: Option<&Item>,
    now: u64,
    out: &mut Vec<u8>,
) {
    let f = &cmd.flags;
    {
        match (c, item) {
            (b'O', _) => {
                out.extend_from_slice(b" O");
                out.extend_from_slice(f.opaque.as_deref().unwrap_or_default());
            }
            (b'k', _) => {
                out.extend_from_slice(b" k");
                if f.base64 && b_seen {
                    out.extend_from_slice(&cmd.key_token);
                    out.extend_from_slice(b" b");
                } else {
                    out.extend_from_slice(&cmd.key);
                }
            }
            (b'c', Some(it)) => {
                let _ = write!(out, " c{}", it.cas);
            }
            (b'f', Some(it)) => {
                let _ = write!(out, " f{}", it.flags);
            }
            (b's', Some(it)) => {
                let _ = write!(out, " s{}", it.data.len());
            }
            (b't', Some(it)) => {
                let _ = write!(out, " t{}", ttl_remaining(it, now));
            }
            (b'h', Some(_)) => out.extend_from_slice(b" h0"),
            (b'l', Some(_)) => out.extend_from_slice(b" l0"),
            _ => {}
        }
    }
}

/// Seconds until `it` expires (rounded up), -1 if never.
fn ttl_remaining(it: &Item, now: u64) -> i64 {
    if it.exptime_ms == 0 {
        -1
    } else {
        i64::try_from(it.exptime_ms.saturating_sub(now).div_ceil(1000)).unwrap_or(i64::MAX)
    }
}

/// A status line without an item: `code` plus the `O` and `k` flags (and `c0`
/// for `ms`, as memcached 1.6.18 writes).
fn status(cmd: &MetaCommand, code: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(code);
    for &c in &cmd.flags.returns {
        match c {
            // Failures print a base64 key encoded whatever the flag order.
            b'O' | b'k' => render_flag(cmd, c, true, None, 0, out),
            b'c' if cmd.kind == MetaKind::Set => out.extend_from_slice(b" c0"),
            _ => {}
        }
    }
    out.extend_from_slice(b"\r\n");
}

fn mg(env: &Env<'_>, cmd: &MetaCommand, out: &mut Vec<u8>) -> StoreResult<()> {
    let s = env.store;
    let f = &cmd.flags;
    bump(&s.counters.cmd_get);
    let _lock = s.lock(&cmd.key);
    let now = s.now_ms()?;
    let (mut item, vivified) = match s.get(&cmd.key, now)? {
        Some(it) => {
            bump(&s.counters.get_hits);
            (it, false)
        }
        None => {
            bump(&s.counters.get_misses);
            if f.vivify.is_none() {
                if !f.quiet {
                    status(cmd, b"EN", out);
                }
                return Ok(());
            }
            let it = Item {
                state: 0,
                flags: 0,
                cas: s.next_cas(),
                exptime_ms: 0,
                data: Bytes::new(),
            };
            (it, true)
        }
    };
    let token_sent = item.state & STATE_TOKEN_SENT != 0;
    let stale = item.state & STATE_STALE != 0;
    let mut dirty = vivified;
    let mut win = vivified;
    // Flags are handled in the order sent, as memcached does: `t` before `T`
    // reports the old TTL, and `R` compares with the TTL as `T` left it.
    let mut flags_out = Vec::new();
    let mut b_seen = false;
    for &c in &f.returns {
        b_seen |= c == b'b';
        match c {
            b'T' => {
                item.exptime_ms = Store::exptime_ms(f.ttl.unwrap_or(0), now);
                dirty = true;
            }
            b'N' if vivified => item.exptime_ms = Store::exptime_ms(f.vivify.unwrap_or(0), now),
            b'R' => {
                let window = f.recache.unwrap_or(0);
                let recache_ms = now.saturating_add_signed(window.saturating_mul(1000));
                if !token_sent && !vivified && item.exptime_ms != 0 && item.exptime_ms < recache_ms
                {
                    win = true;
                }
            }
            _ => render_flag(cmd, c, b_seen, Some(&item), now, &mut flags_out),
        }
    }
    // Then Z (someone else holds the win token), X (stale), W (you win).
    let mut extra: Vec<u8> = Vec::new();
    if token_sent {
        extra.push(b'Z');
    }
    if stale {
        extra.push(b'X');
        win |= !token_sent;
    }
    if win && !token_sent {
        extra.push(b'W');
        item.state |= STATE_TOKEN_SENT;
        dirty = true;
    }
    if dirty {
        s.put(&cmd.key, &item, now, &env.wo)?;
    }
    if f.value {
        let _ = write!(out, "VA {}", item.data.len());
    } else {
        out.extend_from_slice(b"HD");
    }
    out.extend_from_slice(&flags_out);
    for c in extra {
        out.push(b' ');
        out.push(c);
    }
    out.extend_from_slice(b"\r\n");
    if f.value {
        out.extend_from_slice(&item.data);
        out.extend_from_slice(b"\r\n");
    }
    Ok(())
}

/// Checks `C` (compare CAS) against `item`: `Ok(stale)` to go on (stale: `I` turned a
/// too-old CAS into an invalidating write), `Err(())` for EX.
/// A `C0` means "no CAS" to memcached: set/replace then fail, append/prepend
/// ignore it (`append_like`).
fn check_cas(f: &MetaFlags, item: &Item, append_like: bool) -> Result<bool, ()> {
    match f.compare_cas {
        Some(0) if append_like => Ok(false),
        Some(0) => Err(()),
        Some(c) if c != item.cas => {
            if f.invalidate && c < item.cas {
                Ok(true)
            } else {
                Err(())
            }
        }
        _ => Ok(false),
    }
}

fn ms(env: &Env<'_>, cmd: &MetaCommand, out: &mut Vec<u8>) -> StoreResult<()> {
    let s = env.store;
    let f = &cmd.flags;
    bump(&s.counters.cmd_set);
    let _lock = s.lock(&cmd.key);
    let now = s.now_ms()?;
    let existing = s.get(&cmd.key, now)?;
    let existing_ttl = existing.as_ref().map(|it| it.exptime_ms);
    let existing_token = existing
        .as_ref()
        .map_or(0, |it| it.state & STATE_TOKEN_SENT);
    let mode = f.mode.unwrap_or(b'S');
    let mut stale = false;
    // As memcached 1.6.18: C turns set and replace into a CAS, append/prepend
    // check it, add ignores it.
    match (&existing, mode) {
        (None, b'S' | b'R') if f.compare_cas.is_some() => {
            status(cmd, b"NF", out);
            return Ok(());
        }
        (Some(old), b'S' | b'R' | b'A' | b'P') => {
            match check_cas(f, old, matches!(mode, b'A' | b'P')) {
                Ok(st) if st && matches!(mode, b'A' | b'P') => {
                    status(cmd, b"EX", out);
                    return Ok(());
                }
                Ok(st) => stale = st,
                Err(()) => {
                    status(cmd, b"EX", out);
                    return Ok(());
                }
            }
        }
        _ => {}
    }
    let item = match (mode, existing) {
        (b'E', Some(_)) | (b'R' | b'A' | b'P', None) => {
            status(cmd, b"NS", out);
            return Ok(());
        }
        (b'A' | b'P', Some(old)) => {
            let mut joined = BytesMut::with_capacity(old.data.len() + cmd.data.len());
            if mode == b'A' {
                joined.extend_from_slice(&old.data);
                joined.extend_from_slice(&cmd.data);
            } else {
                joined.extend_from_slice(&cmd.data);
                joined.extend_from_slice(&old.data);
            }
            if joined.len() > env.config.item_size_max {
                out.extend_from_slice(b"SERVER_ERROR out of memory storing object\r\n");
                return Ok(());
            }
            Item {
                data: joined.freeze(),
                // Like memcached, append/prepend keep the old TTL and flags.
                ..old
            }
        }
        _ => Item {
            state: 0,
            flags: f.client_flags.unwrap_or(0),
            cas: 0,
            exptime_ms: Store::exptime_ms(f.ttl.unwrap_or(0), now),
            data: cmd.data.clone(),
        },
    };
    let preserved_ttl = existing_ttl.filter(|_| stale);
    let item = Item {
        // A stale write (I with an older CAS) keeps the TTL and the win token.
        state: if stale {
            STATE_STALE | existing_token
        } else {
            0
        },
        exptime_ms: preserved_ttl.unwrap_or(item.exptime_ms),
        cas: f.new_cas.unwrap_or_else(|| s.next_cas()),
        ..item
    };
    bump(&s.counters.total_items);
    s.put(&cmd.key, &item, now, &env.wo)?;
    if !f.quiet {
        out.extend_from_slice(b"HD");
        return_flags(cmd, Some(&item), now, out);
        out.extend_from_slice(b"\r\n");
    }
    Ok(())
}

fn md(env: &Env<'_>, cmd: &MetaCommand, out: &mut Vec<u8>) -> StoreResult<()> {
    let s = env.store;
    let f = &cmd.flags;
    let _lock = s.lock(&cmd.key);
    let now = s.now_ms()?;
    let Some(mut item) = s.get(&cmd.key, now)? else {
        bump(&s.counters.delete_misses);
        status(cmd, b"NF", out);
        return Ok(());
    };
    if f.compare_cas.is_some_and(|c| c != item.cas) {
        status(cmd, b"EX", out);
        return Ok(());
    }
    bump(&s.counters.delete_hits);
    if f.invalidate || f.remove_value {
        if f.invalidate {
            item.state = STATE_STALE;
        }
        if f.remove_value {
            item.data = Bytes::new();
            item.flags = 0;
        }
        if let Some(ttl) = f.ttl {
            item.exptime_ms = Store::exptime_ms(ttl, now);
        }
        item.cas = f.new_cas.unwrap_or_else(|| s.next_cas());
        s.put(&cmd.key, &item, now, &env.wo)?;
    } else {
        s.delete(&cmd.key, &env.wo)?;
    }
    if !f.quiet {
        status(cmd, b"HD", out);
    }
    Ok(())
}

fn ma(env: &Env<'_>, cmd: &MetaCommand, out: &mut Vec<u8>) -> StoreResult<()> {
    let s = env.store;
    let f = &cmd.flags;
    let incr = !matches!(f.mode, Some(b'D' | b'-'));
    let _lock = s.lock(&cmd.key);
    let now = s.now_ms()?;
    let (item, number, created) = match s.get(&cmd.key, now)? {
        None => {
            bump(if incr {
                &s.counters.incr_misses
            } else {
                &s.counters.decr_misses
            });
            let Some(ttl) = f.vivify else {
                status(cmd, b"NF", out);
                return Ok(());
            };
            let n = f.initial.unwrap_or(0);
            let item = Item {
                state: 0,
                flags: 0,
                cas: f.new_cas.unwrap_or_else(|| s.next_cas()),
                exptime_ms: Store::exptime_ms(ttl, now),
                data: Bytes::from(n.to_string()),
            };
            s.put(&cmd.key, &item, now, &env.wo)?;
            (item, n, true)
        }
        Some(mut item) => {
            // memcached's do_add_delta: an empty value is non-numeric before the
            // CAS is compared, and C0 compares nothing.
            if !item.data.is_empty() && f.compare_cas.is_some_and(|c| c != 0 && c != item.cas) {
                status(cmd, b"EX", out);
                return Ok(());
            }
            match add_delta(&item, incr, f.delta.unwrap_or(1), true) {
                Delta::NonNumeric => {
                    out.extend_from_slice(
                        b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
                    );
                    return Ok(());
                }
                Delta::Done(n, data, in_place) => {
                    if !in_place {
                        item.state = 0;
                    }
                    bump(if incr {
                        &s.counters.incr_hits
                    } else {
                        &s.counters.decr_hits
                    });
                    item.data = Bytes::from(data);
                    item.cas = f.new_cas.unwrap_or_else(|| s.next_cas());
                    if let Some(ttl) = f.ttl {
                        item.exptime_ms = Store::exptime_ms(ttl, now);
                    }
                    s.put(&cmd.key, &item, now, &env.wo)?;
                    (item, n, false)
                }
            }
        }
    };
    let digits = number.to_string();
    if f.quiet && !created {
        // Quiet mode hides every update of ma, the value included (memcached
        // still answers an autovivification).
        return Ok(());
    }
    if f.value {
        let _ = write!(out, "VA {}", digits.len());
    } else {
        out.extend_from_slice(b"HD");
    }
    return_flags(cmd, Some(&item), now, out);
    out.extend_from_slice(b"\r\n");
    if f.value {
        out.extend_from_slice(digits.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    Ok(())
}

fn me(env: &Env<'_>, cmd: &MetaCommand, out: &mut Vec<u8>) -> StoreResult<()> {
    let s = env.store;
    let now = s.now_ms()?;
    match s.get(&cmd.key, now)? {
        None => out.extend_from_slice(b"EN\r\n"),
        Some(it) => {
            out.extend_from_slice(b"ME ");
            out.extend_from_slice(&cmd.key_token);
            let _ = write!(
                out,
                " exp={} la=0 cas={} fetch=no cls=1 size={}\r\n",
                ttl_remaining(&it, now),
                it.cas,
                it.data.len() + cmd.key.len() + crate::item::HEADER_LEN
            );
        }
    }
    Ok(())
}
