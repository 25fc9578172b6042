//! Server commands: DBSIZE, FLUSHDB, FLUSHALL, INFO, COMMAND, CONFIG, TIME.

use bytes::Bytes;
use shale_server::CommandSnapshot;

use super::{COMMANDS, Cx, is, lookup};
use crate::exec::{CmdResult, fail};
use crate::layout::{self, Record};
use crate::resp::Reply;

fn arg(args: &[Bytes], i: usize) -> &[u8] {
    args.get(i).map_or(&[][..], |a| a.as_ref())
}

/// Live keys and keys with an expiry in the selected database, counted in one
/// pass over the key records (nothing collected).
fn count_keys(cx: &mut Cx<'_, '_>) -> CmdResult<(u64, u64)> {
    let now = cx.ex.now;
    let (mut keys, mut expires) = (0, 0);
    let end = [layout::KEY_PREFIX + 1];
    cx.ex
        .scan_each(&[layout::KEY_PREFIX], false, &end, |_, v| {
            if let Some(r) = Record::decode(&v)
                && !r.expired(now)
            {
                keys += 1;
                if r.expiry != 0 {
                    expires += 1;
                }
            }
            Ok(true)
        })?;
    Ok((keys, expires))
}

/// `DBSIZE`.
pub fn dbsize(cx: &mut Cx<'_, '_>, _args: &[Bytes]) -> CmdResult {
    let (k, _) = count_keys(cx)?;
    Ok(Reply::Int(i64::try_from(k).unwrap_or(i64::MAX)))
}

fn flush_mode(args: &[Bytes]) -> CmdResult<()> {
    match args.get(1) {
        None => Ok(()),
        Some(a) if args.len() == 2 && (is(a, "async") || is(a, "sync")) => Ok(()),
        Some(_) => fail("ERR syntax error"),
    }
}

/// Empties the selected database inside the overlay (flags watchers of keys that
/// existed).
fn flush_current(cx: &mut Cx<'_, '_>) -> CmdResult<()> {
    let db = cx.ex.db;
    for k in cx.srv.watched_keys(db) {
        if cx.ex.lookup(&k)?.is_some() {
            cx.ex.touch(db, &k);
        }
    }
    cx.ex
        .delete_range_raw(layout::DB_START.to_vec(), layout::DB_END.to_vec())
}

/// `FLUSHDB [ASYNC|SYNC]`.
pub fn flushdb(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    flush_mode(args)?;
    flush_current(cx)?;
    Ok(Reply::OK)
}

/// `FLUSHALL [ASYNC|SYNC]`.
pub fn flushall(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    flush_mode(args)?;
    let saved = cx.ex.db;
    for db in 0..cx.srv.dbs.len() {
        if cx.srv.existing_keyspace(db)?.is_some() {
            cx.ex.db = db;
            flush_current(cx)?;
        }
    }
    cx.ex.db = saved;
    Ok(Reply::OK)
}

/// `TIME`.
pub fn time(_cx: &mut Cx<'_, '_>, _args: &[Bytes]) -> CmdResult {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Ok(Reply::Array(vec![
        Reply::bulk(d.as_secs().to_string()),
        Reply::bulk(d.subsec_micros().to_string()),
    ]))
}

fn section(out: &mut String, title: &str, lines: &[(String, String)]) {
    if !out.is_empty() {
        out.push_str("\r\n");
    }
    out.push_str("# ");
    out.push_str(title);
    out.push_str("\r\n");
    for (k, v) in lines {
        out.push_str(k);
        out.push(':');
        out.push_str(v);
        out.push_str("\r\n");
    }
}

fn kv(k: &str, v: impl ToString) -> (String, String) {
    (k.to_string(), v.to_string())
}

/// Redis shows no figures for unknown commands and subcommands.
fn shown(c: &CommandSnapshot) -> bool {
    c.command != "unknown"
}

/// `cmdstat_<name>:calls=…,usec=…,usec_per_call=…,rejected_calls=…,failed_calls=…`.
fn commandstats(snap: &[CommandSnapshot]) -> Vec<(String, String)> {
    snap.iter()
        .filter(|c| shown(c))
        .map(|c| {
            let per_call = c.total_micros as f64 / c.calls.max(1) as f64;
            kv(
                &format!("cmdstat_{}", c.command),
                format!(
                    "calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}",
                    c.calls, c.total_micros, c.rejected, c.errors
                ),
            )
        })
        .collect()
}

