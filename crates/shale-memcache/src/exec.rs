//! Running parsed requests against the store: the environment every command
//! shares and the dispatch that records metrics.

use std::time::Instant;

use shale_server::Context;
use shaledb::WriteOptions;

use crate::config::MemcacheConfig;
use crate::item::Item;
use crate::numbers::safe_strtoull;
use crate::request::Request;
use crate::store::{Store, StoreError};
use crate::{meta, text};

/// What a command needs besides its arguments.
#[derive(Debug)]
pub struct Env<'a> {
    /// The items.
    pub store: &'a std::sync::Arc<Store>,
    /// The server context (stats, shutdown, metrics).
    pub ctx: &'a Context,
    /// The front end's settings.
    pub config: &'a MemcacheConfig,
    /// Write options under the current durability policy.
    pub wo: WriteOptions,
}

/// What executing one request means for the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Go on.
    Continue,
    /// Close after flushing (`quit`).
    Close,
}

/// True if a reply is an error.
pub fn is_error(reply: &[u8]) -> bool {
    reply.starts_with(b"ERROR")
        || reply.starts_with(b"CLIENT_ERROR")
        || reply.starts_with(b"SERVER_ERROR")
}

/// Writes `SERVER_ERROR <e>`.
pub fn server_error(out: &mut Vec<u8>, e: &StoreError) {
    let msg = match e {
        StoreError::Engine(e) => e.to_string(),
        StoreError::Damaged => "damaged item".to_string(),
    };
    out.extend_from_slice(b"SERVER_ERROR ");
    out.extend(
        msg.bytes()
            .map(|c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
    );
    out.extend_from_slice(b"\r\n");
}

/// Runs one request, appending its reply to `out` and recording its metric.
pub fn execute(env: &Env<'_>, request: Request, out: &mut Vec<u8>) -> Next {
    let started = Instant::now();
    let start = out.len();
    let (name, failed) = match request {
        Request::Text(c) => {
            let name = c.name();
            let quiet = c.noreply();
            text::commands::execute(env, c, out);
            let failed = is_error(out.get(start..).unwrap_or_default());
            if quiet {
                out.truncate(start);
            }
            (name, failed)
        }
        Request::Meta(m) => {
            let name = m.kind.name();
            let failed = meta::commands::execute(env, *m, out);
            (name, failed)
        }
        Request::Reply { name, reply, quiet } => {
            if !quiet {
                out.extend_from_slice(reply);
            }
            (name, is_error(reply))
        }
        Request::Quit => {
            env.ctx
                .metrics
                .record("memcache", "quit", started.elapsed(), false);
            return Next::Close;
        }
    };
    env.ctx
        .metrics
        .record("memcache", name, started.elapsed(), failed);
    Next::Continue
}

/// The result of memcached's `do_add_delta` on an item's data.
#[derive(Debug)]
pub enum Delta {
    /// The value is not a number.
    NonNumeric,
    /// The new number, the new data (padded with spaces to the old length when
    /// shorter, as memcached's in-place update does) and whether the update was
    /// "in place" (a longer result makes memcached write a new item, which drops
    /// the old item's meta state such as staleness).
    Done(u64, Vec<u8>, bool),
}

/// Applies `incr`/`decr` by `delta` to `item`'s data: incr wraps at 2^64, decr
/// floors at 0. `pad`: update "in place" like memcached, padding a shorter result
/// with spaces to the old length (memcached does this when no other reference
/// to the item is live, which is the usual case).
pub fn add_delta(item: &Item, incr: bool, delta: u64, pad: bool) -> Delta {
    if item.data.is_empty() {
        return Delta::NonNumeric;
    }
    let Some(value) = safe_strtoull(&item.data) else {
        return Delta::NonNumeric;
    };
    let new = if incr {
        value.wrapping_add(delta)
    } else {
        value.saturating_sub(delta)
    };
    let mut data = new.to_string().into_bytes();
    let in_place = data.len() <= item.data.len();
    if pad && in_place {
        data.resize(item.data.len(), b' ');
    }
    Delta::Done(new, data, in_place)
}
