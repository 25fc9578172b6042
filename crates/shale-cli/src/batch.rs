//! `shale batch`: a line protocol on stdin/stdout for scripts and crash tests.
//!
//! Each input line is one command, answered by exactly one output line, flushed at
//! once:
//!
//! | input          | answer                                   |
//! |----------------|------------------------------------------|
//! | `put K V`      | `OK` (with `--sync`: after the fsync)    |
//! | `get K`        | the value, or `(nil)`                    |
//! | `del K`        | `OK`                                     |
//! | anything else  | `ERR <reason>`                           |
//!
//! `V` is the rest of the line after the key and one space, so values may contain
//! spaces. With `--hex`, keys and values are hex in both directions.

use std::io::{BufRead, Write};

use shaledb::{Keyspace, Result, WriteOptions};

use crate::encoding::{decode, encode};

/// Runs the line protocol until end of input.
pub fn run(db: &Keyspace, sync: bool, hex: bool) -> Result<()> {
    let wo = WriteOptions { sync };
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    let io_err = |e: std::io::Error| shaledb::Error::io("write", "<stdout>", e);
    for line in stdin.lock().lines() {
        let line = line.map_err(|e| shaledb::Error::io("read", "<stdin>", e))?;
        let line = line.strip_suffix('\r').unwrap_or(&line);
        let answer = match answer(db, line, &wo, hex) {
            Ok(a) => a,
            Err(e) => format!("ERR {e}").into_bytes(),
        };
        out.write_all(&answer).map_err(io_err)?;
        out.write_all(b"\n").map_err(io_err)?;
        out.flush().map_err(io_err)?;
    }
    Ok(())
}

fn answer(db: &Keyspace, line: &str, wo: &WriteOptions, hex: bool) -> Result<Vec<u8>> {
    let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
    match cmd {
        "put" => {
            let (k, v) = rest
                .split_once(' ')
                .ok_or_else(|| shaledb::Error::invalid("usage: put KEY VALUE"))?;
            db.put_opt(decode(k, hex)?, decode(v, hex)?, wo)?;
            Ok(b"OK".to_vec())
        }
        "get" if !rest.is_empty() && !rest.contains(' ') => {
            Ok(match db.get(decode(rest, hex)?)? {
                Some(v) => encode(&v, hex),
                None => b"(nil)".to_vec(),
            })
        }
        "del" if !rest.is_empty() && !rest.contains(' ') => {
            db.delete_opt(decode(rest, hex)?, wo)?;
            Ok(b"OK".to_vec())
        }
        "get" | "del" => Err(shaledb::Error::invalid(format!("usage: {cmd} KEY"))),
        _ => Err(shaledb::Error::invalid(format!(
            "unknown command {cmd:?} (expected put, get or del)"
        ))),
    }
}
