//! The subcommands.

use std::io::Write;
use std::process::ExitCode;

use shale_fs::StdFs;
use shale_wal::LogKind;
use shaledb::{Db, Error, Options, Result, WriteBatch, WriteOptions};

use crate::encoding::{decode, encode};
use crate::{Cli, Command};

fn stdout_err(e: std::io::Error) -> Error {
    Error::io("write", "<stdout>", e)
}

/// Runs one parsed command; the exit code is 1 for "not found", 0 otherwise.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let hex = cli.hex;
    // The global engine flags; `serve` applies them over its config file's `[engine]`.
    let engine_flags = |opts: &mut Options| {
        if let Some(n) = cli.write_buffer_size {
            opts.write_buffer_size = n;
        }
        if let Some(n) = cli.target_file_size {
            opts.target_file_size = n;
            opts.max_bytes_for_level_base = opts.max_bytes_for_level_base.min(n.saturating_mul(4));
        }
    };
    let mut opts = Options::default();
    engine_flags(&mut opts);
    let open = || Db::open(&cli.db, opts.clone());
    let name = cli.keyspace.clone();
    // Writes create the keyspace; reads of a missing one are an error, not a creation.
    let writable = || open()?.keyspace(&name);
    let readable = || {
        let db = open()?;
        if !db.list_keyspaces().contains(&name) {
            return Err(Error::NotFound(format!("keyspace {name:?}").into()));
        }
        db.keyspace(&name)
    };
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Put { key, value, sync } => {
            writable()?.put_opt(
                decode(&key, hex)?,
                decode(&value, hex)?,
                &WriteOptions { sync },
            )?;
        }
        Command::Get { key } => match readable()?.get(decode(&key, hex)?)? {
            Some(v) => {
                out.write_all(&encode(&v, hex)).map_err(stdout_err)?;
                out.write_all(b"\n").map_err(stdout_err)?;
            }
            None => {
                eprintln!("not found");
                return Ok(ExitCode::from(1));
            }
        },
        Command::Delete { key, sync } => {
            writable()?.delete_opt(decode(&key, hex)?, &WriteOptions { sync })?;
        }
        Command::DeleteRange {
            from,
            to,
            prefix,
            sync,
        } => {
            let ks = writable()?;
            match prefix {
                Some(p) => ks.delete_prefix(decode(&p, hex)?)?,
                None => {
                    use std::ops::Bound;
                    let from = from.map(|f| decode(&f, hex)).transpose()?;
                    let to = to.map(|t| decode(&t, hex)).transpose()?;
                    let lo = from.map_or(Bound::Unbounded, Bound::Included);
                    let hi = to.map_or(Bound::Unbounded, Bound::Excluded);
                    ks.delete_range::<Vec<u8>, _>((lo, hi))?;
                }
            }
            if sync {
                ks.db().sync_wal()?;
            }
        }
        Command::Keyspaces => {
            for name in open()?.list_keyspaces() {
                writeln!(out, "{name}").map_err(stdout_err)?;
            }
        }
        Command::DropKeyspace { name } => open()?.drop_keyspace(&name)?,
        Command::Scan {
            from,
            to,
            prefix,
            reverse,
            limit,
        } => {
            let db = readable()?;
            let iter = match prefix {
                Some(p) => db.prefix(decode(&p, hex)?),
                None => {
                    use std::ops::Bound;
                    let from = from.map(|f| decode(&f, hex)).transpose()?;
                    let to = to.map(|t| decode(&t, hex)).transpose()?;
                    let lo = from.map_or(Bound::Unbounded, Bound::Included);
                    let hi = to.map_or(Bound::Unbounded, Bound::Excluded);
                    db.range::<Vec<u8>, _>((lo, hi))
                }
            };
            let iter: Box<dyn Iterator<Item = Result<_>>> = if reverse {
                Box::new(iter.rev())
            } else {
                Box::new(iter)
            };
            for item in iter.take(limit.unwrap_or(usize::MAX)) {
                let (k, v) = item?;
                out.write_all(&encode(&k, hex)).map_err(stdout_err)?;
                out.write_all(b"\t").map_err(stdout_err)?;
                out.write_all(&encode(&v, hex)).map_err(stdout_err)?;
                out.write_all(b"\n").map_err(stdout_err)?;
            }
        }
        Command::Batch { sync } => {
            drop(out);
            crate::batch::run(&writable()?, sync, hex)?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::DumpWal { file } => {
            let summary = shale_wal::dump(&StdFs, &file, LogKind::Wal, &mut out)?;
            if summary.corruptions > 0 {
                return Ok(ExitCode::from(1));
            }
        }
        Command::DumpSst { file, blocks } => {
            let opts = shale_sstable::DumpOptions { blocks, hex };
            shale_sstable::dump(&StdFs, &file, &mut out, opts)?;
        }
        Command::DumpManifest { file } => {
            let file = match file {
                Some(f) => f,
                None => crate::check::current_manifest(&cli.db)?,
            };
            shale_manifest::dump(&StdFs, &file, &mut out)?;
        }
        Command::Check => {
            let problems = crate::check::check_dir(&cli.db)?;
            for p in &problems {
                writeln!(out, "{p}").map_err(stdout_err)?;
            }
            if !problems.is_empty() {
                writeln!(out, "{} problem(s) found", problems.len()).map_err(stdout_err)?;
                out.flush().map_err(stdout_err)?;
                return Ok(ExitCode::from(1));
            }
            writeln!(out, "ok: every checksum verified").map_err(stdout_err)?;
        }
        Command::Stats => {
            let s = open()?.stats();
            writeln!(out, "{s}").map_err(stdout_err)?;
        }
        Command::Compact => {
            let ks = readable()?;
            let db = ks.db();
            let before = db.stats();
            ks.compact_range::<&[u8], _>(..)?;
            let after = db.stats();
            writeln!(
                out,
                "compacted: {} -> {} table bytes in {} -> {} files",
                before.table_bytes(),
                after.table_bytes(),
                before.levels.iter().map(|l| l.files).sum::<u64>(),
                after.levels.iter().map(|l| l.files).sum::<u64>()
            )
            .map_err(stdout_err)?;
            writeln!(out, "{after}").map_err(stdout_err)?;
        }
        Command::Checkpoint { out: target } => {
            let seq = open()?.checkpoint(&target)?;
            writeln!(
                out,
                "checkpoint of every write up to seqno {seq} in {}",
                target.display()
            )
            .map_err(stdout_err)?;
        }
        Command::Demo => demo(&open()?, &mut out)?,
        Command::Serve(args) => {
            drop(out); // the server prints its own lines
            return crate::serve::run(&cli.db, &engine_flags, args);
        }
    }
    out.flush().map_err(stdout_err)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes a few typical records (profiles, a session, config), reads them back and
