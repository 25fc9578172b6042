//! `shale serve`: the network front ends (Redis, memcached, DynamoDB, Riak HTTP) over
//! one data directory.
//!
//! Opens the Db, binds every configured front end (a bind failure is reported
//! before anything is served), prints one `listening` line per bound address,
//! serves until SIGINT/SIGTERM, then drains connections, syncs and flushes, and
//! closes the Db.

pub mod config;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use shale_server::{Context, SyncPolicy};
use shaledb::{Db, Error, Options, Result};
use tokio::net::TcpListener;
use tracing::{info, warn};

pub use config::ServeConfig;

/// Command-line settings of `shale serve`; each overrides the config file.
#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// TOML configuration file (see docs/serve.md).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Front ends to run, comma-separated (default: all).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub protocols: Option<Vec<String>>,
    /// fsync policy for acknowledged writes: always, everysec or no.
    #[arg(long, value_name = "POLICY", value_parser = parse_policy)]
    pub appendfsync: Option<SyncPolicy>,
    /// Admin HTTP address serving /metrics and /health (off unless set).
    #[arg(long, value_name = "ADDR")]
    pub admin: Option<String>,
    /// Redis address (default 127.0.0.1:6379).
    #[arg(long, value_name = "ADDR")]
    pub redis: Option<String>,
    /// memcached address (default 127.0.0.1:11211).
    #[arg(long, value_name = "ADDR")]
    pub memcache: Option<String>,
    /// DynamoDB-compatible API address (default 127.0.0.1:8000).
    #[arg(long, value_name = "ADDR")]
    pub dynamo: Option<String>,
    /// Riak HTTP API address (default 127.0.0.1:8098).
    #[arg(long, value_name = "ADDR")]
    pub riak: Option<String>,
}

fn parse_policy(s: &str) -> std::result::Result<SyncPolicy, String> {
    SyncPolicy::parse(s).ok_or_else(|| format!("{s:?} is not one of always, everysec, no"))
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidArgument(msg.into())
}

/// Runs the server until a signal; returns once the Db is closed. `engine_flags`
/// applies the global engine flags (`--write-buffer-size`, `--target-file-size`).
pub fn run(
    db_path: &Path,
    engine_flags: &dyn Fn(&mut Options),
    args: ServeArgs,
) -> Result<ExitCode> {
    let (cfg, opts) = settings(engine_flags, args)?;
    init_logging();

    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all().thread_name("shale-serve");
    if cfg.server.worker_threads > 0 {
        rt.worker_threads(cfg.server.worker_threads);
    }
    let rt = rt
        .build()
        .map_err(|e| Error::io("start runtime", "<tokio>", e))?;
    let db = Db::open(db_path, opts)?;
    let ctx = Context::new(db.clone(), cfg.limits.clone(), cfg.server.appendfsync);
    let served = rt.block_on(serve(ctx.clone(), &cfg));
    ctx.shutdown.trigger();
    drop(rt);
    // Every connection has finished: make what they acknowledged durable and leave
    // the memtables on disk so the next start replays little.
    let closed = db.sync_wal().and_then(|()| db.flush());
    drop(ctx);
    drop(db);
    served?;
    closed?;
    info!("shut down cleanly");
    Ok(ExitCode::SUCCESS)
}

/// The server's memtable size unless configured: 16 MiB, not the engine's 64 MiB.
/// Network clients write and read random keys, and a skiplist search in a memtable
/// larger than the core's caches is a chain of cache misses: under `redis-benchmark`
/// this cut the server's CPU per SET by a third, for more compaction (write
/// amplification 2.18 against 1.53 over 10M keys; `docs/benchmarks.md`, "Memtable
/// size").
const SERVE_WRITE_BUFFER_SIZE: usize = 16 << 20;

/// What `run` serves with: the config file's settings with the command line over
/// them (every flag overrides the file, `[engine]` included), checked, and the
/// engine options they make.
fn settings(
    engine_flags: &dyn Fn(&mut Options),
    args: ServeArgs,
) -> Result<(ServeConfig, Options)> {
    let mut cfg = match &args.config {
        Some(path) => ServeConfig::load(path).map_err(invalid)?,
        None => ServeConfig::default(),
    };
    if let Some(p) = args.protocols {
        // `--protocols ''` runs none (the admin endpoint alone).
        cfg.server.protocols = p.into_iter().filter(|p| !p.is_empty()).collect();
    }
    if let Some(p) = args.appendfsync {
        cfg.server.appendfsync = p;
    }
    if let Some(a) = args.admin {
        cfg.server.admin = Some(a);
    }
    if let Some(a) = args.redis {
        cfg.redis.addr = a;
    }
    if let Some(a) = args.memcache {
        cfg.memcache.addr = a;
    }
    if let Some(a) = args.dynamo {
        cfg.dynamo.addr = a;
    }
    if let Some(a) = args.riak {
        cfg.riak.addr = a;
    }
    cfg.validate().map_err(invalid)?;
    let mut opts = Options {
        write_buffer_size: SERVE_WRITE_BUFFER_SIZE,
        ..Options::default()
    };
    cfg.engine.apply(&mut opts).map_err(invalid)?;
    engine_flags(&mut opts);
    Ok((cfg, opts))
}

