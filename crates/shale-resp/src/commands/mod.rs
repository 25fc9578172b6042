//! The command table and the code that runs one command (or a MULTI queue).

pub mod connection;
pub mod hashes;
pub mod keys;
pub mod server;
pub mod strings;
pub mod transaction;

use std::sync::OnceLock;

use bytes::Bytes;
use rustc_hash::FxHashMap;
use shale_server::RunRecorder;

use crate::exec::{CmdError, CmdResult, Exec};
use crate::resp::Reply;
use crate::session::Session;
use crate::store::{LockPlan, Server};

/// What a command handler gets: the server, the client's session and the overlay.
pub struct Cx<'s, 'a> {
    /// The server.
    pub srv: &'a Server,
    /// The client's session.
    pub sess: &'s mut Session,
    /// Reads and buffered writes.
    pub ex: &'s mut Exec<'a>,
}

/// A command implementation; `args[0]` is the command name.
pub type Handler = fn(&mut Cx<'_, '_>, &[Bytes]) -> CmdResult;

/// How locks are taken for a command beyond its key arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Only the stripes of its keys.
    Keys,
    /// The selected database exclusively (FLUSHDB).
    Db,
    /// Every database exclusively (FLUSHALL).
    All,
    /// Handled by the connection itself, never queued by MULTI.
    Control,
}

/// Where a command runs on the server's tokio runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runs {
    /// On the connection's async worker (through `Context::engine`): the engine
    /// work is bounded by the command's arguments (point reads and writes), so
    /// handing the worker's other tasks to another thread would cost more than it
    /// saves.
    Inline,
    /// Through `Context::blocking` whatever the durability policy: the command may
    /// scan an unbounded range (every key, every field of a hash, a whole MULTI
    /// queue), and must not hold up the other connections of its worker meanwhile.
    Blocking,
}

/// One entry of the command table.
pub struct Spec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: exact argument count (with the name) if positive, minimum if negative.
    pub arity: i32,
    /// Flags reported by `COMMAND`.
    pub flags: &'static [&'static str],
    /// First key argument (0: none).
    pub first: i32,
    /// Last key argument (negative: from the end).
    pub last: i32,
    /// Step between keys.
    pub step: i32,
    /// Command group for `COMMAND DOCS`.
    pub group: &'static str,
    /// One-line summary for `COMMAND DOCS`.
    pub summary: &'static str,
    /// Locking scope.
    pub scope: Scope,
    /// Inline or off the reactor.
    pub runs: Runs,
    /// The implementation.
    pub run: Handler,
}

impl Spec {
    /// True if `n` arguments (with the name) satisfy the arity.
    pub fn arity_ok(&self, n: usize) -> bool {
        arity_ok(self.arity, n)
    }

    /// The key arguments of `args`, in order.
    pub fn keys<'b>(&self, args: &'b [Bytes]) -> impl Iterator<Item = &'b Bytes> + use<'b> {
        let n = args.len();
        let first = usize::try_from(self.first).unwrap_or(0);
        // One past the last key: `last` counts from the end when negative.
        let end = if self.first <= 0 {
            0
        } else if self.last < 0 {
            n.saturating_sub(usize::try_from(self.last.unsigned_abs()).unwrap_or(n))
                .saturating_add(1)
        } else {
            usize::try_from(self.last).map_or(n, |l| l.saturating_add(1).min(n))
        };
        let step = usize::try_from(self.step.max(1)).unwrap_or(1);
        args.get(first..end.max(first))
            .unwrap_or(&[])
            .iter()
            .step_by(step)
    }

    /// True if the command takes no key locks: it reads one key record and writes
    /// nothing, so one engine read makes it atomic.
    pub fn lock_free(&self) -> bool {
        matches!(
            self.name,
            "get" | "strlen" | "type" | "ttl" | "pttl" | "expiretime" | "pexpiretime"
        )
    }

    /// True for CLIENT, COMMAND and CONFIG, whose second argument names a
    /// subcommand.
    pub fn is_container(&self) -> bool {
        matches!(self.name, "client" | "command" | "config")
    }

    /// True if the command may write.
    pub fn is_write(&self) -> bool {
        self.flags.contains(&"write")
    }

    /// True if running the command now must go through `Context::blocking`: it
    /// is [`Runs::Blocking`] and will run, not be queued by MULTI (EXEC, which
    /// runs the queue, always does).
    pub fn blocks(&self, sess: &Session) -> bool {
        self.runs == Runs::Blocking && (sess.multi.is_none() || self.scope == Scope::Control)
    }
}