/// `latency_percentiles_usec_<name>:p50=…,p99=…,p99.9=…` of the commands that ran.
fn latencystats(snap: &[CommandSnapshot]) -> Vec<(String, String)> {
    snap.iter()
        .filter(|c| shown(c) && c.calls > 0)
        .map(|c| {
            let [p50, _, p99, p999, _] = c.percentiles_micros;
            kv(
                &format!("latency_percentiles_usec_{}", c.command),
                format!(
                    "p50={:.3},p99={:.3},p99.9={:.3}",
                    p50 as f64, p99 as f64, p999 as f64
                ),
            )
        })
        .collect()
}

/// `INFO [section ...]`.
pub fn info(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let wanted: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let all = wanted.is_empty()
        || wanted
            .iter()
            .any(|w| w == "all" || w == "everything" || w == "default");
    let want = |s: &str| all || wanted.iter().any(|w| w == s);
    // Reads earlier in this EXEC or pipelined run count before INFO reports.
    cx.ex.flush_stats();
    let ctx = &cx.srv.ctx;
    let mut out = String::new();
    let uptime = ctx.uptime().as_secs();
    if want("server") {
        let port = cx.sess.guard.info().local_addr.port();
        section(
            &mut out,
            "Server",
            &[
                kv("redis_version", "7.0.15"),
                kv("redis_git_sha1", "00000000"),
                kv("redis_mode", "standalone"),
                kv("shaledb_version", env!("CARGO_PKG_VERSION")),
                kv("os", std::env::consts::OS),
                kv("arch_bits", "64"),
                kv("process_id", std::process::id()),
                kv("tcp_port", port),
                kv("uptime_in_seconds", uptime),
                kv("uptime_in_days", uptime / 86400),
                kv("executable", "shale"),
            ],
        );
    }
    if want("clients") {
        section(
            &mut out,
            "Clients",
            &[
                kv("connected_clients", ctx.clients.connected(Some("redis"))),
                kv("maxclients", ctx.limits.max_clients),
                kv("blocked_clients", 0),
            ],
        );
    }
    let stats = ctx.db.stats();
    if want("memory") {
        let bytes = stats.table_bytes();
        section(
            &mut out,
            "Memory",
            &[
                kv("used_memory", bytes),
                kv(
                    "used_memory_human",
                    format!("{:.2}M", bytes as f64 / 1048576.0),
                ),
                kv("maxmemory", 0),
                kv("maxmemory_policy", "noeviction"),
                kv("mem_allocator", "libc"),
            ],
        );
    }
    if want("persistence") {
        section(
            &mut out,
            "Persistence",
            &[
                kv("loading", 0),
                kv("rdb_changes_since_last_save", 0),
                kv("rdb_bgsave_in_progress", 0),
                kv("aof_enabled", 1),
                kv("aof_rewrite_in_progress", 0),
                kv("shaledb_flushes", stats.flushes),
                kv(
                    "shaledb_pending_compaction_bytes",
                    stats.pending_compaction_bytes,
                ),
                kv("shaledb_wal_syncs", stats.wal_syncs),
                kv("shaledb_appendfsync", ctx.sync_policy().name()),
            ],
        );
    }
    // Like Redis, the per-command sections are not part of the default set.
    let extra = |s: &str| {
        wanted
            .iter()
            .any(|w| w == s || w == "all" || w == "everything")
    };
    // Counters since start, or since the last CONFIG RESETSTAT.
    let baseline = cx.srv.stats.baseline();
    let mut figures = ctx.metrics.mark("redis", extra("latencystats"));
    let rs = &cx.srv.stats;
    let (mut hits, mut misses) = (rs.keyspace_hits(), rs.keyspace_misses());
    let mut errors = rs.error_replies();
    if let Some(b) = &baseline {
        figures = figures.since(&b.metrics);
        hits = hits.saturating_sub(b.keyspace_hits);
        misses = misses.saturating_sub(b.keyspace_misses);
        errors = errors.saturating_sub(b.error_replies);
    }
    if want("stats") {
        section(
            &mut out,
            "Stats",
            &[
                kv("total_commands_processed", figures.total_commands()),
                kv("total_connections_received", figures.connections_received),
                kv("rejected_connections", figures.connections_rejected),
                kv("total_net_input_bytes", figures.bytes_read),
                kv("total_net_output_bytes", figures.bytes_written),
                kv("keyspace_hits", hits),
                kv("keyspace_misses", misses),
                // Redis counts errors from its master and AOF here; ShaleDB has none.
                kv("unexpected_error_replies", 0),
                kv("total_error_replies", errors),
                kv("shaledb_writes", stats.writes),
                kv("shaledb_gets", stats.gets),
                kv(
                    "shaledb_write_amplification",
                    format!("{:.2}", stats.write_amplification),
                ),
                kv(
                    "shaledb_block_cache_hit_rate",
                    format!("{:.4}", stats.block_cache_hit_rate()),
                ),
            ],
        );
    }
    if want("replication") {
        section(
            &mut out,
            "Replication",
            &[kv("role", "master"), kv("connected_slaves", 0)],
        );
    }
    // Redis's order: commandstats, errorstats (also in the default set),
    // latencystats.
    let snap = figures.commands();
    if extra("commandstats") {
        section(&mut out, "Commandstats", &commandstats(&snap));
    }
    if want("errorstats") {
        let lines: Vec<_> = rs
            .error_prefixes_since(baseline.as_deref())
            .into_iter()
            .map(|(prefix, n)| kv(&format!("errorstat_{prefix}"), format!("count={n}")))
            .collect();
        section(&mut out, "Errorstats", &lines);
    }
    if extra("latencystats") {
        section(&mut out, "Latencystats", &latencystats(&snap));
    }
    if want("keyspace") {
        let mut lines = Vec::new();
        let saved = cx.ex.db;
        for db in 0..cx.srv.dbs.len() {
            if cx.srv.existing_keyspace(db)?.is_none() {
                continue;
            }
            cx.ex.db = db;
            let (k, e) = count_keys(cx)?;
            if k > 0 {
                lines.push(kv(
                    &format!("db{db}"),
                    format!("keys={k},expires={e},avg_ttl=0"),
                ));
            }
        }
        cx.ex.db = saved;
        section(&mut out, "Keyspace", &lines);
    }
    Ok(Reply::Verbatim(out))
}

