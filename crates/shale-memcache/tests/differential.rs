#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, clippy::panic)]
//! Differential test: seeded random command sequences against a real memcached and
//! against ShaleDB's front end; replies must match byte for byte once CAS uniques are
//! normalised (each distinct CAS becomes its first-seen index, per server) and
//! positive TTLs are reduced to `t+` (memcached's clock ticks in whole seconds).

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Server;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

const INSTALL_HINT: &str =
    "memcached is needed by this test: run `bash scripts/install-test-deps.sh`";

/// A real memcached on a free port, killed on drop.
struct Memcached {
    child: Child,
    addr: SocketAddr,
}

impl Memcached {
    fn start() -> Memcached {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut cmd = Command::new("memcached");
        cmd.args([
            "-p",
            &port.to_string(),
            "-U",
            "0",
            "-l",
            "127.0.0.1",
            "-t",
            "1",
            "-m",
            "64",
        ]);
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout.starts_with(b"0"))
            .unwrap_or(false);
        if root {
            cmd.args(["-u", "root"]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start memcached ({e}); {INSTALL_HINT}"));
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "memcached did not start listening"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Memcached { child, addr }
    }
}

impl Drop for Memcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A connection that reads replies up to the `MN` that follows every command.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
    /// Raw CAS → first-seen index.
    cas_ids: HashMap<u64, usize>,
    /// Key → last CAS seen (raw), for generating valid `cas`/`C` commands.
    last_cas: HashMap<String, u64>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_nodelay(true).unwrap();
        Conn {
            s,
            buf: Vec::new(),
            cas_ids: HashMap::new(),
            last_cas: HashMap::new(),
        }
    }

    fn fill(&mut self) {
        let mut chunk = [0u8; 65536];
        let n = self.s.read(&mut chunk).expect("read");
        assert!(
            n > 0,
            "connection closed; have {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        self.buf.extend_from_slice(&chunk[..n]);
    }

    fn line(&mut self) -> Vec<u8> {
        loop {
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                return self.buf.drain(..p + 2).collect();
            }
            self.fill();
        }
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            self.fill();
        }
        self.buf.drain(..n).collect()
    }

    fn cas_id(&mut self, raw: u64) -> usize {
        let next = self.cas_ids.len();
        *self.cas_ids.entry(raw).or_insert(next)
    }

    /// Sends `cmd` + `mn` and returns the normalised reply up to `MN`.
    fn run(&mut self, cmd: &[u8], key: Option<&str>) -> String {
        let mut req = cmd.to_vec();
        req.extend_from_slice(b"mn\r\n");
        self.s.write_all(&req).unwrap();
        let mut out = String::new();
        loop {
            let line = self.line();
            let text = String::from_utf8_lossy(&line).into_owned();
            if text == "MN\r\n" {
                return out;
            }
            let mut words: Vec<String> = text.trim_end().split(' ').map(str::to_string).collect();
            let mut data_len = None;
            if words[0] == "VALUE" && words.len() >= 4 {
                data_len = words[3].parse::<usize>().ok();
                if words.len() == 5 {
                    let raw: u64 = words[4].parse().unwrap();
                    self.last_cas.insert(words[1].clone(), raw);
                    words[4] = format!("#{}", self.cas_id(raw));
                }
            } else if matches!(words[0].as_str(), "VA" | "HD" | "EN" | "NS" | "EX" | "NF") {
                if words[0] == "VA" {
                    data_len = words[1].parse::<usize>().ok();
                }
                for word in words.iter_mut().skip(1) {
                    let w = word.clone();
                    if let Some(raw) = w.strip_prefix('c').and_then(|n| n.parse::<u64>().ok()) {
                        if let Some(k) = key {
                            self.last_cas.insert(k.to_string(), raw);
                        }
                        *word = format!("c#{}", self.cas_id(raw));
                    } else if w
                        .strip_prefix('s')
                        .is_some_and(|n| n.parse::<u64>().is_ok())
                    {
                        *word = "s*".into();
                    } else if let Some(t) = w.strip_prefix('t').and_then(|n| n.parse::<i64>().ok())
                        && t > 0
                    {
                        *word = "t+".into();
                    }
                }
            }
            // memcached pads incr results with spaces in place, or writes the bare
            // digits, depending on internal reference counts: compare values
            // without the spaces after a leading number (and sizes as `s*`).
            let data = data_len.map(|n| {
                let mut d = self.bytes(n + 2);
                d.truncate(n);
                let digits = d.iter().take_while(|c| c.is_ascii_digit()).count();
                if digits > 0 {
                    let spaces = d[digits..].iter().take_while(|&&c| c == b' ').count();
                    d.drain(digits..digits + spaces);
                }
                d
            });
            if let Some(d) = &data {
                let i = if words[0] == "VALUE" { 3 } else { 1 };
                words[i] = d.len().to_string();
            }
            out.push_str(&words.join(" "));
            out.push('\n');
            if let Some(d) = data {
                out.push_str(&String::from_utf8_lossy(&d));
                out.push('\n');
            }
        }
    }
}