macro_rules! spec {
    (@runs) => { Runs::Inline };
    (@runs $runs:ident) => { Runs::$runs };
    ($name:literal, $arity:expr, [$($flag:literal),*], $first:expr, $last:expr, $step:expr, $group:literal, $scope:ident, $run:path, $summary:literal $(, $runs:ident)?) => {
        Spec {
            name: $name,
            arity: $arity,
            flags: &[$($flag),*],
            first: $first,
            last: $last,
            step: $step,
            group: $group,
            summary: $summary,
            scope: Scope::$scope,
            runs: spec!(@runs $($runs)?),
            run: $run,
        }
    };
}

use connection as c;
use hashes as h;
use keys as k;
use server as s;
use strings as st;
use transaction as t;

/// Every implemented command. A trailing `Blocking` marks the commands that may
/// scan an unbounded range ([`Runs::Blocking`]); the others run inline.
#[rustfmt::skip]
pub static COMMANDS: &[Spec] = &[
    // strings
    spec!("get", 2, ["readonly", "fast"], 1, 1, 1, "string", Keys, st::get, "Returns the string value of a key."),
    spec!("set", -3, ["write", "denyoom"], 1, 1, 1, "string", Keys, st::set, "Sets the string value of a key, ignoring its type."),
    spec!("setnx", 3, ["write", "denyoom", "fast"], 1, 1, 1, "string", Keys, st::setnx, "Set the string value of a key only when the key doesn't exist."),
    spec!("setex", 4, ["write", "denyoom"], 1, 1, 1, "string", Keys, st::setex, "Sets the string value and expiration time of a key."),
    spec!("psetex", 4, ["write", "denyoom"], 1, 1, 1, "string", Keys, st::psetex, "Sets the string value and expiration time in milliseconds of a key."),
    spec!("getset", 3, ["write", "denyoom", "fast"], 1, 1, 1, "string", Keys, st::getset, "Returns the previous string value of a key after setting it to a new value."),
    spec!("getdel", 2, ["write", "fast"], 1, 1, 1, "string", Keys, st::getdel, "Returns the string value of a key after deleting the key."),
    spec!("getex", -2, ["write", "fast"], 1, 1, 1, "string", Keys, st::getex, "Returns the string value of a key after setting its expiration time."),
    spec!("mget", -2, ["readonly", "fast"], 1, -1, 1, "string", Keys, st::mget, "Atomically returns the string values of one or more keys."),
    spec!("mset", -3, ["write", "denyoom"], 1, -1, 2, "string", Keys, st::mset, "Atomically creates or modifies the string values of one or more keys."),
    spec!("msetnx", -3, ["write", "denyoom"], 1, -1, 2, "string", Keys, st::msetnx, "Atomically modifies the string values of one or more keys only when all keys don't exist."),
    spec!("append", 3, ["write", "denyoom", "fast"], 1, 1, 1, "string", Keys, st::append, "Appends a string to the value of a key. Creates the key if it doesn't exist."),
    spec!("strlen", 2, ["readonly", "fast"], 1, 1, 1, "string", Keys, st::strlen, "Returns the length of a string value."),
    spec!("incr", 2, ["write", "denyoom", "fast"], 1, 1, 1, "string", Keys, st::incr, "Increments the integer value of a key by one."),
    spec!("decr", 2, ["write", "denyoom", "fast"], 1, 1, 1, "string", Keys, st::decr, "Decrements the integer value of a key by one."),
    spec!("incrby", 3, ["write", "denyoom", "fast"], 1, 1, 1, "string", Keys, st::incrby, "Increments the integer value of a key by a number."),
    spec!("decrby", 3, ["write", "denyoom", "fast"], 1, 1, 1, "string", Keys, st::decrby, "Decrements a number from the integer value of a key."),
    spec!("incrbyfloat", 3, ["write", "denyoom", "fast"], 1, 1, 1, "string", Keys, st::incrbyfloat, "Increment the floating point value of a key by a number."),
    spec!("getrange", 4, ["readonly"], 1, 1, 1, "string", Keys, st::getrange, "Returns a substring of the string stored at a key."),
    spec!("substr", 4, ["readonly"], 1, 1, 1, "string", Keys, st::getrange, "Returns a substring from a string value."),
    spec!("setrange", 4, ["write", "denyoom"], 1, 1, 1, "string", Keys, st::setrange, "Overwrites a part of a string value with another by an offset."),
    // keys
    spec!("del", -2, ["write"], 1, -1, 1, "generic", Keys, k::del, "Deletes one or more keys."),
    spec!("unlink", -2, ["write", "fast"], 1, -1, 1, "generic", Keys, k::del, "Asynchronously deletes one or more keys."),
    spec!("exists", -2, ["readonly", "fast"], 1, -1, 1, "generic", Keys, k::exists, "Determines whether one or more keys exist."),
    spec!("type", 2, ["readonly", "fast"], 1, 1, 1, "generic", Keys, k::type_, "Determines the type of value stored at a key."),
    spec!("rename", 3, ["write"], 1, 2, 1, "generic", Keys, k::rename, "Renames a key and overwrites the destination.", Blocking),
    spec!("renamenx", 3, ["write", "fast"], 1, 2, 1, "generic", Keys, k::renamenx, "Renames a key only when the target key name doesn't exist.", Blocking),
    spec!("copy", -3, ["write", "denyoom"], 1, 2, 1, "generic", Keys, k::copy, "Copies the value of a key to a new key.", Blocking),
    spec!("expire", -3, ["write", "fast"], 1, 1, 1, "generic", Keys, k::expire, "Sets the expiration time of a key in seconds."),
    spec!("pexpire", -3, ["write", "fast"], 1, 1, 1, "generic", Keys, k::pexpire, "Sets the expiration time of a key in milliseconds."),
    spec!("expireat", -3, ["write", "fast"], 1, 1, 1, "generic", Keys, k::expireat, "Sets the expiration time of a key to a Unix timestamp."),
    spec!("pexpireat", -3, ["write", "fast"], 1, 1, 1, "generic", Keys, k::pexpireat, "Sets the expiration time of a key to a Unix milliseconds timestamp."),
    spec!("ttl", 2, ["readonly", "fast"], 1, 1, 1, "generic", Keys, k::ttl, "Returns the expiration time in seconds of a key."),
    spec!("pttl", 2, ["readonly", "fast"], 1, 1, 1, "generic", Keys, k::pttl, "Returns the expiration time in milliseconds of a key."),
    spec!("expiretime", 2, ["readonly", "fast"], 1, 1, 1, "generic", Keys, k::expiretime, "Returns the expiration time of a key as a Unix timestamp."),
    spec!("pexpiretime", 2, ["readonly", "fast"], 1, 1, 1, "generic", Keys, k::pexpiretime, "Returns the expiration time of a key as a Unix milliseconds timestamp."),
    spec!("persist", 2, ["write", "fast"], 1, 1, 1, "generic", Keys, k::persist, "Removes the expiration time of a key."),
    spec!("keys", 2, ["readonly"], 0, 0, 0, "generic", Keys, k::keys, "Returns all key names that match a pattern.", Blocking),
    spec!("scan", -2, ["readonly"], 0, 0, 0, "generic", Keys, k::scan, "Iterates over the key names in the database.", Blocking),
    spec!("randomkey", 1, ["readonly"], 0, 0, 0, "generic", Keys, k::randomkey, "Returns a random key name from the database.", Blocking),
    // hashes
    spec!("hset", -4, ["write", "denyoom", "fast"], 1, 1, 1, "hash", Keys, h::hset, "Creates or modifies the value of a field in a hash."),
    spec!("hmset", -4, ["write", "denyoom", "fast"], 1, 1, 1, "hash", Keys, h::hmset, "Sets the values of multiple fields."),
    spec!("hsetnx", 4, ["write", "denyoom", "fast"], 1, 1, 1, "hash", Keys, h::hsetnx, "Sets the value of a field in a hash only when the field doesn't exist."),
    spec!("hget", 3, ["readonly", "fast"], 1, 1, 1, "hash", Keys, h::hget, "Returns the value of a field in a hash."),
    spec!("hmget", -3, ["readonly", "fast"], 1, 1, 1, "hash", Keys, h::hmget, "Returns the values of all fields in a hash."),
    spec!("hgetall", 2, ["readonly"], 1, 1, 1, "hash", Keys, h::hgetall, "Returns all fields and values in a hash.", Blocking),
    spec!("hdel", -3, ["write", "fast"], 1, 1, 1, "hash", Keys, h::hdel, "Deletes one or more fields and their values from a hash."),
    spec!("hexists", 3, ["readonly", "fast"], 1, 1, 1, "hash", Keys, h::hexists, "Determines whether a field exists in a hash."),
    spec!("hlen", 2, ["readonly", "fast"], 1, 1, 1, "hash", Keys, h::hlen, "Returns the number of fields in a hash."),
    spec!("hkeys", 2, ["readonly"], 1, 1, 1, "hash", Keys, h::hkeys, "Returns all fields in a hash.", Blocking),
    spec!("hvals", 2, ["readonly"], 1, 1, 1, "hash", Keys, h::hvals, "Returns all values in a hash.", Blocking),
    spec!("hstrlen", 3, ["readonly", "fast"], 1, 1, 1, "hash", Keys, h::hstrlen, "Returns the length of the value of a field."),
    spec!("hincrby", 4, ["write", "denyoom", "fast"], 1, 1, 1, "hash", Keys, h::hincrby, "Increments the integer value of a field in a hash by a number."),
    spec!("hincrbyfloat", 4, ["write", "denyoom", "fast"], 1, 1, 1, "hash", Keys, h::hincrbyfloat, "Increments the floating point value of a field by a number."),
    spec!("hscan", -3, ["readonly"], 1, 1, 1, "hash", Keys, h::hscan, "Iterates over fields and values of a hash.", Blocking),
    spec!("hrandfield", -2, ["readonly"], 1, 1, 1, "hash", Keys, h::hrandfield, "Returns one or more random fields from a hash.", Blocking),
    // transactions
    spec!("multi", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], 0, 0, 0, "transactions", Control, t::multi, "Starts a transaction."),
    spec!("exec", 1, ["noscript", "loading", "stale", "skip_slowlog"], 0, 0, 0, "transactions", Control, t::exec_placeholder, "Executes all commands in a transaction.", Blocking),
    spec!("discard", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], 0, 0, 0, "transactions", Control, t::discard, "Discards a transaction."),
    spec!("watch", -2, ["noscript", "loading", "stale", "fast", "allow_busy"], 1, -1, 1, "transactions", Control, t::watch, "Monitors changes to keys to determine the execution of a transaction."),
    spec!("unwatch", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], 0, 0, 0, "transactions", Keys, t::unwatch, "Forgets about watched keys of a transaction."),
    // connection
    spec!("ping", -1, ["fast"], 0, 0, 0, "connection", Keys, c::ping, "Returns the server's liveliness response."),
    spec!("echo", 2, ["fast"], 0, 0, 0, "connection", Keys, c::echo, "Returns the given string."),
    spec!("quit", -1, ["allow_busy", "noscript", "loading", "stale", "fast", "no_auth"], 0, 0, 0, "connection", Control, c::quit, "Closes the connection."),
    spec!("reset", 1, ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], 0, 0, 0, "connection", Control, c::reset, "Resets the connection."),
    spec!("hello", -1, ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], 0, 0, 0, "connection", Keys, c::hello, "Handshakes with the Redis server."),
    spec!("auth", -2, ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], 0, 0, 0, "connection", Keys, c::auth, "Authenticates the connection."),
    spec!("select", 2, ["loading", "stale", "fast"], 0, 0, 0, "connection", Keys, c::select, "Changes the selected database."),
    spec!("client", -2, ["noscript", "loading", "stale"], 0, 0, 0, "connection", Keys, c::client, "A container for client connection commands."),
    // server
    spec!("dbsize", 1, ["readonly", "fast"], 0, 0, 0, "server", Keys, s::dbsize, "Returns the number of keys in the database.", Blocking),
    spec!("flushdb", -1, ["write"], 0, 0, 0, "server", Db, s::flushdb, "Removes all keys from the current database.", Blocking),
    spec!("flushall", -1, ["write"], 0, 0, 0, "server", All, s::flushall, "Removes all keys from all databases.", Blocking),
    spec!("info", -1, ["loading", "stale"], 0, 0, 0, "server", Keys, s::info, "Returns information and statistics about the server.", Blocking),
    spec!("command", -1, ["loading", "stale"], 0, 0, 0, "server", Keys, s::command, "Returns detailed information about all commands."),
    spec!("config", -2, ["admin", "noscript", "loading", "stale"], 0, 0, 0, "server", Keys, s::config, "A container for server configuration commands."),
    spec!("time", 1, ["loading", "stale", "fast"], 0, 0, 0, "server", Keys, s::time, "Returns the server time."),
];

