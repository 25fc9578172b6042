//! Per-command counters and latency histograms, rendered for `INFO`, `stats` and
//! Prometheus.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use hdrhistogram::Histogram;

/// One command's figures: calls, failed calls, rejected calls, total time and a
/// latency histogram.
struct CommandStats {
    calls: AtomicU64,
    errors: AtomicU64,
    rejected: AtomicU64,
    total_micros: AtomicU64,
    /// Microseconds, 1 µs .. 1 h, 2 significant digits.
    latency: Mutex<Histogram<u64>>,
}

impl CommandStats {
    fn new() -> Option<Self> {
        Some(CommandStats {
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            total_micros: AtomicU64::new(0),
            latency: Mutex::new(Histogram::new_with_bounds(1, 3_600_000_000, 2).ok()?),
        })
    }
}

/// A point-in-time copy of one command's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandSnapshot {
    /// Front end (`redis`, `memcache`, …).
    pub protocol: String,
    /// Command name, lower case.
    pub command: String,
    /// Calls answered.
    pub calls: u64,
    /// Calls answered with an error.
    pub errors: u64,
    /// Commands refused before they ran (not in `calls`).
    pub rejected: u64,
    /// Sum of call latencies in microseconds.
    pub total_micros: u64,
    /// Latency percentiles in microseconds: p50, p95, p99, p99.9, max.
    pub percentiles_micros: [u64; 5],
}

/// The figures of one front end's commands and the server's connection and byte
/// counters at one moment ([`Metrics::mark`]), for reporting figures since then
/// ([`StatsMark::since`]) without resetting the counters themselves: `/metrics`
/// stays monotonic while Redis's `CONFIG RESETSTAT` starts `INFO` from zero.
#[derive(Clone, Debug, Default)]
pub struct StatsMark {
    protocol: String,
    commands: BTreeMap<String, MarkedCommand>,
    /// Connections accepted.
    pub connections_received: u64,
    /// Connections refused because of `max_clients`.
    pub connections_rejected: u64,
    /// Bytes read from clients.
    pub bytes_read: u64,
    /// Bytes written to clients.
    pub bytes_written: u64,
}

#[derive(Clone, Debug)]
struct MarkedCommand {
    calls: u64,
    errors: u64,
    rejected: u64,
    total_micros: u64,
    /// Taken only when asked for (a copy costs a few tens of KiB).
    latency: Option<Histogram<u64>>,
}

impl StatsMark {
    /// The figures added between `earlier` and `self`: counters subtracted,
    /// latency histograms subtracted (when both marks have them), and commands
    /// not called in between left out.
    pub fn since(mut self, earlier: &StatsMark) -> StatsMark {
        self.connections_received = self
            .connections_received
            .saturating_sub(earlier.connections_received);
        self.connections_rejected = self
            .connections_rejected
            .saturating_sub(earlier.connections_rejected);
        self.bytes_read = self.bytes_read.saturating_sub(earlier.bytes_read);
        self.bytes_written = self.bytes_written.saturating_sub(earlier.bytes_written);
        self.commands.retain(|name, c| {
            let Some(e) = earlier.commands.get(name) else {
                return c.calls > 0 || c.rejected > 0;
            };
            c.calls = c.calls.saturating_sub(e.calls);
            c.errors = c.errors.saturating_sub(e.errors);
            c.rejected = c.rejected.saturating_sub(e.rejected);
            c.total_micros = c.total_micros.saturating_sub(e.total_micros);
            if let (Some(h), Some(eh)) = (c.latency.as_mut(), e.latency.as_ref()) {
                // Counts only grow, so this cannot go below zero; if it somehow
                // fails, report no latency rather than the figures since start.
                if h.subtract(eh).is_err() {
                    h.reset();
                }
            }
            c.calls > 0 || c.rejected > 0
        });
        self
    }

    /// Commands that ran (refused ones are not counted, as in Redis's
    /// `total_commands_processed`).
    pub fn total_commands(&self) -> u64 {
        self.commands.values().map(|c| c.calls).sum()
    }

    /// Each command's figures, by name; the percentiles are zero unless the mark
    /// was taken with latency.
    pub fn commands(&self) -> Vec<CommandSnapshot> {
        self.commands
            .iter()
            .map(|(name, c)| CommandSnapshot {
                protocol: self.protocol.clone(),
                command: name.clone(),
                calls: c.calls,
                errors: c.errors,
                rejected: c.rejected,
                total_micros: c.total_micros,
                percentiles_micros: c.latency.as_ref().map_or([0; 5], percentiles),
            })
            .collect()
    }
}

