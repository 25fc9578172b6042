//! `INFO stats` counters and `CONFIG RESETSTAT`, checked against a real
//! redis-server: the same commands sent to both must move `keyspace_hits` and
//! `keyspace_misses` by the same amounts, alone, pipelined and inside MULTI/EXEC,
//! and give the same `total_error_replies`, `INFO errorstats` and commandstats
//! `calls`/`rejected_calls`/`failed_calls`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
use common::redis::RealRedis;
use common::*;

/// One `field:value` line of an INFO reply.
fn info_field(info: &str, name: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {name} in INFO: {info}"))
        .trim()
        .parse()
        .unwrap()
}

fn hits_misses(c: &mut Conn) -> (u64, u64) {
    let info = c.cmd(&["INFO", "stats"]).text();
    (
        info_field(&info, "keyspace_hits"),
        info_field(&info, "keyspace_misses"),
    )
}

/// The data every case starts from.
fn setup(c: &mut Conn) {
    for cmd in [
        &["FLUSHALL"][..],
        &["SET", "s", "v"],
        &["SET", "n", "5"],
        &["HSET", "h", "f", "v", "g", "w"],
        &["SELECT", "0"],
    ] {
        let r = c.cmd(cmd);
        assert!(!matches!(r, V::E(_)), "{cmd:?}: {r:?}");
    }
}

/// How a case's commands are sent.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// One at a time, each reply read before the next command.
    Alone,
    /// All in one write (ShaleDB runs them as one `run_batch`).
    Pipelined,
    /// Inside MULTI ... EXEC.
    Multi,
}

/// Runs `cmds` on `c` after `setup`; returns the (hits, misses) they added.
fn delta(c: &mut Conn, cmds: &[&[&str]], mode: Mode) -> (u64, u64) {
    setup(c);
    let before = hits_misses(c);
    match mode {
        Mode::Alone => {
            for cmd in cmds {
                c.cmd(cmd);
            }
        }
        Mode::Pipelined => {
            let mut buf = Vec::new();
            for cmd in cmds {
                let a: Vec<&[u8]> = cmd.iter().map(|s| s.as_bytes()).collect();
                buf.extend(frame(&a));
            }
            c.send(&buf);
            for _ in cmds {
                c.read();
            }
        }
        Mode::Multi => {
            assert_eq!(c.cmd(&["MULTI"]), V::ok());
            for cmd in cmds {
                assert_eq!(c.cmd(cmd), V::S("QUEUED".into()), "{cmd:?}");
            }
            let r = c.cmd(&["EXEC"]);
            assert!(matches!(r, V::A(_)), "EXEC: {r:?}");
        }
    }
    let after = hits_misses(c);
    (after.0 - before.0, after.1 - before.1)
}

