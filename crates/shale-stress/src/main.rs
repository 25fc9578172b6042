//! `shale-stress`: crash/stress tester of ShaleDB (see the library docs).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use shale_stress::crash::{CrashConfig, crash_command, parse_ms_range};
use shale_stress::memfs_mode::{MemfsConfig, PolicyChoice, memfs_command};
use shale_stress::options::{PathArgs, TuningArgs, WorkloadArgs};
use shale_stress::run::run_command;
use shale_stress::{StressError, Summary};

/// Crash and stress tester for ShaleDB.
#[derive(Parser, Debug)]
#[command(name = "shale-stress", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the random workload once, verifying every read and the whole database at
    /// start and end; record the expected state in --expected.
    Run {
        #[command(flatten)]
        paths: PathArgs,
        #[command(flatten)]
        workload: WorkloadArgs,
        #[command(flatten)]
        tuning: TuningArgs,
    },
    /// Repeatedly run `run` as a child, SIGKILL it at a random moment, reopen and
    /// verify the whole database.
    Crash {
        #[command(flatten)]
        paths: PathArgs,
        #[command(flatten)]
        workload: WorkloadArgs,
        #[command(flatten)]
        tuning: TuningArgs,
        /// Kill/verify cycles.
        #[arg(long, default_value_t = 100)]
        cycles: u64,
        /// Kill each child after a random delay in MIN..MAX milliseconds.
        #[arg(long, default_value = "100..1500", value_parser = parse_ms_range)]
        kill_after_ms: (u64, u64),
    },
    /// Run the workload in-process on MemFs and simulate power losses.
    Memfs {
        #[command(flatten)]
        workload: WorkloadArgs,
        #[command(flatten)]
        tuning: TuningArgs,
        /// Power-loss cycles.
        #[arg(long, default_value_t = 100)]
        cycles: u64,
        /// What a power loss does with unsynced data.
        #[arg(long, value_enum, default_value_t = PolicyChoice::All)]
        policy: PolicyChoice,
        /// At most this many acknowledged writes (all threads) before each crash.
        #[arg(long, default_value_t = 1500)]
        max_writes_per_cycle: u64,
    },
}

fn report(summary: &Summary) -> ExitCode {
    println!("{summary}");
    if summary.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn fail(e: &StressError) -> ExitCode {
    eprintln!("shale-stress: {e}");
    match e {
        StressError::Mismatch(_) => ExitCode::from(3),
        _ => ExitCode::from(2),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            paths,
            workload,
            tuning,
        } => match run_command(&paths, &workload, &tuning) {
            Ok(s) => {
                println!(
                    "run: ops={} writes={} reads_verified={} scans={} snapshot_checks={} mismatches=0",
                    s.ops, s.writes, s.reads_verified, s.scans, s.snapshot_checks
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Command::Crash {
            paths,
            workload,
            tuning,
            cycles,
            kill_after_ms,
        } => {
            let exe = match std::env::current_exe() {
                Ok(p) => p,
                Err(e) => return fail(&StressError::Io(e)),
            };
            let cfg = CrashConfig {
                paths,
                workload,
                tuning,
                cycles,
                kill_after_ms,
                exe,
            };
            match crash_command(&cfg) {
                Ok(s) => report(&s),
                Err(e) => fail(&e),
            }
        }
        Command::Memfs {
            workload,
            tuning,
            cycles,
            policy,
            max_writes_per_cycle,
        } => {
            let cfg = MemfsConfig {
                workload,
                tuning,
                cycles,
                policy,
                max_writes_per_cycle,
            };
            match memfs_command(&cfg) {
                Ok((s, t)) => {
                    println!(
                        "memfs: acked_writes={} synced_writes={} unsynced_lost={} (allowed)",
                        t.acked_writes, t.synced_writes, t.unsynced_lost
                    );
                    report(&s)
                }
                Err(e) => fail(&e),
            }
        }
    }
}