/// The table entry for a (case-insensitive) command name.
pub fn lookup(name: &[u8]) -> Option<&'static Spec> {
    static BY_NAME: OnceLock<FxHashMap<&'static [u8], &'static Spec>> = OnceLock::new();
    let by_name = BY_NAME.get_or_init(|| COMMANDS.iter().map(|s| (s.name.as_bytes(), s)).collect());
    // Every name is short: lower-case the candidate on the stack.
    let mut lower = [0u8; MAX_NAME];
    let lower = lower.get_mut(..name.len())?;
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    by_name.get(&*lower).copied()
}

/// Bytes of the longest command name [`lookup`] can find.
const MAX_NAME: usize = 16;

/// Redis's reply to an unknown command.
pub fn unknown_command(args: &[Bytes]) -> String {
    let name = args.first().map(|a| trunc(a, 128)).unwrap_or_default();
    let mut rest = String::new();
    for a in args.iter().skip(1) {
        if rest.len() >= 128 {
            break;
        }
        rest.push('\'');
        rest.push_str(&trunc(a, 128 - rest.len().min(127)));
        rest.push_str("' ");
    }
    format!("ERR unknown command '{name}', with args beginning with: {rest}")
}

fn trunc(a: &[u8], n: usize) -> String {
    String::from_utf8_lossy(a.get(..n.min(a.len())).unwrap_or(a)).into_owned()
}