/// (commands, hits, misses) after `setup`, as Redis 7.0 counts them (the real
/// server checks the table too).
#[rustfmt::skip]
const CASES: &[(&[&[&str]], u64, u64)] = &[
    (&[&["GET", "s"]], 1, 0),
    (&[&["GET", "nokey"]], 0, 1),
    (&[&["GET", "h"]], 1, 0), // WRONGTYPE still found the key
    (&[&["MGET", "s", "nokey", "h", "s"]], 3, 1),
    (&[&["GETEX", "s"]], 1, 0),
    (&[&["GETEX", "nokey", "PERSIST"]], 0, 1),
    (&[&["GETEX", "s", "EX", "bad"]], 1, 0), // looked up before the time is parsed
    (&[&["GETEX", "s", "BOGUS"]], 0, 0),     // syntax error first
    (&[&["GETDEL", "s"]], 1, 0),
    (&[&["GETDEL", "nokey"]], 0, 1),
    (&[&["GETSET", "s", "x"]], 1, 0),
    (&[&["SET", "s", "x", "GET"]], 1, 0),
    (&[&["SET", "nokey", "x", "GET"]], 0, 1),
    (&[&["SET", "s", "x", "GET", "EX", "0"]], 0, 0),
    (&[&["SET", "s", "x"], &["SET", "s", "x", "NX"], &["SETNX", "s", "x"]], 0, 0),
    (&[&["MSETNX", "s", "x"], &["APPEND", "s", "x"], &["INCR", "n"]], 0, 0),
    (&[&["INCRBYFLOAT", "n", "1"], &["SETRANGE", "s", "0", "a"], &["DECRBY", "n", "2"]], 0, 0),
    (&[&["STRLEN", "s"], &["STRLEN", "nokey"], &["STRLEN", "h"]], 2, 1),
    (&[&["GETRANGE", "s", "0", "1"], &["SUBSTR", "nokey", "0", "1"]], 1, 1),
    (&[&["EXISTS", "s", "nokey", "s"]], 2, 1),
    (&[&["TYPE", "s"], &["TYPE", "nokey"]], 1, 1),
    (&[&["TTL", "s"], &["PTTL", "nokey"], &["EXPIRETIME", "h"], &["PEXPIRETIME", "s"]], 3, 1),
    (&[&["PERSIST", "s"], &["EXPIRE", "s", "100"], &["DEL", "s", "nokey"], &["UNLINK", "n"]], 0, 0),
    (&[&["RENAME", "s", "t"], &["RENAME", "nokey", "t"], &["RENAMENX", "t", "u"]], 0, 0),
    (&[&["COPY", "s", "t"], &["COPY", "nokey", "t"], &["COPY", "h", "n", "REPLACE"]], 2, 1),
    (&[&["KEYS", "*"], &["SCAN", "0"], &["RANDOMKEY"], &["DBSIZE"]], 0, 0),
    (&[&["SCAN", "0", "TYPE", "string"]], 3, 0), // one lookup per key scanned
    (&[&["SCAN", "0", "MATCH", "s*", "TYPE", "hash"]], 1, 0),
    (&[&["HGET", "h", "f"], &["HGET", "h", "nof"], &["HGET", "nokey", "f"], &["HGET", "s", "f"]], 3, 1),
    (&[&["HMGET", "h", "f", "x"], &["HMGET", "nokey", "f", "g"]], 1, 1),
    (&[&["HGETALL", "h"], &["HGETALL", "nokey"], &["HKEYS", "h"], &["HVALS", "nokey"]], 2, 2),
    (&[&["HEXISTS", "h", "f"], &["HLEN", "h"], &["HLEN", "nokey"], &["HSTRLEN", "h", "f"]], 3, 1),
    (&[&["HSET", "h", "f", "v"], &["HSETNX", "h", "f", "v"], &["HDEL", "h", "f"]], 0, 0),
    (&[&["HINCRBY", "h", "i", "1"], &["HINCRBYFLOAT", "h", "i", "1"], &["HMSET", "h", "a", "b"]], 0, 0),
    (&[&["HSCAN", "h", "0"], &["HSCAN", "nokey", "0", "COUNT", "0"], &["HSCAN", "h", "0", "COUNT", "0"]], 2, 1),
    (&[&["HRANDFIELD", "h"], &["HRANDFIELD", "h", "2"], &["HRANDFIELD", "nokey", "-3", "WITHVALUES"]], 2, 1),
    (&[&["HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES"], &["HRANDFIELD", "h", "1", "x"]], 0, 0),
    (&[&["SELECT", "1"], &["GET", "s"], &["SELECT", "0"], &["GET", "s"]], 1, 1),
    (&[&["FLUSHDB"], &["INFO", "keyspace"]], 0, 0),
];

/// A command of `cmds` that MULTI refuses to queue or that cannot be pipelined
/// with the same meaning; such cases only run alone.
fn alone_only(cmds: &[&[&str]]) -> bool {
    cmds.iter().any(|c| matches!(c[0], "WATCH" | "MULTI"))
}

#[test]
fn keyspace_hits_and_misses_match_real_redis() {
    let redis = RealRedis::start();
    let ours = TestServer::start();
    let mut real = Conn::connect(redis.addr);
    let mut mine = ours.conn();
    for &(cmds, hits, misses) in CASES {
        for mode in [Mode::Alone, Mode::Pipelined, Mode::Multi] {
            if alone_only(cmds) && !matches!(mode, Mode::Alone) {
                continue;
            }
            let want = (hits, misses);
            let r = delta(&mut real, cmds, mode);
            assert_eq!(
                r, want,
                "redis-server disagrees with the table: {cmds:?} {mode:?}"
            );
            let m = delta(&mut mine, cmds, mode);
            assert_eq!(m, want, "ShaleDB: {cmds:?} {mode:?}");
        }
    }
}

/// INFO inside a transaction sees the lookups made before it in the same EXEC.
#[test]
fn info_inside_exec_counts_earlier_reads() {
    let s = TestServer::start();
    let mut c = s.conn();
    setup(&mut c);
    let (h0, m0) = hits_misses(&mut c);
    c.cmd(&["MULTI"]);
    c.cmd(&["GET", "s"]);
    c.cmd(&["GET", "nokey"]);
    c.cmd(&["INFO", "stats"]);
    let r = c.cmd(&["EXEC"]).items();
    let info = r[2].text();
    assert_eq!(info_field(&info, "keyspace_hits"), h0 + 1);
    assert_eq!(info_field(&info, "keyspace_misses"), m0 + 1);
}