fn command_entry(s: &super::Spec) -> Reply {
    Reply::Array(vec![
        Reply::bulk(s.name),
        Reply::Int(i64::from(s.arity)),
        Reply::Set(s.flags.iter().map(|f| Reply::Simple(f)).collect()),
        Reply::Int(i64::from(s.first)),
        Reply::Int(i64::from(s.last)),
        Reply::Int(i64::from(s.step)),
        Reply::Set(Vec::new()),
        Reply::Set(Vec::new()),
        Reply::Array(Vec::new()),
        Reply::Array(Vec::new()),
    ])
}

fn command_docs(s: &super::Spec) -> Reply {
    Reply::Map(vec![
        (Reply::bulk("summary"), Reply::bulk(s.summary)),
        (Reply::bulk("since"), Reply::bulk("1.0.0")),
        (Reply::bulk("group"), Reply::bulk(s.group)),
    ])
}

/// `COMMAND [COUNT|INFO name...|DOCS [name...]|LIST]`.
pub fn command(_cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let Some(sub) = args.get(1) else {
        return Ok(Reply::Array(COMMANDS.iter().map(command_entry).collect()));
    };
    if is(sub, "count") && args.len() == 2 {
        return Ok(Reply::Int(i64::try_from(COMMANDS.len()).unwrap_or(0)));
    }
    if is(sub, "list") && args.len() == 2 {
        return Ok(Reply::Array(
            COMMANDS.iter().map(|s| Reply::bulk(s.name)).collect(),
        ));
    }
    if is(sub, "info") {
        let specs: Vec<Reply> = if args.len() == 2 {
            COMMANDS.iter().map(command_entry).collect()
        } else {
            args.iter()
                .skip(2)
                .map(|n| lookup(n).map_or(Reply::NilArray, command_entry))
                .collect()
        };
        return Ok(Reply::Array(specs));
    }
    if is(sub, "docs") {
        let pairs: Vec<(Reply, Reply)> = if args.len() == 2 {
            COMMANDS
                .iter()
                .map(|s| (Reply::bulk(s.name), command_docs(s)))
                .collect()
        } else {
            args.iter()
                .skip(2)
                .filter_map(|n| lookup(n).map(|s| (Reply::bulk(s.name), command_docs(s))))
                .collect()
        };
        return Ok(Reply::Map(pairs));
    }
    fail(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try COMMAND HELP.",
        String::from_utf8_lossy(sub)
    ))
}