/// `-ERR wrong number of arguments for 'x' command`.
pub fn wrong_args(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

/// True if `n` arguments (with the name) satisfy a Redis arity: exactly `arity` if
/// positive, at least `-arity` if negative.
fn arity_ok(arity: i32, n: usize) -> bool {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    let a = i64::from(arity);
    if a >= 0 { n == a } else { n >= -a }
}

/// The subcommands of the container commands, named as Redis 7 names them in
/// `INFO commandstats` and error replies (`container|subcommand`), with their
/// Redis arity (counting the container's name).
const SUBCOMMANDS: &[(&str, i32)] = &[
    ("client|setname", 3),
    ("client|getname", 2),
    ("client|id", 2),
    ("client|info", 2),
    ("client|list", -2),
    ("client|setinfo", -4),
    ("command|count", 2),
    ("command|docs", -2),
    ("command|info", -2),
    ("command|list", -2),
    ("config|get", -3),
    ("config|set", -4),
    ("config|resetstat", 2),
];

/// The subcommand part of `full` if it is one of `container`'s.
fn sub_of<'f>(full: &'f str, container: &str) -> Option<&'f str> {
    full.strip_prefix(container)?.strip_prefix('|')
}

/// The full name and arity of `container`'s subcommand `sub`, if it has one.
fn subcommand(container: &str, sub: &[u8]) -> Option<(&'static str, i32)> {
    SUBCOMMANDS
        .iter()
        .copied()
        .find(|(full, _)| sub_of(full, container).is_some_and(|s| is(sub, s)))
}