fn percentiles(h: &Histogram<u64>) -> [u64; 5] {
    let mut p = [0u64; 5];
    if h.is_empty() {
        return p;
    }
    for (slot, (q, _)) in p.iter_mut().zip(QUANTILES) {
        *slot = h.value_at_quantile(q);
    }
    p[4] = h.max();
    p
}

/// Protocol → command → figures.
type CommandMap = BTreeMap<&'static str, BTreeMap<String, Arc<CommandStats>>>;

/// A per-command counter family: name, help text, and the figure it reports.
type CounterFamily = (&'static str, &'static str, fn(&CommandSnapshot) -> u64);

/// Server-wide command metrics; cheap to record from many connections at once.
#[derive(Default)]
pub struct Metrics {
    commands: RwLock<CommandMap>,
    connections_received: AtomicU64,
    connections_rejected: AtomicU64,
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
    wal_background_syncs: AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Records the commands of one pipelined run and publishes them when dropped, once
/// per stretch of equal command names: recorded one by one, every command of every
/// connection would take the same shared counters and histogram lock. The figures
/// are published before the run's replies are sent, so a client that reads them
/// afterwards (`INFO commandstats`) sees its own commands.
pub struct RunRecorder<'a> {
    metrics: &'a Metrics,
    protocol: &'static str,
    pending: Vec<(&'static str, u64, bool)>,
}

impl RunRecorder<'_> {
    /// Records one answered command (lower-cased name, as [`Metrics::record`]).
    pub fn record(&mut self, command: &'static str, elapsed: Duration, failed: bool) {
        self.pending.push((command, micros_of(elapsed), failed));
    }
}

impl Drop for RunRecorder<'_> {
    fn drop(&mut self) {
        for stretch in self.pending.chunk_by(|a, b| a.0 == b.0) {
            let name = stretch.first().map_or("", |c| c.0);
            let calls = stretch.iter().map(|&(_, micros, failed)| (micros, failed));
            self.metrics.publish(self.protocol, name, calls);
        }
    }
}

fn micros_of(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX)
}