/// Parameters `CONFIG GET` knows, with their current values.
fn config_params(cx: &Cx<'_, '_>) -> Vec<(&'static str, String)> {
    let ctx = &cx.srv.ctx;
    vec![
        ("appendfsync", ctx.sync_policy().name().to_string()),
        ("appendonly", "yes".into()),
        (
            "bind",
            cx.srv
                .config
                .addr
                .rsplit_once(':')
                .map_or(String::new(), |(h, _)| h.to_string()),
        ),
        ("databases", cx.srv.dbs.len().to_string()),
        ("maxclients", ctx.limits.max_clients.to_string()),
        ("maxmemory", "0".into()),
        ("maxmemory-policy", "noeviction".into()),
        // The port this connection reached (the configured one may be 0).
        ("port", cx.sess.guard.info().local_addr.port().to_string()),
        (
            "proto-max-bulk-len",
            ctx.limits.max_request_bytes.to_string(),
        ),
        (
            "client-query-buffer-limit",
            ctx.limits.query_buffer_limit.to_string(),
        ),
        ("requirepass", cx.srv.password().unwrap_or_default()),
        ("save", String::new()),
        ("timeout", ctx.limits.idle_timeout_secs.to_string()),
    ]
}

/// `CONFIG GET pattern...` / `CONFIG SET name value...` / `CONFIG RESETSTAT`.
pub fn config(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let sub = arg(args, 1);
    if is(sub, "get") {
        if args.len() < 3 {
            return fail("ERR wrong number of arguments for 'config|get' command");
        }
        // As Redis: an exact name is answered spelled as asked, a pattern with the
        // parameters' own names; each parameter once, for the first argument naming it.
        let params = config_params(cx);
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for p in args.iter().skip(2) {
            let glob = p.iter().any(|b| b"[*?".contains(b));
            for (i, (name, value)) in params.iter().enumerate() {
                let hit = if glob {
                    crate::glob::matches(&p.to_ascii_lowercase(), name.as_bytes())
                } else {
                    p.eq_ignore_ascii_case(name.as_bytes())
                };
                if hit && !seen.contains(&i) {
                    seen.push(i);
                    let shown = if glob {
                        Reply::bulk(*name)
                    } else {
                        Reply::Bulk(p.clone())
                    };
                    out.push((shown, Reply::bulk(value.clone())));
                }
            }
        }
        return Ok(Reply::Map(out));
    }
    if is(sub, "set") {
        if args.len() < 4 || args.len() % 2 == 1 {
            return fail("ERR wrong number of arguments for 'config|set' command");
        }
        let pairs: Vec<(&Bytes, &Bytes)> = args
            .get(2..)
            .unwrap_or(&[])
            .chunks(2)
            .filter_map(|p| Some((p.first()?, p.get(1)?)))
            .collect();
        // Validate everything first: CONFIG SET is all-or-nothing.
        for (name, value) in &pairs {
            let n = String::from_utf8_lossy(name).to_ascii_lowercase();
            let ok = match n.as_str() {
                "appendfsync" => {
                    shale_server::SyncPolicy::parse(&String::from_utf8_lossy(value)).is_some()
                }
                "requirepass" => true,
                _ => {
                    return fail(&format!(
                        "ERR Unknown option or number of arguments for CONFIG SET - '{n}'"
                    ));
                }
            };
            if !ok {
                return fail(&format!(
                    "ERR CONFIG SET failed (possibly related to argument '{n}') - argument(s) must be one of the following: always, everysec, no"
                ));
            }
        }
        for (name, value) in pairs {
            let v = String::from_utf8_lossy(value).into_owned();
            if name.eq_ignore_ascii_case(b"appendfsync") {
                if let Some(p) = shale_server::SyncPolicy::parse(&v) {
                    cx.srv.ctx.set_sync_policy(p);
                }
            } else {
                let mut pw = cx
                    .srv
                    .requirepass
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                *pw = (!v.is_empty()).then_some(v);
            }
        }
        return Ok(Reply::OK);
    }
    if is(sub, "resetstat") && args.len() == 2 {
        cx.ex.flush_stats();
        cx.srv.stats.reset(&cx.srv.ctx.metrics);
        return Ok(Reply::OK);
    }
    fail(&format!(
        "ERR unknown subcommand '{}'. Try CONFIG HELP.",
        String::from_utf8_lossy(sub)
    ))
}