/// The name a command counts under in the metrics, `INFO commandstats` and
/// `CLIENT LIST`: a container's subcommand as Redis names it (`config|get`), any
/// other command by its own name.
pub fn stat_name(spec: &Spec, args: &[Bytes]) -> &'static str {
    if !spec.is_container() {
        return spec.name;
    }
    args.get(1)
        .and_then(|sub| subcommand(spec.name, sub))
        .map_or(spec.name, |(full, _)| full)
}

/// Redis's error for an unknown subcommand of a container command, or a wrong
/// number of arguments for a known one. Like Redis, [`dispatch`] answers it before
/// running or queueing the command (so MULTI then fails with EXECABORT).
fn subcommand_error(spec: &Spec, args: &[Bytes]) -> Option<String> {
    if !spec.is_container() {
        return None;
    }
    let sub = args.get(1)?;
    let Some((full, arity)) = subcommand(spec.name, sub) else {
        return Some(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            trunc(sub, 128),
            spec.name.to_ascii_uppercase()
        ));
    };
    (!arity_ok(arity, args.len()))
        .then(|| format!("ERR wrong number of arguments for '{full}' command"))
}

/// Converts a handler result to a reply.
pub fn to_reply(r: CmdResult) -> Reply {
    match r {
        Ok(r) => r,
        Err(CmdError::Reply(e)) => Reply::Error(e),
        Err(CmdError::Engine(e)) => Reply::Error(format!("ERR {e}")),
    }
}