/// Quantiles reported everywhere, in the order of [`CommandSnapshot::percentiles_micros`].
const QUANTILES: [(f64, &str); 4] = [
    (0.5, "0.5"),
    (0.95, "0.95"),
    (0.99, "0.99"),
    (0.999, "0.999"),
];

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one answered command. `command` is lower-cased; unknown commands
    /// should be recorded under one name (e.g. `unknown`) to bound the label set.
    pub fn record(&self, protocol: &'static str, command: &str, elapsed: Duration, failed: bool) {
        self.publish(
            protocol,
            command,
            std::iter::once((micros_of(elapsed), failed)),
        );
    }

    /// A recorder for the commands of one pipelined run, published when it drops.
    /// `commands` is the run's length, so recording allocates once.
    pub fn run_recorder(&self, protocol: &'static str, commands: usize) -> RunRecorder<'_> {
        RunRecorder {
            metrics: self,
            protocol,
            pending: Vec::with_capacity(commands),
        }
    }

    /// Adds `calls` (microseconds, failed) of one command to its figures: one lookup,
    /// one update of each counter and one histogram lock for all of them.
    fn publish(
        &self,
        protocol: &'static str,
        command: &str,
        calls: impl Iterator<Item = (u64, bool)>,
    ) {
        let Some(stats) = self.stats_for(protocol, command) else {
            return;
        };
        let (mut n, mut errors, mut micros) = (0u64, 0u64, 0u64);
        let mut h = stats.latency.lock().unwrap_or_else(PoisonError::into_inner);
        for (m, failed) in calls {
            n += 1;
            errors += u64::from(failed);
            micros = micros.saturating_add(m);
            h.saturating_record(m.max(1));
        }
        drop(h);
        stats.calls.fetch_add(n, Ordering::Relaxed);
        if errors > 0 {
            stats.errors.fetch_add(errors, Ordering::Relaxed);
        }
        stats.total_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Records one command refused before it ran (wrong arity, not authenticated,
    /// …): counted apart from the calls, with no latency, as Redis's
    /// `rejected_calls`.
    pub fn record_rejected(&self, protocol: &'static str, command: &str) {
        if let Some(stats) = self.stats_for(protocol, command) {
            stats.rejected.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn stats_for(&self, protocol: &'static str, command: &str) -> Option<Arc<CommandStats>> {
        let name: std::borrow::Cow<'_, str> = if command.bytes().any(|b| b.is_ascii_uppercase()) {
            command.to_ascii_lowercase().into()
        } else {
            command.into()
        };
        {
            let map = self.commands.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(s) = map.get(protocol).and_then(|m| m.get(name.as_ref())) {
                return Some(Arc::clone(s));
            }
        }
        let mut map = self
            .commands
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let per_protocol = map.entry(protocol).or_default();
        if let Some(s) = per_protocol.get(name.as_ref()) {
            return Some(Arc::clone(s));
        }
        let s = Arc::new(CommandStats::new()?);
        per_protocol.insert(name.into_owned(), Arc::clone(&s));
        Some(s)
    }

    /// Counts an accepted connection.
    pub fn connection_received(&self) {
        self.connections_received.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection refused because of `max_clients`.
    pub fn connection_rejected(&self) {
        self.connections_rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts bytes read from and written to clients.
    pub fn add_io(&self, read: u64, written: u64) {
        self.bytes_read.fetch_add(read, Ordering::Relaxed);
        self.bytes_written.fetch_add(written, Ordering::Relaxed);
    }

    /// Connections accepted since start.
    pub fn connections_received(&self) -> u64 {
        self.connections_received.load(Ordering::Relaxed)
    }

    /// Connections refused since start.
    pub fn connections_rejected(&self) -> u64 {
        self.connections_rejected.load(Ordering::Relaxed)
    }

    /// Bytes read from clients since start.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    /// Bytes written to clients since start.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written.load(Ordering::Relaxed)
    }

    /// Counts one WAL fsync done by the `everysec` background syncer.
    pub fn wal_background_synced(&self) {
        self.wal_background_syncs.fetch_add(1, Ordering::Relaxed);
    }

    /// WAL fsyncs done by the `everysec` background syncer since start.
    pub fn wal_background_syncs(&self) -> u64 {
        self.wal_background_syncs.load(Ordering::Relaxed)
    }

    /// Total commands answered for one protocol (all protocols with `None`).
    pub fn total_commands(&self, protocol: Option<&str>) -> u64 {
        let map = self.commands.read().unwrap_or_else(PoisonError::into_inner);
        map.iter()
            .filter(|(p, _)| protocol.is_none_or(|want| **p == want))
            .flat_map(|(_, cmds)| cmds.values())
            .map(|s| s.calls.load(Ordering::Relaxed))
            .sum()
    }

    /// The current figures of `protocol`'s commands and the connection and byte
    /// counters, with each command's latency histogram when `latency` is set.
    pub fn mark(&self, protocol: &str, latency: bool) -> StatsMark {
        let commands = {
            let map = self.commands.read().unwrap_or_else(PoisonError::into_inner);
            map.get(protocol)
                .map(|cmds| {
                    cmds.iter()
                        .map(|(name, s)| {
                            let marked = MarkedCommand {
                                calls: s.calls.load(Ordering::Relaxed),
                                errors: s.errors.load(Ordering::Relaxed),
                                rejected: s.rejected.load(Ordering::Relaxed),
                                total_micros: s.total_micros.load(Ordering::Relaxed),
                                latency: latency.then(|| {
                                    s.latency
                                        .lock()
                                        .unwrap_or_else(PoisonError::into_inner)
                                        .clone()
                                }),
                            };
                            (name.clone(), marked)
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        StatsMark {
            protocol: protocol.to_string(),
            commands,
            connections_received: self.connections_received(),
            connections_rejected: self.connections_rejected(),
            bytes_read: self.bytes_read(),
            bytes_written: self.bytes_written(),
        }
    }

    /// Every command's figures, ordered by protocol then command.
    pub fn snapshot(&self) -> Vec<CommandSnapshot> {
        let map = self.commands.read().unwrap_or_else(PoisonError::into_inner);
        map.iter()
            .flat_map(|(protocol, cmds)| cmds.iter().map(move |(c, s)| (*protocol, c, s)))
            .map(|(protocol, command, s)| {
                let h = s.latency.lock().unwrap_or_else(PoisonError::into_inner);
                let mut p = [0u64; 5];
                for (slot, (q, _)) in p.iter_mut().zip(QUANTILES) {
                    *slot = h.value_at_quantile(q);
                }
                p[4] = h.max();
                CommandSnapshot {
                    protocol: protocol.to_string(),
                    command: command.clone(),
                    calls: s.calls.load(Ordering::Relaxed),
                    errors: s.errors.load(Ordering::Relaxed),
                    rejected: s.rejected.load(Ordering::Relaxed),
                    total_micros: s.total_micros.load(Ordering::Relaxed),
                    percentiles_micros: p,
                }
            })
            .collect()
    }

    /// The metrics in Prometheus's text exposition format (version 0.0.4).
    pub fn prometheus(&self, connected: &[(&str, usize)]) -> String {
        let mut out = String::new();
        let snap = self.snapshot();
        let per_command: [CounterFamily; 3] = [
            ("shale_commands_total", "Commands run.", |c| c.calls),
            (
                "shale_command_errors_total",
                "Commands run that answered with an error.",
                |c| c.errors,
            ),
            (
                "shale_command_rejected_total",
                "Commands refused before they ran.",
                |c| c.rejected,
            ),
        ];
        for (name, help, value) in per_command {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for c in &snap {
                let _ = writeln!(
                    out,
                    "{name}{{protocol=\"{}\",command=\"{}\"}} {}",
                    c.protocol,
                    escape(&c.command),
                    value(c)
                );
            }
        }
        out.push_str("# HELP shale_command_duration_seconds Command latency.\n");
        out.push_str("# TYPE shale_command_duration_seconds summary\n");
        for c in &snap {
            let labels = format!(
                "protocol=\"{}\",command=\"{}\"",
                c.protocol,
                escape(&c.command)
            );
            for ((_, q), v) in QUANTILES.iter().zip(c.percentiles_micros) {
                let _ = writeln!(
                    out,
                    "shale_command_duration_seconds{{{labels},quantile=\"{q}\"}} {}",
                    seconds(v)
                );
            }
            let _ = writeln!(
                out,
                "shale_command_duration_seconds_sum{{{labels}}} {}",
                seconds(c.total_micros)
            );
            let _ = writeln!(
                out,
                "shale_command_duration_seconds_count{{{labels}}} {}",
                c.calls
            );
        }
        out.push_str("# HELP shale_connected_clients Clients connected now.\n");
        out.push_str("# TYPE shale_connected_clients gauge\n");
        for (protocol, n) in connected {
            let _ = writeln!(
                out,
                "shale_connected_clients{{protocol=\"{protocol}\"}} {n}"
            );
        }
        out.push_str("# HELP shale_connections_received_total Connections accepted.\n");
        out.push_str("# TYPE shale_connections_received_total counter\n");
        let _ = writeln!(
            out,
            "shale_connections_received_total {}",
            self.connections_received()
        );
        out.push_str(
            "# HELP shale_connections_rejected_total Connections refused (max_clients).\n",
        );
        out.push_str("# TYPE shale_connections_rejected_total counter\n");
        let _ = writeln!(
            out,
            "shale_connections_rejected_total {}",
            self.connections_rejected()
        );
        out.push_str("# HELP shale_net_input_bytes_total Bytes read from clients.\n");
        out.push_str("# TYPE shale_net_input_bytes_total counter\n");
        let _ = writeln!(out, "shale_net_input_bytes_total {}", self.bytes_read());
        out.push_str("# HELP shale_net_output_bytes_total Bytes written to clients.\n");
        out.push_str("# TYPE shale_net_output_bytes_total counter\n");
        let _ = writeln!(out, "shale_net_output_bytes_total {}", self.bytes_written());
        out.push_str(
            "# HELP shale_wal_background_syncs_total WAL fsyncs by the everysec syncer.\n",
        );
        out.push_str("# TYPE shale_wal_background_syncs_total counter\n");
        let _ = writeln!(
            out,
            "shale_wal_background_syncs_total {}",
            self.wal_background_syncs()
        );
        out
    }
}

fn seconds(micros: u64) -> String {
    format!("{:.6}", micros as f64 / 1e6)
}

/// Escapes a label value (backslash, quote, newline).
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_renders() {
        let m = Metrics::new();
        for i in 1..=100u64 {
            m.record("redis", "GET", Duration::from_micros(i), i == 100);
        }
        m.record("memcache", "set", Duration::from_micros(7), false);
        let snap = m.snapshot();
        assert_eq!(snap.len(), 2);
        let get = snap.iter().find(|c| c.command == "get").unwrap();
        assert_eq!((get.calls, get.errors, get.total_micros), (100, 1, 5050));
        assert!((49..=51).contains(&get.percentiles_micros[0]), "{get:?}");
        assert_eq!(get.percentiles_micros[4], 100);
        assert_eq!(m.total_commands(Some("redis")), 100);
        assert_eq!(m.total_commands(None), 101);
        let text = m.prometheus(&[("redis", 3)]);
        assert!(text.contains("shale_commands_total{protocol=\"redis\",command=\"get\"} 100\n"));
        assert!(
            text.contains("shale_command_errors_total{protocol=\"redis\",command=\"get\"} 1\n")
        );
        assert!(text.contains("shale_connected_clients{protocol=\"redis\"} 3\n"));
        assert!(text.contains("shale_wal_background_syncs_total 0\n"));
        assert!(text.contains(
            "shale_command_duration_seconds_count{protocol=\"memcache\",command=\"set\"} 1\n"
        ));
    }

    #[test]
    fn a_run_recorder_publishes_everything_when_dropped() {
        let m = Metrics::new();
        let mut rec = m.run_recorder("redis", 4);
        for (name, micros, failed) in [
            ("get", 10, false),
            ("get", 20, true),
            ("set", 30, false),
            ("get", 40, false),
        ] {
            rec.record(name, Duration::from_micros(micros), failed);
        }
        assert_eq!(
            m.total_commands(None),
            0,
            "nothing is published before the drop"
        );
        drop(rec);
        let snap = m.snapshot();
        let figures = |name: &str| {
            let c = snap.iter().find(|c| c.command == name).unwrap();
            (c.calls, c.errors, c.total_micros, c.percentiles_micros[4])
        };
        assert_eq!(figures("get"), (3, 1, 70, 40));
        assert_eq!(figures("set"), (1, 0, 30, 30));
        assert_eq!(m.total_commands(Some("redis")), 4);
    }

    #[test]
    fn rejected_commands_count_apart_from_calls() {
        let m = Metrics::new();
        m.record("redis", "get", Duration::from_micros(5), false);
        let base = m.mark("redis", false);
        m.record_rejected("redis", "get");
        m.record_rejected("redis", "config|get");
        assert_eq!(
            m.total_commands(Some("redis")),
            1,
            "refused commands did not run"
        );
        let snap = m.snapshot();
        let get = snap.iter().find(|c| c.command == "get").unwrap();
        assert_eq!((get.calls, get.errors, get.rejected), (1, 0, 1));
        let since = m.mark("redis", false).since(&base);
        let figures: Vec<_> = since
            .commands()
            .iter()
            .map(|c| (c.command.clone(), c.calls, c.rejected))
            .collect();
        assert_eq!(
            figures,
            [("config|get".to_string(), 0, 1), ("get".to_string(), 0, 1)]
        );
        let text = m.prometheus(&[]);
        assert!(text.contains(
            "shale_command_rejected_total{protocol=\"redis\",command=\"config|get\"} 1\n"
        ));
        assert!(text.contains("shale_commands_total{protocol=\"redis\",command=\"get\"} 1\n"));
    }

    #[test]
    fn marks_measure_figures_since_without_resetting() {
        let m = Metrics::new();
        for _ in 0..10 {
            m.record("redis", "get", Duration::from_micros(1000), false);
        }
        m.record("redis", "set", Duration::from_micros(5), true);
        m.connection_received();
        m.add_io(100, 200);
        let base = m.mark("redis", true);
        assert_eq!(base.total_commands(), 11);
        for _ in 0..4 {
            m.record("redis", "get", Duration::from_micros(10), false);
        }
        m.record("redis", "del", Duration::from_micros(3), true);
        m.record("memcache", "get", Duration::from_micros(3), false);
        m.add_io(7, 9);
        let since = m.mark("redis", true).since(&base);
        assert_eq!(since.total_commands(), 5);
        assert_eq!(
            (
                since.connections_received,
                since.bytes_read,
                since.bytes_written
            ),
            (0, 7, 9)
        );
        let cmds = since.commands();
        let names: Vec<_> = cmds.iter().map(|c| c.command.as_str()).collect();
        assert_eq!(names, ["del", "get"], "set was not called since the mark");
        let get = &cmds[1];
        assert_eq!((get.calls, get.errors, get.total_micros), (4, 0, 40));
        // The 1000 µs calls before the mark are gone from the percentiles.
        assert_eq!(get.percentiles_micros[4], 10, "{get:?}");
        assert_eq!((cmds[0].calls, cmds[0].errors), (1, 1));
        // Nothing was reset: the totals still count everything.
        assert_eq!(m.total_commands(Some("redis")), 16);
        assert_eq!(m.bytes_read(), 107);
        // Without latency, figures but no percentiles.
        let plain = m.mark("redis", false).since(&base);
        assert_eq!(plain.total_commands(), 5);
        assert_eq!(plain.commands()[1].percentiles_micros, [0; 5]);
    }
}