const KEYS: [&str; 4] = ["a", "b", "n", "Zm9v"];
const VALUES: [&str; 9] = [
    "0",
    "1",
    "42",
    "18446744073709551615",
    "abc",
    "",
    "x y",
    "99",
    "12 z",
];
const EXPTIMES: [&str; 4] = ["0", "0", "-1", "100"];
const DELTAS: [&str; 7] = ["0", "1", "5", "18446744073709551615", "x", "-1", "100"];

/// A command; `{cas}` is replaced per server by the key's last-seen CAS (`Valid`) or
/// a CAS neither server issued.
struct Gen {
    text: String,
    key: Option<String>,
    cas_valid: bool,
}

fn pick<'a>(rng: &mut StdRng, xs: &'a [&'a str]) -> &'a str {
    xs.choose(rng).unwrap()
}

/// What the generator avoids asking, because memcached's answer depends on its
/// internal reference counts (whether an incr updates in place): appending to a
/// value an incr/decr may have left space-padded (`padded`), and arithmetic on an
/// item that may be stale or have a win token out (`stale`: in place keeps that
/// state, a new item drops it). Such commands become plain sets.
#[derive(Default)]
struct Avoid {
    padded: std::collections::HashSet<String>,
    stale: std::collections::HashSet<String>,
}

fn gen_command(rng: &mut StdRng, avoid: &mut Avoid) -> Gen {
    let mut g = gen_raw(rng);
    let Some(key) = g.key.clone() else {
        if g.text.starts_with("flush_all") {
            avoid.padded.clear();
            avoid.stale.clear();
        }
        return g;
    };
    let verb = g.text.split(' ').next().unwrap_or_default().to_string();
    let is_append = matches!(verb.as_str(), "append" | "prepend")
        || (verb == "ms" && (g.text.contains(" MA") || g.text.contains(" MP")));
    let is_arith = matches!(verb.as_str(), "incr" | "decr" | "ma");
    if (is_append && avoid.padded.contains(&key)) || (is_arith && avoid.stale.contains(&key)) {
        g.text = format!("set {key} 0 0 1\r\n5\r\n");
    }
    let verb = g.text.split(' ').next().unwrap_or_default();
    if matches!(verb, "incr" | "decr" | "ma") {
        avoid.padded.insert(key.clone());
    }
    let stateful = (matches!(verb, "md" | "ms") && g.text.contains(" I"))
        || (verb == "mg" && (g.text.contains(" N") || g.text.contains(" R")));
    if stateful {
        avoid.stale.insert(key.clone());
    }
    if matches!(verb, "set" | "delete") {
        avoid.padded.remove(&key);
        avoid.stale.remove(&key);
    }
    g
}

fn gen_raw(rng: &mut StdRng) -> Gen {
    let key = pick(rng, &KEYS).to_string();
    let noreply = if rng.random_bool(0.15) {
        " noreply"
    } else {
        ""
    };
    let value = pick(rng, &VALUES);
    let exptime = pick(rng, &EXPTIMES);
    let flags = [0u32, 1, 7, 4294967295].choose(rng).unwrap();
    let cas_valid = rng.random_bool(0.7);
    let text = match rng.random_range(0..22) {
        0..=2 => format!(
            "set {key} {flags} {exptime} {}{noreply}\r\n{value}\r\n",
            value.len()
        ),
        3 => format!(
            "add {key} {flags} {exptime} {}{noreply}\r\n{value}\r\n",
            value.len()
        ),
        4 => format!(
            "replace {key} {flags} {exptime} {}{noreply}\r\n{value}\r\n",
            value.len()
        ),
        5 => {
            let verb = if rng.random_bool(0.5) {
                "append"
            } else {
                "prepend"
            };
            format!(
                "{verb} {key} {flags} {exptime} {}{noreply}\r\n{value}\r\n",
                value.len()
            )
        }
        6 => format!(
            "cas {key} {flags} {exptime} {} {{cas}}{noreply}\r\n{value}\r\n",
            value.len()
        ),
        7 | 8 => {
            let verb = ["get", "gets"].choose(rng).unwrap();
            let n = rng.random_range(1..=3);
            let keys: Vec<&str> = (0..n).map(|_| pick(rng, &KEYS)).collect();
            format!("{verb} {}\r\n", keys.join(" "))
        }
        9 => {
            let verb = ["gat", "gats"].choose(rng).unwrap();
            format!("{verb} {exptime} {key} {}\r\n", pick(rng, &KEYS))
        }
        10 => format!("delete {key}{noreply}\r\n"),
        11 => {
            let verb = ["incr", "decr"].choose(rng).unwrap();
            format!("{verb} {key} {}{noreply}\r\n", pick(rng, &DELTAS))
        }
        12 => format!("touch {key} {exptime}{noreply}\r\n"),
        13 => match rng.random_range(0..6) {
            0 => format!("flush_all{noreply}\r\n"),
            1 => "set k 0 0 3\r\nabcde\r\n".to_string(),
            2 => "bogus command\r\n".to_string(),
            3 => format!("get {}\r\n", "k".repeat(251)),
            4 => "verbosity 1\r\n".to_string(),
            _ => pick(
                rng,
                &[
                    "mg\r\n",
                    "ms k S3\r\n",
                    "mg k zz\r\n",
                    "mg k v v\r\n",
                    "ma k Dx\r\n",
                    "md k q q\r\n",
                    "delete k 1\r\n",
                    "incr\r\n",
                    "touch k\r\n",
                ],
            )
            .to_string(),
        },
        14..=15 => {
            let mut flags = vec![];
            for f in ["v", "f", "c", "t", "s", "k", "O123", "q"] {
                if rng.random_bool(0.35) {
                    flags.push(f.to_string());
                }
            }
            if rng.random_bool(0.15) {
                flags.push(format!("T{exptime}"));
            }
            if rng.random_bool(0.1) {
                flags.push("N30".into());
            }
            if rng.random_bool(0.1) {
                flags.push(format!("R{}", pick(rng, &["30", "200"])));
            }
            if rng.random_bool(0.05) {
                flags.push("u".into());
            }
            if key == "Zm9v" && rng.random_bool(0.5) {
                flags.push("b".into());
            }
            format!("mg {key} {}\r\n", flags.join(" "))
        }
        16..=17 => {
            let mut flags = vec![];
            for f in ["c", "k", "O9", "q", "I"] {
                if rng.random_bool(0.25) {
                    flags.push(f.to_string());
                }
            }
            if rng.random_bool(0.3) {
                flags.push(format!("T{exptime}"));
            }
            if rng.random_bool(0.3) {
                flags.push(format!("F{flags_v}", flags_v = flags.len()));
            }
            if rng.random_bool(0.4) {
                flags.push(format!(
                    "M{}",
                    pick(rng, &["E", "A", "P", "R", "S", "s", "a"])
                ));
            }
            if rng.random_bool(0.25) {
                flags.push("C{cas}".into());
            }
            if rng.random_bool(0.1) {
                flags.push("N30".into());
            }
            if rng.random_bool(0.03) {
                // A wrong data length: a bad data chunk.
                return Gen {
                    text: format!("ms {key} 1 {}\r\n{value}xx\r\n", flags.join(" ")),
                    key: Some(key),
                    cas_valid,
                };
            }
            format!(
                "ms {key} {} {}\r\n{value}\r\n",
                value.len(),
                flags.join(" ")
            )
        }
        18 => {
            let mut flags = vec![];
            for f in ["q", "k", "O7", "I", "z"] {
                if rng.random_bool(0.25) {
                    flags.push(f.to_string());
                }
            }
            if rng.random_bool(0.2) {
                flags.push("C{cas}".into());
            }
            if rng.random_bool(0.2) {
                flags.push("T100".into());
            }
            format!("md {key} {}\r\n", flags.join(" "))
        }
        _ => {
            let mut flags = vec![];
            for f in ["v", "t", "c", "k", "O5", "q"] {
                if rng.random_bool(0.3) {
                    flags.push(f.to_string());
                }
            }
            if rng.random_bool(0.3) {
                flags.push("N0".into());
            }
            if rng.random_bool(0.3) {
                flags.push(format!("J{}", rng.random_range(0..20)));
            }
            if rng.random_bool(0.4) {
                flags.push(format!(
                    "D{}",
                    pick(rng, &["0", "1", "7", "18446744073709551615"])
                ));
            }
            if rng.random_bool(0.4) {
                flags.push(format!("M{}", pick(rng, &["I", "D", "+", "-", "i", "d"])));
            }
            if rng.random_bool(0.15) {
                flags.push("C{cas}".into());
            }
            format!("ma {key} {}\r\n", flags.join(" "))
        }
    };
    // The key the command is about: its second word (multi-key gets and the fixed
    // malformed commands have none; `Avoid` must not credit them to `key`).
    let key = (!text.starts_with("get") && text.split([' ', '\r']).nth(1) == Some(key.as_str()))
        .then_some(key);
    Gen {
        text,
        key,
        cas_valid,
    }
}

fn render(g: &Gen, conn: &Conn) -> Vec<u8> {
    let cas = if g.cas_valid {
        g.key
            .as_ref()
            .and_then(|k| conn.last_cas.get(k).copied())
            .unwrap_or(18_446_744_073_709_551_614)
    } else {
        18_446_744_073_709_551_614
    };
    g.text.replace("{cas}", &cas.to_string()).into_bytes()
}

#[test]
fn replies_match_real_memcached() {
    let memcached = Memcached::start();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    // DIFF_SEEDS widens the search when hunting divergences.
    let seeds: u64 = std::env::var("DIFF_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48);
    for seed in 0..seeds {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut real = Conn::new(memcached.addr);
        let mut ours = Conn::new(server.addr);
        real.run(b"flush_all\r\n", None);
        ours.run(b"flush_all\r\n", None);
        let mut history = Vec::new();
        let mut avoid = Avoid::default();
        for step in 0..500 {
            let g = gen_command(&mut rng, &mut avoid);
            let rendered = render(&g, &real);
            let want = real.run(&rendered, g.key.as_deref());
            let got = ours.run(&render(&g, &ours), g.key.as_deref());
            history.push(format!(
                "{:?} => {want:?}",
                String::from_utf8_lossy(&rendered)
            ));
            if want != got {
                let tail: Vec<&String> = history.iter().rev().take(80).rev().collect();
                panic!(
                    "seed {seed} step {step}: {:?}\nmemcached: {want:?}\nshale:     {got:?}\nlast commands: {tail:#?}",
                    g.text
                );
            }
        }
    }
}