/// Adds a command's lock needs to `plan`, for database `db`.
pub fn plan_locks(srv: &Server, spec: &Spec, args: &[Bytes], db: usize, plan: &mut LockPlan) {
    match spec.scope {
        Scope::Db => plan.exclusive.push(db),
        Scope::All => plan.exclusive.extend(0..srv.dbs.len()),
        Scope::Keys | Scope::Control => {
            for k in spec.keys(args) {
                plan.key(srv, db, k);
            }
            if spec.name == "copy"
                && let (Some(target), Some(dst)) = (keys::copy_target_db(args), args.get(2))
                && let Ok(target) = usize::try_from(target)
            {
                plan.key(srv, target, dst);
            }
        }
    }
}

/// Runs one command outside MULTI: locks its keys, runs it, commits.
pub fn run_single(srv: &Server, sess: &mut Session, spec: &Spec, args: &[Bytes]) -> Reply {
    srv.before_command(spec.name);
    if spec.name == "exec" {
        return transaction::exec(srv, sess);
    }
    let mut plan = LockPlan::default();
    // Commands that read one key record and write nothing are atomic without
    // locks: one engine read.
    if spec.scope != Scope::Control && !spec.lock_free() {
        plan_locks(srv, spec, args, sess.db, &mut plan);
    }
    let _locks = plan.acquire(srv);
    let mut ex = Exec::new(srv, sess.db);
    let r = {
        let mut cx = Cx {
            srv,
            sess,
            ex: &mut ex,
        };
        (spec.run)(&mut cx, args)
    };
    match r {
        Ok(reply) => match ex.commit() {
            Ok(()) => reply,
            Err(e) => to_reply(Err(e)),
        },
        Err(e) => to_reply(Err(e)),
    }
}

/// Most commands of one pipelined run executed as one unit.
pub const MAX_RUN: usize = 512;

/// The command table entry of `args` if it may run in a pipelined batch with its
/// neighbours ([`run_batch`]): a data command on keys of the selected database that
/// passes the arity and authentication checks, outside MULTI. Anything else —
/// connection and server commands, SELECT, keyless scans, errors — runs alone.
pub fn batchable(sess: &Session, args: &[Bytes]) -> Option<&'static Spec> {
    let spec = lookup(args.first()?)?;
    (sess.multi.is_none()
        && sess.authed
        && spec.scope == Scope::Keys
        && spec.first >= 1
        && spec.name != "exec"
        && spec.arity_ok(args.len()))
    .then_some(spec)
}