/// The `INFO stats` fields `CONFIG RESETSTAT` resets.
const RESET_FIELDS: &[&str] = &[
    "total_commands_processed",
    "total_connections_received",
    "rejected_connections",
    "total_net_input_bytes",
    "total_net_output_bytes",
    "keyspace_hits",
    "keyspace_misses",
];

/// (field, value) pairs of INFO stats.
type Fields = Vec<(&'static str, u64)>;

fn reset_fields(info: &str) -> Fields {
    RESET_FIELDS
        .iter()
        .map(|f| (*f, info_field(info, f)))
        .collect()
}

/// Traffic, then RESETSTAT, then INFO: returns the INFO stats fields before and
/// after, and the INFO commandstats and latencystats text after.
fn resetstat_run(addr: std::net::SocketAddr) -> (Fields, Fields, String) {
    let mut c = Conn::connect(addr);
    let mut other = Conn::connect(addr);
    assert_eq!(other.cmd(&["PING"]), V::S("PONG".into()));
    setup(&mut c);
    c.cmd(&["GET", "s"]);
    c.cmd(&["GET", "nokey"]);
    c.cmd(&["HGETALL", "h"]);
    let before = reset_fields(&c.cmd(&["INFO", "stats"]).text());
    assert_eq!(c.cmd(&["CONFIG", "RESETSTAT"]), V::ok());
    let after = reset_fields(&c.cmd(&["INFO", "stats"]).text());
    let per_command = c.cmd(&["INFO", "commandstats", "latencystats"]).text();
    (before, after, per_command)
}

#[test]
fn config_resetstat_resets_info_like_redis_and_keeps_prometheus_monotonic() {
    let redis = RealRedis::start();
    let ours = TestServer::start();
    let admin = ours.admin();
    let (real_before, real_after, _) = resetstat_run(redis.addr);
    let (prom, prom_text) = http_get(admin, "/metrics");
    assert_eq!(prom, 200);
    let (before, after, per_command) = resetstat_run(ours.addr);
    // What Redis shows right after RESETSTAT: RESETSTAT itself (counted once it
    // has run), INFO's own 25 input bytes, the 5 bytes of +OK.
    let want = vec![
        ("total_commands_processed", 1),
        ("total_connections_received", 0),
        ("rejected_connections", 0),
        ("total_net_input_bytes", 25),
        ("total_net_output_bytes", 5),
        ("keyspace_hits", 0),
        ("keyspace_misses", 0),
    ];
    assert_eq!(real_after, want, "redis-server");
    assert_eq!(after, want, "ShaleDB");
    for (name, v) in &before {
        if *name != "rejected_connections" {
            assert!(*v > 0, "{name} was 0 before RESETSTAT: nothing to reset");
        }
    }
    assert_eq!(
        before[5..],
        real_before[5..],
        "hits/misses before the reset"
    );
    // Per-command figures start again too: only CONFIG and INFO were called since.
    let calls: Vec<&str> = per_command
        .lines()
        .filter(|l| l.starts_with("cmdstat_") || l.starts_with("latency_percentiles"))
        .collect();
    assert_eq!(calls.len(), 4, "{per_command}");
    assert!(
        calls[0].starts_with("cmdstat_config|resetstat:calls=1,")
            && calls[0].contains("failed_calls=0"),
        "{calls:?}"
    );
    // The INFO answering counts once it has run, as in Redis.
    assert!(calls[1].starts_with("cmdstat_info:calls=1,"), "{calls:?}");
    // Redis prints the percentiles with three decimals.
    assert!(
        calls[2].starts_with("latency_percentiles_usec_config|resetstat:p50=")
            && calls[2].ends_with(".000"),
        "{calls:?}"
    );
    assert!(
        calls[3].starts_with("latency_percentiles_usec_info:p50="),
        "{calls:?}"
    );
    // The Prometheus counters never go back.
    let (_, after_text) = http_get(admin, "/metrics");
    for counter in [
        "shale_commands_total{protocol=\"redis\",command=\"get\"}",
        "shale_net_input_bytes_total",
        "shale_net_output_bytes_total",
        "shale_connections_received_total",
    ] {
        let value = |text: &str| -> u64 {
            text.lines()
                .find_map(|l| l.strip_prefix(counter)?.trim().parse().ok())
                .unwrap_or(0)
        };
        let (was, now) = (value(&prom_text), value(&after_text));
        assert!(now > 0 && now >= was, "{counter}: {was} then {now}");
    }
    assert!(after_text.contains("shale_commands_total{protocol=\"redis\",command=\"get\"} 2\n"));
}

/// Commands answered with errors of every kind Redis counts, each with what Redis
/// answers (checked on both servers): run alone, except the pipelined group.
#[rustfmt::skip]
const ERROR_CASES: &[(&[&str], &str)] = &[
    (&["SET", "s", "v"], "+"),
    (&["HSET", "h", "f", "v"], ":"),
    (&["GET", "s"], "$"),
    (&["GET", "h"], "-WRONGTYPE"),                   // failed in execution
    (&["INCR", "s"], "-ERR value is not an integer"),
    (&["SET", "s", "v", "BOGUS"], "-ERR syntax error"), // syntax: failed, not rejected
    (&["GETEX", "s", "BOGUS"], "-ERR syntax error"),
    (&["PING", "a", "b"], "-ERR wrong number"),       // PING checks its own arity: failed
    (&["GET"], "-ERR wrong number"),                  // arity: rejected
    (&["SET", "a"], "-ERR wrong number"),
    (&["NOSUCH", "a", "b"], "-ERR unknown command"), // counted, no cmdstat
    (&["CONFIG"], "-ERR wrong number"),               // rejected under config
    (&["CONFIG", "GET"], "-ERR wrong number"),        // rejected under config|get
    (&["CONFIG", "NOSUB"], "-ERR unknown subcommand"), // counted, no cmdstat
    (&["CONFIG", "GET", "maxmemory"], "*"),
    (&["CLIENT"], "-ERR wrong number"),               // rejected under client
    (&["COMMAND", "FOO"], "-ERR unknown subcommand"),
    (&["CLIENT", "SETNAME", "a b"], "-ERR Client names"), // failed under client|setname
    (&["CLIENT", "GETNAME"], "$"),
    (&["COMMAND", "COUNT"], ":"),
    (&["SELECT", "99"], "-ERR DB index"),
    (&["MULTI"], "+"),
    (&["SET", "a"], "-ERR wrong number"),             // rejected inside MULTI
    (&["GET", "a"], "+QUEUED"),                       // never runs
    (&["EXEC"], "-EXECABORT"),
    (&["MULTI"], "+"),
    (&["SET", "a", "1"], "+QUEUED"),
    (&["INCR", "s"], "+QUEUED"),                      // fails inside EXEC
    (&["HGET", "s", "f"], "+QUEUED"),                 // WRONGTYPE inside EXEC
    (&["CONFIG", "GET", "maxmemory"], "+QUEUED"),     // config|get when EXEC runs it
    (&["MULTI"], "-ERR MULTI calls can not be nested"),
    (&["WATCH", "x"], "-ERR WATCH inside MULTI"),     // fails, EXEC still runs
    (&["EXEC"], "*"),
    (&["EXEC"], "-ERR EXEC without MULTI"),
    (&["DISCARD"], "-ERR DISCARD without MULTI"),
    (&["HELLO", "4"], "-NOPROTO"),
    (&["CONFIG", "SET", "requirepass", "pw"], "+"),
];

/// Sent in one write: ShaleDB runs them as one pipelined batch.
const PIPELINED: &[&[&str]] = &[&["GET", "h"], &["GET", "s"], &["INCR", "s"]];

/// On a connection opened after `requirepass` was set.
#[rustfmt::skip]
const UNAUTHENTICATED: &[(&[&str], &str)] = &[
    (&["GET", "s"], "-NOAUTH"),                       // rejected
    (&["PING"], "-NOAUTH"),
    (&["NOSUCH"], "-ERR unknown command"),
    (&["AUTH", "bad"], "-WRONGPASS"),                 // failed
    (&["AUTH", "pw"], "+"),
    (&["CONFIG", "SET", "requirepass", ""], "+"),
];

/// What `INFO` reports about errors: `unexpected_error_replies`,
/// `total_error_replies`, the `errorstat_*` lines, and
/// `cmdstat_<name>: (calls, rejected_calls, failed_calls)`.
#[derive(Debug, PartialEq)]
struct ErrorReport {
    unexpected: u64,
    total: u64,
    errorstats: Vec<String>,
    commands: std::collections::BTreeMap<String, (u64, u64, u64)>,
}

/// `name=value` of one `cmdstat_*` line.
fn cmdstat_field(fields: &str, name: &str) -> u64 {
    fields
        .split(',')
        .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {name} in {fields}"))
        .parse()
        .unwrap()
}

fn error_report(c: &mut Conn) -> ErrorReport {
    let stats = c.cmd(&["INFO", "stats"]).text();
    let errors = c.cmd(&["INFO", "errorstats"]).text();
    let commands = c.cmd(&["INFO", "commandstats"]).text();
    ErrorReport {
        unexpected: info_field(&stats, "unexpected_error_replies"),
        total: info_field(&stats, "total_error_replies"),
        errorstats: errors
            .lines()
            .filter(|l| l.starts_with("errorstat_"))
            .map(str::to_string)
            .collect(),
        commands: commands
            .lines()
            .filter_map(|l| l.strip_prefix("cmdstat_")?.split_once(':'))
            .map(|(name, f)| {
                let figures = (
                    cmdstat_field(f, "calls"),
                    cmdstat_field(f, "rejected_calls"),
                    cmdstat_field(f, "failed_calls"),
                );
                (name.to_string(), figures)
            })
            .collect(),
    }
}

fn expect(c: &mut Conn, cmd: &[&str], want: &str) {
    let raw =
        String::from_utf8_lossy(&c.raw(&cmd.iter().map(|a| a.as_bytes()).collect::<Vec<_>>()))
            .into_owned();
    assert!(raw.starts_with(want), "{cmd:?}: {raw:?}, expected {want}");
}

/// The section titles of an INFO reply, in order.
fn sections(info: &str) -> Vec<String> {
    info.lines()
        .filter_map(|l| l.strip_prefix("# "))
        .map(str::to_string)
        .collect()
}

/// Errors, RESETSTAT, the error cases, a protocol error: the report after the
/// cases, and the report right after a second RESETSTAT.
fn error_run(addr: std::net::SocketAddr) -> (ErrorReport, ErrorReport) {
    let mut c = Conn::connect(addr);
    expect(&mut c, &["FLUSHALL"], "+");
    expect(&mut c, &["NOSUCH"], "-ERR");
    expect(&mut c, &["CONFIG", "RESETSTAT"], "+");
    for (cmd, want) in ERROR_CASES {
        expect(&mut c, cmd, want);
    }
    let mut buf = Vec::new();
    for cmd in PIPELINED {
        buf.extend(frame(&cmd.iter().map(|a| a.as_bytes()).collect::<Vec<_>>()));
    }
    c.send(&buf);
    let replies: Vec<V> = PIPELINED.iter().map(|_| c.read()).collect();
    assert!(
        matches!(&replies[..], [V::E(_), V::B(_), V::E(_)]),
        "{replies:?}"
    );
    let mut u = Conn::connect(addr);
    for (cmd, want) in UNAUTHENTICATED {
        expect(&mut u, cmd, want);
    }
    let mut p = Conn::connect(addr);
    p.send(b"*x\r\n");
    assert!(p.read().text().starts_with("ERR Protocol error"));
    assert!(p.closed());
    let report = error_report(&mut c);
    expect(&mut c, &["CONFIG", "RESETSTAT"], "+");
    (report, error_report(&mut c))
}

#[test]
fn error_stats_match_real_redis() {
    let redis = RealRedis::start();
    let ours = TestServer::start();
    let (real, real_reset) = error_run(redis.addr);
    let (mine, mine_reset) = error_run(ours.addr);
    assert_eq!(mine, real, "after the error cases");
    assert_eq!(mine_reset, real_reset, "after CONFIG RESETSTAT");
    // The table means what it says on the real server.
    assert_eq!((real.unexpected, real.total), (0, 31), "{real:?}");
    assert_eq!(real.commands.get("get"), Some(&(4, 2, 2)), "{real:?}");
    assert_eq!(
        real.commands.get("config|get"),
        Some(&(2, 1, 0)),
        "{real:?}"
    );
    assert_eq!(real_reset.total, 0);
    assert!(real_reset.errorstats.is_empty(), "{real_reset:?}");
    // As in Redis, errorstats is a default section; commandstats and latencystats
    // only with `all`. ShaleDB has no CPU, Modules or Cluster section.
    let mut real_conn = Conn::connect(redis.addr);
    let mut mine_conn = ours.conn();
    for args in [&["INFO"][..], &["INFO", "all"], &["INFO", "everything"]] {
        let mut want = sections(&real_conn.cmd(args).text());
        want.retain(|s| !matches!(s.as_str(), "CPU" | "Modules" | "Cluster"));
        assert_eq!(sections(&mine_conn.cmd(args).text()), want, "{args:?}");
    }
}
