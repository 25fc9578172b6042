//! `shale-bench`: a `db_bench`-compatible benchmark for ShaleDB, and for RocksDB and
//! fjall when compiled in (cargo features `rocksdb`, `fjall`). See `docs/benchmarks.md`.

mod engine;
mod flags;
mod runner;
mod sys;
mod workload;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // --help / --version print and exit 0 the clap way.
    if let Err(e) = flags::Flags::try_parse() {
        use clap::error::ErrorKind;
        if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
            e.exit();
        }
    }
    let flags = match flags::Flags::parse_from_args(std::env::args_os()) {
        Ok(f) => f,
        Err(msg) => {
            eprintln!("{}", msg.trim_end());
            return ExitCode::from(2);
        }
    };
    let result = runner::Runner::new(flags)
        .map_err(engine::BoxError::from)
        .and_then(|mut r| {
            r.print_header()?;
            r.run_all()
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
