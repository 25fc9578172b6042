//! Executing text-protocol commands.

use std::io::Write as _;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::exec::{Delta, Env, add_delta, server_error};
use crate::item::Item;
use crate::stats::bump;
use crate::store::{Store, StoreResult};
use crate::text::parse::{StoreMode, TextCommand};

/// The version `version` and `stats` report.
pub const VERSION: &str = "1.6.18-shale";

/// Runs `cmd`, appending its reply (the caller drops it for `noreply`).
pub fn execute(env: &Env<'_>, cmd: TextCommand, out: &mut Vec<u8>) {
    let r = match cmd {
        TextCommand::Get {
            keys, cas, touch, ..
        } => get(env, &keys, cas, touch, out),
        TextCommand::Store {
            mode,
            key,
            flags,
            exptime,
            cas,
            data,
            ..
        } => store(env, mode, &key, flags, exptime, cas, data, out),
        TextCommand::TooLarge { delete, .. } => {
            bump(&env.store.counters.cmd_set);
            if let Some(key) = delete {
                let _lock = env.store.lock(&key);
                if let Err(e) = env.store.delete(&key, &env.wo) {
                    server_error(out, &e);
                    return;
                }
            }
            out.extend_from_slice(b"SERVER_ERROR object too large for cache\r\n");
            Ok(())
        }
        TextCommand::Delete { key, .. } => delete(env, &key, out),
        TextCommand::Arith {
            key, incr, delta, ..
        } => arith(env, &key, incr, delta, out),
        TextCommand::Touch { key, exptime, .. } => touch(env, &key, exptime, out),
        TextCommand::FlushAll { delay, .. } => flush_all(env, delay, out),
        TextCommand::Version => {
            let _ = write!(out, "VERSION {VERSION}\r\n");
            Ok(())
        }
        TextCommand::Verbosity { .. } => {
            out.extend_from_slice(b"OK\r\n");
            Ok(())
        }
        TextCommand::Stats { group } => {
            crate::stats_report::stats(env, group.as_deref(), out);
            Ok(())
        }
    };
    if let Err(e) = r {
        server_error(out, &e);
    }
}