/// Binds, announces and serves every configured endpoint until shutdown.
async fn serve(ctx: Context, cfg: &ServeConfig) -> Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    let enabled = |p: &str| cfg.server.protocols.iter().any(|q| q == p);
    if enabled("redis") {
        let listener = bind("redis", &cfg.redis.addr).await?;
        tasks.spawn(shale_resp::serve(listener, ctx.clone(), cfg.redis.clone()));
    }
    if enabled("memcache") {
        let listener = bind("memcache", &cfg.memcache.addr).await?;
        tasks.spawn(shale_memcache::serve(
            listener,
            ctx.clone(),
            cfg.memcache.clone(),
        ));
    }
    if enabled("dynamo") {
        let listener = bind("dynamo", &cfg.dynamo.addr).await?;
        tasks.spawn(shale_dynamo::serve(
            listener,
            ctx.clone(),
            cfg.dynamo.clone(),
        ));
    }
    if enabled("riak") {
        let listener = bind("riak", &cfg.riak.addr).await?;
        tasks.spawn(shale_riak::serve(listener, ctx.clone(), cfg.riak.clone()));
    }
    if let Some(addr) = &cfg.server.admin {
        let listener = bind("admin", addr).await?;
        tasks.spawn(shale_server::serve_admin(listener, ctx.clone()));
    }
    if tasks.is_empty() {
        return Err(invalid(
            "nothing to serve: no protocol enabled and no admin address",
        ));
    }
    // Whatever the starting policy: `CONFIG SET appendfsync everysec` may turn it on.
    let syncer = shale_server::spawn_wal_syncer(ctx.clone())
        .map_err(|e| Error::io("spawn", "<wal syncer>", e))?;
    announce("ready", None);
    let signals = wait_for_signal(ctx.clone());
    tokio::pin!(signals);
    let mut first_error = None;
    loop {
        tokio::select! {
            () = &mut signals, if !ctx.shutdown.is_triggered() => {}
            joined = tasks.join_next() => match joined {
                None => break,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => {
                    warn!(error = %e, "a front end failed; shutting down");
                    first_error.get_or_insert(Error::io("serve", "<listener>", e));
                    ctx.shutdown.trigger();
                }
                Some(Err(e)) => {
                    warn!(error = %e, "a front end task panicked; shutting down");
                    ctx.shutdown.trigger();
                }
            },
        }
    }
    syncer.thread().unpark();
    let _ = syncer.join();
    first_error.map_or(Ok(()), Err)
}

async fn bind(protocol: &str, addr: &str) -> Result<TcpListener> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| invalid(format!("cannot listen for {protocol} on {addr}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("local_addr", addr, e))?;
    announce(protocol, Some(local));
    Ok(listener)
}

/// One stdout line per event, stable for scripts and tests:
/// `listening redis 127.0.0.1:6379`, then `ready`.
fn announce(what: &str, addr: Option<SocketAddr>) {
    let mut out = std::io::stdout().lock();
    let _ = match addr {
        Some(a) => {
            info!(protocol = what, addr = %a, "listening");
            writeln!(out, "listening {what} {a}")
        }
        None => writeln!(out, "{what}"),
    };
    let _ = out.flush();
}

/// Fires the shutdown signal on SIGINT or SIGTERM.
async fn wait_for_signal(ctx: Context) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        warn!("cannot install signal handlers; stop the server with kill -9 only");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => info!("SIGINT: shutting down"),
        _ = term.recv() => info!("SIGTERM: shutting down"),
    }
    ctx.shutdown.trigger();
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SHALE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

    use super::*;

    #[test]
    fn the_server_memtable_default_yields_to_the_file_and_flags() {
        let (_, opts) = settings(&|_: &mut Options| {}, ServeArgs::default()).unwrap();
        assert_eq!(opts.write_buffer_size, SERVE_WRITE_BUFFER_SIZE);
        assert_ne!(
            SERVE_WRITE_BUFFER_SIZE,
            Options::default().write_buffer_size
        );
        let (_, opts) = settings(
            &|o: &mut Options| o.write_buffer_size = 8 << 20,
            ServeArgs::default(),
        )
        .unwrap();
        assert_eq!(opts.write_buffer_size, 8 << 20);
    }

    #[test]
    fn flags_override_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("shale.toml");
        std::fs::write(
            &file,
            r#"
            [server]
            appendfsync = "always"
            protocols = ["redis", "memcache"]
            [engine]
            write_buffer_size = 1048576
            block_cache_size = 3145728
            [redis]
            addr = "127.0.0.1:16379"
            [memcache]
            addr = "127.0.0.1:21211"
            "#,
        )
        .unwrap();
        let config = || Some(file.clone());
        // The file alone.
        let (cfg, opts) = settings(
            &|_: &mut Options| {},
            ServeArgs {
                config: config(),
                ..ServeArgs::default()
            },
        )
        .unwrap();
        assert_eq!(opts.write_buffer_size, 1 << 20);
        assert_eq!(cfg.redis.addr, "127.0.0.1:16379");
        assert_eq!(cfg.server.appendfsync, SyncPolicy::Always);
        // Flags over it: engine (the global --write-buffer-size) and front-end ones.
        let (cfg, opts) = settings(
            &|o: &mut Options| o.write_buffer_size = 2 << 20,
            ServeArgs {
                config: config(),
                redis: Some("127.0.0.1:0".into()),
                appendfsync: Some(SyncPolicy::No),
                protocols: Some(vec!["redis".into()]),
                ..ServeArgs::default()
            },
        )
        .unwrap();
        assert_eq!(opts.write_buffer_size, 2 << 20);
        assert_eq!(cfg.redis.addr, "127.0.0.1:0");
        assert_eq!(cfg.server.appendfsync, SyncPolicy::No);
        assert_eq!(cfg.server.protocols, ["redis"]);
        // What no flag sets keeps the file's value.
        assert_eq!(opts.block_cache_size, 3 << 20);
        assert_eq!(cfg.memcache.addr, "127.0.0.1:21211");
    }
}