/// Runs consecutive pipelined commands (each [`batchable`]) under one lock plan and
/// one overlay, committed as one engine write: each command sees the ones before it,
/// the replies are what running them one by one would give, and the group costs one
/// write (and fsync) instead of one per command. If the commit fails, every command
/// of the run answers with the error (none of them was applied).
pub fn run_batch(
    srv: &Server,
    sess: &mut Session,
    run: &[(&'static Spec, &[Bytes])],
) -> Vec<Reply> {
    let mut plan = LockPlan::with_capacity(run.len());
    for (spec, args) in run {
        if !spec.lock_free() {
            plan_locks(srv, spec, args, sess.db, &mut plan);
        }
    }
    let _locks = plan.acquire(srv);
    let mut ex = Exec::new(srv, sess.db);
    let mut rec = srv.ctx.metrics.run_recorder("redis", run.len());
    let mut replies: Vec<Reply> = run
        .iter()
        .map(|(spec, args)| run_in(srv, sess, &mut ex, &mut rec, spec, args))
        .collect();
    drop(rec);
    if let Err(e) = ex.commit() {
        let err = to_reply(Err(e));
        for r in &mut replies {
            // `run_in` counted the replies that were errors already.
            if !r.is_error() {
                srv.stats.count_reply(&err);
            }
            *r = err.clone();
        }
    }
    replies
}

/// Runs one command inside a shared overlay (a pipelined run or an EXEC), records
/// its metrics in the run's `rec` and counts its reply if it is an error (an error
/// inside EXEC's array counts, as in Redis); the caller commits.
pub fn run_in<'a>(
    srv: &'a Server,
    sess: &mut Session,
    ex: &mut Exec<'a>,
    rec: &mut RunRecorder<'_>,
    spec: &Spec,
    args: &[Bytes],
) -> Reply {
    let started = std::time::Instant::now();
    srv.before_command(spec.name);
    let r = to_reply((spec.run)(&mut Cx { srv, sess, ex }, args));
    rec.record(stat_name(spec, args), started.elapsed(), r.is_error());
    srv.stats.count_reply(&r);
    r
}

/// What [`dispatch`] did with one command.
#[derive(Debug)]
pub struct Dispatched {
    /// The reply to send.
    pub reply: Reply,
    /// The command's name for metrics and `CLIENT LIST` ([`stat_name`];
    /// `unknown` for an unknown command or subcommand).
    pub name: &'static str,
    /// Queued inside MULTI (`+QUEUED`): as in Redis, the command counts in the
    /// metrics when EXEC runs it ([`run_in`] records it), not now.
    pub queued: bool,
    /// Refused before it ran (unknown, wrong arity, not authenticated): Redis's
    /// `rejected_calls`, not a call.
    pub rejected: bool,
}

/// A refusal of a command before it runs or is queued; inside MULTI it makes
/// EXEC fail with EXECABORT, as in Redis.
fn refuse(sess: &mut Session, message: String, name: &'static str) -> Dispatched {
    sess.multi_error |= sess.multi.is_some();
    Dispatched {
        reply: Reply::Error(message),
        name,
        queued: false,
        rejected: true,
    }
}

/// Handles one command from the client: checks, MULTI queueing, execution.
pub fn dispatch(srv: &Server, sess: &mut Session, args: &[Bytes]) -> Dispatched {
    dispatch_spec(srv, sess, args, args.first().and_then(|n| lookup(n)))
}

/// [`dispatch`] for a command whose table entry the caller has looked up already
/// (`None`: unknown).
pub fn dispatch_spec(
    srv: &Server,
    sess: &mut Session,
    args: &[Bytes],
    spec: Option<&'static Spec>,
) -> Dispatched {
    let done = |reply, name, queued| Dispatched {
        reply,
        name,
        queued,
        rejected: false,
    };
    if args.is_empty() {
        return done(Reply::Nil, "unknown", false);
    }
    let Some(spec) = spec else {
        return refuse(sess, unknown_command(args), "unknown");
    };
    if !spec.arity_ok(args.len()) {
        return refuse(sess, wrong_args(spec.name), spec.name);
    }
    if let Some(e) = subcommand_error(spec, args) {
        // Counted where Redis counts it: under `config|get` for a wrong argument
        // count, nowhere (`unknown`) for an unknown subcommand.
        let name = args
            .get(1)
            .and_then(|sub| subcommand(spec.name, sub))
            .map_or("unknown", |(full, _)| full);
        return refuse(sess, e, name);
    }
    let name = stat_name(spec, args);
    if !sess.authed && !spec.flags.contains(&"no_auth") {
        return refuse(sess, "NOAUTH Authentication required.".into(), name);
    }
    if let Some(queue) = sess.multi.as_mut()
        && spec.scope != Scope::Control
    {
        queue.push(args.to_vec());
        return done(Reply::Simple("QUEUED"), name, true);
    }
    done(run_single(srv, sess, spec, args), name, false)
}

// ---- reply size ----

/// The bytes a reply is allowed while a command builds it: the connection's
/// `max_pending_output_bytes`, counted as entries are added, so a command over a
/// large range (KEYS, HGETALL, a huge SCAN COUNT) stops with an error instead of
/// building a reply the connection would refuse to queue. The counts are the RESP
/// encoding's sizes (an upper bound for RESP3, whose nulls are shorter).
pub struct ReplyBudget {
    limit: usize,
    left: usize,
    hint: &'static str,
}

/// Bytes of an array or map header (`*n\r\n`) with any count.
pub const HEADER_BYTES: usize = 23;

impl ReplyBudget {
    /// A budget for one reply; `hint` ends the error (`use SCAN`).
    pub fn new(cx: &Cx<'_, '_>, hint: &'static str) -> ReplyBudget {
        let limit = cx.srv.ctx.limits.max_pending_output_bytes;
        ReplyBudget {
            limit,
            left: limit,
            hint,
        }
    }

    /// Counts `n` more bytes; the error once the reply would exceed the limit.
    pub fn take(&mut self, n: usize) -> CmdResult<()> {
        match self.left.checked_sub(n) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(self.exceeded()),
        }
    }

    /// Counts a bulk string of `len` bytes (`$len\r\n…\r\n`).
    pub fn bulk(&mut self, len: usize) -> CmdResult<()> {
        self.take(bulk_bytes(len))
    }

    /// True if `n` more bytes would not fit (nothing is counted).
    pub fn would_exceed(&self, n: usize) -> bool {
        n > self.left
    }

    /// `-ERR reply would exceed the output limit of N bytes; <hint>`.
    pub fn exceeded(&self) -> CmdError {
        CmdError::Reply(format!(
            "ERR reply would exceed the output limit of {} bytes; {}",
            self.limit, self.hint
        ))
    }
}