fn get(
    env: &Env<'_>,
    keys: &[Bytes],
    with_cas: bool,
    touch: Option<i64>,
    out: &mut Vec<u8>,
) -> StoreResult<()> {
    let s = env.store;
    let mut body = Vec::new();
    for key in keys {
        let now = s.now_ms()?;
        let item = match touch {
            None => {
                bump(&s.counters.cmd_get);
                s.get(key, now)?
            }
            Some(exptime) => {
                bump(&s.counters.cmd_touch);
                bump(&s.counters.cmd_get);
                let _lock = s.lock(key);
                match s.get(key, now)? {
                    Some(mut it) => {
                        bump(&s.counters.touch_hits);
                        it.exptime_ms = Store::exptime_ms(exptime, now);
                        s.put(key, &it, now, &env.wo)?;
                        Some(it)
                    }
                    None => {
                        bump(&s.counters.touch_misses);
                        None
                    }
                }
            }
        };
        match item {
            Some(it) => {
                bump(&s.counters.get_hits);
                body.extend_from_slice(b"VALUE ");
                body.extend_from_slice(key);
                let _ = write!(body, " {} {}", it.flags, it.data.len());
                if with_cas {
                    let _ = write!(body, " {}", it.cas);
                }
                body.extend_from_slice(b"\r\n");
                body.extend_from_slice(&it.data);
                body.extend_from_slice(b"\r\n");
            }
            None => bump(&s.counters.get_misses),
        }
    }
    out.extend_from_slice(&body);
    out.extend_from_slice(b"END\r\n");
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn store(
    env: &Env<'_>,
    mode: StoreMode,
    key: &[u8],
    flags: u32,
    exptime: i64,
    cas: u64,
    data: Bytes,
    out: &mut Vec<u8>,
) -> StoreResult<()> {
    let s = env.store;
    bump(&s.counters.cmd_set);
    let _lock = s.lock(key);
    let now = s.now_ms()?;
    let existing = s.get(key, now)?;
    let mut item = Item {
        state: 0,
        flags,
        cas: 0,
        exptime_ms: Store::exptime_ms(exptime, now),
        data,
    };
    let reply: &[u8] = match (mode, existing) {
        (StoreMode::Add, Some(_))
        | (StoreMode::Replace | StoreMode::Append | StoreMode::Prepend, None) => b"NOT_STORED\r\n",
        (StoreMode::Cas, None) => {
            bump(&s.counters.cas_misses);
            b"NOT_FOUND\r\n"
        }
        (StoreMode::Cas, Some(old)) if old.cas != cas => {
            bump(&s.counters.cas_badval);
            b"EXISTS\r\n"
        }
        (StoreMode::Append | StoreMode::Prepend, Some(old)) => {
            let mut joined = BytesMut::with_capacity(old.data.len() + item.data.len());
            if mode == StoreMode::Append {
                joined.extend_from_slice(&old.data);
                joined.extend_from_slice(&item.data);
            } else {
                joined.extend_from_slice(&item.data);
                joined.extend_from_slice(&old.data);
            }
            if joined.len() > env.config.item_size_max {
                out.extend_from_slice(b"SERVER_ERROR out of memory storing object\r\n");
                return Ok(());
            }
            item = Item {
                data: joined.freeze(),
                ..old
            };
            write_new(s, key, item, now, env)?;
            b"STORED\r\n"
        }
        (mode, _) => {
            if mode == StoreMode::Cas {
                bump(&s.counters.cas_hits);
            }
            write_new(s, key, item, now, env)?;
            b"STORED\r\n"
        }
    };
    out.extend_from_slice(reply);
    Ok(())
}

/// Writes `item` with a fresh CAS unique and a clean meta state.
fn write_new(s: &Store, key: &[u8], mut item: Item, now: u64, env: &Env<'_>) -> StoreResult<()> {
    item.cas = s.next_cas();
    item.state = 0;
    bump(&s.counters.total_items);
    s.put(key, &item, now, &env.wo)
}

fn delete(env: &Env<'_>, key: &[u8], out: &mut Vec<u8>) -> StoreResult<()> {
    let s = env.store;
    let _lock = s.lock(key);
    let now = s.now_ms()?;
    if s.get(key, now)?.is_some() {
        s.delete(key, &env.wo)?;
        bump(&s.counters.delete_hits);
        out.extend_from_slice(b"DELETED\r\n");
    } else {
        bump(&s.counters.delete_misses);
        out.extend_from_slice(b"NOT_FOUND\r\n");
    }
    Ok(())
}

fn arith(env: &Env<'_>, key: &[u8], incr: bool, delta: u64, out: &mut Vec<u8>) -> StoreResult<()> {
    let s = env.store;
    let (hits, misses) = if incr {
        (&s.counters.incr_hits, &s.counters.incr_misses)
    } else {
        (&s.counters.decr_hits, &s.counters.decr_misses)
    };
    let _lock = s.lock(key);
    let now = s.now_ms()?;
    let Some(mut item) = s.get(key, now)? else {
        bump(misses);
        out.extend_from_slice(b"NOT_FOUND\r\n");
        return Ok(());
    };
    match add_delta(&item, incr, delta, true) {
        Delta::NonNumeric => out
            .extend_from_slice(b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"),
        Delta::Done(n, data, in_place) => {
            if !in_place {
                item.state = 0;
            }
            bump(hits);
            item.data = Bytes::from(data);
            item.cas = s.next_cas();
            s.put(key, &item, now, &env.wo)?;
            let _ = write!(out, "{n}\r\n");
        }
    }
    Ok(())
}

fn touch(env: &Env<'_>, key: &[u8], exptime: i64, out: &mut Vec<u8>) -> StoreResult<()> {
    let s = env.store;
    bump(&s.counters.cmd_touch);
    let _lock = s.lock(key);
    let now = s.now_ms()?;
    match s.get(key, now)? {
        Some(mut it) => {
            bump(&s.counters.touch_hits);
            it.exptime_ms = Store::exptime_ms(exptime, now);
            s.put(key, &it, now, &env.wo)?;
            out.extend_from_slice(b"TOUCHED\r\n");
        }
        None => {
            bump(&s.counters.touch_misses);
            out.extend_from_slice(b"NOT_FOUND\r\n");
        }
    }
    Ok(())
}

fn flush_all(env: &Env<'_>, delay: i64, out: &mut Vec<u8>) -> StoreResult<()> {
    let s = env.store;
    bump(&s.counters.cmd_flush);
    if delay <= 0 {
        s.flush_now(&env.wo)?;
    } else {
        let generation = s.schedule_flush();
        let ctx = env.ctx.clone();
        let store = std::sync::Arc::clone(env.store);
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(delay.unsigned_abs())) => {}
                        _ = ctx.shutdown.wait() => return,
                    }
                    let wo = ctx.write_options();
                    let r = tokio::task::spawn_blocking(move || {
                        store.run_scheduled_flush(generation, &wo)
                    })
                    .await;
                    if let Ok(Err(e)) = r {
                        tracing::warn!(error = ?e, "delayed flush_all failed");
                    }
                });
            }
            Err(_) => s.flush_now(&env.wo)?,
        }
    }
    out.extend_from_slice(b"OK\r\n");
    Ok(())
}