/// scans them, so a first run shows what ShaleDB does.
fn demo(db: &Db, out: &mut dyn Write) -> Result<()> {
    let mut batch = WriteBatch::new();
    batch
        .put("user:1001", r#"{"name":"Ada Lovelace","plan":"pro"}"#)
        .put("user:1002", r#"{"name":"Grace Hopper","plan":"free"}"#)
        .put(
            "session:9f2c",
            r#"{"user":1001,"expires":"2026-12-01T00:00:00Z"}"#,
        )
        .put("config:feature.dark_mode", "on");
    db.write(batch, &WriteOptions::synced())?;
    let visits = db
        .get("counter:visits")?
        .and_then(|v| std::str::from_utf8(&v).ok()?.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    db.put_opt(
        "counter:visits",
        visits.to_string(),
        &WriteOptions::synced(),
    )?;

    writeln!(out, "ShaleDB demo in {}", db.path().display()).map_err(stdout_err)?;
    writeln!(out, "this is run number {visits} on this data directory").map_err(stdout_err)?;
    writeln!(out, "\nusers (prefix scan \"user:\"):").map_err(stdout_err)?;
    for item in db.prefix("user:") {
        let (k, v) = item?;
        writeln!(
            out,
            "  {} = {}",
            String::from_utf8_lossy(&k),
            String::from_utf8_lossy(&v)
        )
        .map_err(stdout_err)?;
    }
    writeln!(out, "\nall keys, descending:").map_err(stdout_err)?;
    for item in db.iter().rev() {
        let (k, _) = item?;
        writeln!(out, "  {}", String::from_utf8_lossy(&k)).map_err(stdout_err)?;
    }
    let s = db.stats();
    writeln!(
        out,
        "\nstats: {} entries in the memtable ({} bytes), last seqno {}",
        s.memtable_entries, s.memtable_bytes, s.last_seqno
    )
    .map_err(stdout_err)?;
    writeln!(out, "try: shale --db {} scan", db.path().display()).map_err(stdout_err)?;
    Ok(())
}