/// Encoded size of a bulk string of `len` bytes.
pub fn bulk_bytes(len: usize) -> usize {
    let mut digits = 1;
    let mut n = len;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    len.saturating_add(digits + 5)
}

// ---- argument helpers ----

/// Parses an integer argument strictly (Redis `string2ll`).
pub fn parse_i64(a: &[u8]) -> Option<i64> {
    if a.is_empty() || a.len() > 20 {
        return None;
    }
    let s = std::str::from_utf8(a).ok()?;
    if s.starts_with('+') || (s.len() > 1 && (s.starts_with('0') || s.starts_with("-0"))) {
        return None;
    }
    if s == "-0" {
        return None;
    }
    s.parse().ok()
}

/// An integer argument or `ERR value is not an integer or out of range`.
pub fn int_arg(a: &[u8]) -> CmdResult<i64> {
    parse_i64(a)
        .ok_or_else(|| CmdError::Reply("ERR value is not an integer or out of range".into()))
}

/// Parses a float argument as Redis does (`strtold`, no spaces, no NaN).
pub fn parse_f64(a: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(a).ok()?;
    if s.is_empty()
        || s.len() > 5000
        || s.starts_with(char::is_whitespace)
        || s.ends_with(char::is_whitespace)
    {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let v: f64 = match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" => {
            if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        }
        _ => {
            if lower.contains("nan")
                || lower.contains("inf")
                || lower.starts_with("0x")
                || lower.starts_with("-0x")
            {
                return None;
            }
            lower.parse().ok()?
        }
    };
    (!v.is_nan()).then_some(v)
}

/// Case-insensitive comparison of an argument with an option name.
pub fn is(a: &[u8], opt: &str) -> bool {
    a.eq_ignore_ascii_case(opt.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_bytes_is_the_encoded_size() {
        for len in [0, 1, 9, 10, 99, 100, 999, 1000, 12_345, 1 << 20] {
            let mut out = Vec::new();
            Reply::Bulk(Bytes::from(vec![b'x'; len])).encode(2, &mut out);
            assert_eq!(bulk_bytes(len), out.len(), "{len}");
            out.clear();
            Reply::Bulk(Bytes::from(vec![b'x'; len])).encode(3, &mut out);
            assert_eq!(bulk_bytes(len), out.len(), "{len}");
        }
        let mut out = Vec::new();
        Reply::Array(vec![Reply::Nil; usize::from(u16::MAX)]).encode(2, &mut out);
        assert!(out.len() - 5 * usize::from(u16::MAX) <= HEADER_BYTES);
    }

    #[test]
    fn lookup_finds_every_command_in_any_case_and_nothing_else() {
        for spec in COMMANDS {
            assert!(spec.name.len() <= MAX_NAME, "{}", spec.name);
            let upper = spec.name.to_ascii_uppercase();
            for name in [spec.name.to_string(), upper] {
                let found = lookup(name.as_bytes()).map(|s| s.name);
                assert_eq!(found, Some(spec.name));
            }
        }
        for name in [&b""[..], b"gett", b"ge", b"get ", b"\xffget", &[b'g'; 40]] {
            assert!(lookup(name).is_none(), "{name:?}");
        }
    }

    #[test]
    fn containers_are_the_commands_with_subcommands() {
        for spec in COMMANDS {
            let has_subcommands = SUBCOMMANDS
                .iter()
                .any(|(full, _)| sub_of(full, spec.name).is_some());
            assert_eq!(spec.is_container(), has_subcommands, "{}", spec.name);
        }
    }

    #[test]
    fn keys_follow_first_last_and_step() {
        let args: Vec<Bytes> = ["mset", "a", "1", "b", "2", "c", "3"]
            .into_iter()
            .map(Bytes::from)
            .collect();
        let keys = |name: &str, n: usize| -> Vec<Bytes> {
            let spec = lookup(name.as_bytes()).unwrap();
            spec.keys(&args[..n]).cloned().collect()
        };
        assert_eq!(keys("mset", 7), ["a", "b", "c"]);
        assert_eq!(keys("del", 4), ["a", "1", "b"]);
        assert_eq!(keys("get", 2), ["a"]);
        assert_eq!(keys("set", 3), ["a"]);
        assert_eq!(keys("rename", 3), ["a", "1"]);
        assert!(keys("ping", 1).is_empty());
        assert!(keys("get", 1).is_empty());
    }
}
