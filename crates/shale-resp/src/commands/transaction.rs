//! MULTI / EXEC / DISCARD / WATCH / UNWATCH.
//!
//! EXEC takes the lock stripes of every queued command's keys and of the watched
//! keys (plus whole databases for FLUSHDB/FLUSHALL), checks the client's dirty flag
//! (set by any write to a watched key since WATCH), runs the queue against one
//! overlay with read-your-writes and commits it as one atomic batch.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{Cx, lookup, plan_locks, to_reply};
use crate::exec::{CmdResult, Exec, fail};
use crate::resp::Reply;
use crate::session::Session;
use crate::store::{LockPlan, Server};

/// Leaves MULTI and forgets watched keys.
pub fn clear(srv: &Server, sess: &mut Session) {
    sess.multi = None;
    sess.multi_error = false;
    clear_watches(srv, sess);
}

fn clear_watches(srv: &Server, sess: &mut Session) {
    let watched = std::mem::take(&mut sess.watched);
    sess.watch_expiry.clear();
    srv.unwatch(&watched, sess.id());
    sess.dirty.store(false, Ordering::SeqCst);
}

/// `MULTI`.
pub fn multi(cx: &mut Cx<'_, '_>, _args: &[Bytes]) -> CmdResult {
    if cx.sess.multi.is_some() {
        return fail("ERR MULTI calls can not be nested");
    }
    cx.sess.multi = Some(Vec::new());
    cx.sess.multi_error = false;
    Ok(Reply::OK)
}

/// `DISCARD`.
pub fn discard(cx: &mut Cx<'_, '_>, _args: &[Bytes]) -> CmdResult {
    if cx.sess.multi.is_none() {
        return fail("ERR DISCARD without MULTI");
    }
    clear(cx.srv, cx.sess);
    Ok(Reply::OK)
}

/// `WATCH key...`.
pub fn watch(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    if cx.sess.multi.is_some() {
        return fail("ERR WATCH inside MULTI is not allowed");
    }
    let db = cx.sess.db;
    for k in args.iter().skip(1) {
        if !cx.sess.watched.iter().any(|(d, w)| *d == db && w == k) {
            cx.srv.watch(db, k.clone(), cx.sess.id(), &cx.sess.dirty);
            let expiry = cx.ex.lookup(k)?.map_or(0, |r| r.expiry);
            cx.sess.watched.push((db, k.clone()));
            cx.sess.watch_expiry.push(expiry);
        }
    }
    Ok(Reply::OK)
}

/// `UNWATCH`.
pub fn unwatch(cx: &mut Cx<'_, '_>, _args: &[Bytes]) -> CmdResult {
    clear_watches(cx.srv, cx.sess);
    Ok(Reply::OK)
}

/// Table entry for EXEC; the real work is [`exec`], called by the dispatcher.
pub fn exec_placeholder(_cx: &mut Cx<'_, '_>, _args: &[Bytes]) -> CmdResult {
    fail("ERR EXEC without MULTI")
}

/// `EXEC`.
pub fn exec(srv: &Server, sess: &mut Session) -> Reply {
    let Some(queue) = sess.multi.take() else {
        return Reply::err("ERR EXEC without MULTI");
    };
    if sess.multi_error {
        clear(srv, sess);
        return Reply::err("EXECABORT Transaction discarded because of previous errors.");
    }
    // Lock everything the queue and the watches involve, following SELECTs.
    let mut plan = LockPlan::default();
    for (db, k) in &sess.watched {
        plan.key(srv, *db, k);
    }
    let mut db = sess.db;
    for args in &queue {
        let Some(spec) = args.first().and_then(|n| lookup(n)) else {
            continue;
        };
        plan_locks(srv, spec, args, db, &mut plan);
        if spec.name == "select"
            && let Some(i) = args
                .get(1)
                .and_then(|a| super::parse_i64(a))
                .and_then(|i| usize::try_from(i).ok())
                .filter(|&i| i < srv.dbs.len())
        {
            db = i;
        }
    }
    let locks = plan.acquire(srv);
    let now = crate::exec::engine_now(&srv.ctx.db);
    let expired = sess.watch_expiry.iter().any(|&e| e != 0 && e <= now);
    if expired || sess.dirty.load(Ordering::SeqCst) {
        drop(locks);
        clear(srv, sess);
        return Reply::NilArray;
    }
    let mut ex = Exec::new(srv, sess.db);
    let mut replies = Vec::with_capacity(queue.len());
    let mut rec = srv.ctx.metrics.run_recorder("redis", queue.len());
    for args in &queue {
        if let Some(spec) = args.first().and_then(|n| lookup(n)) {
            replies.push(super::run_in(srv, sess, &mut ex, &mut rec, spec, args));
        }
    }
    drop(rec);
    let committed = ex.commit();
    drop(locks);
    clear(srv, sess);
    match committed {
        Ok(()) => Reply::Array(replies),
        Err(e) => to_reply(Err(e)),
    }
}
