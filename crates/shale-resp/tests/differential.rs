//! Differential test: random command sequences sent to a real redis-server and to
//! ShaleDB's front end must get byte-identical replies (order-insensitive replies
//! compared after sorting). 400 cases of 80 steps by default; `DIFF_CASES=n` runs
//! more. A step is mostly one command; the others are an inline-protocol request
//! (raw text, quoting and all), a SCAN or HSCAN iterated to cursor 0 (compared as
//! the set of elements: cursors are the implementation's own), `INFO keyspace`
//! (`avg_ttl` aside), `CONFIG GET`, and a WATCH that a second client breaks or
//! leaves alone before the first runs MULTI/EXEC.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
use common::redis::RealRedis;
use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

const KEYS: &[&str] = &["k0", "k1", "k2", "k3", "hx"];
const FIELDS: &[&str] = &["f0", "f1", "f2"];
const VALUES: &[&str] = &["v", "12", "-3", "0", "", "1.5", "abc def", "1000"];
const FLOATS: &[&str] = &["0.25", "-1.5", "3", "1e2", "abc", "0.125"];
/// Values only inline requests carry: quotes, backslashes and control bytes. Inside
/// a bare word `\x0b` and `\x0c` are ordinary bytes for Redis (only space, tab, CR
/// and LF end a word), though they are skipped between words.
const INLINE_VALUES: &[&str] = &[
    "a b",
    "it's",
    "q\"uote",
    "back\\slash",
    "tab\there",
    "nl\nx",
    "\x01\x7f",
    "x\x0by",
    "x\x0cy",
    "",
];
/// Cursors Redis rejects (`strtoul` with nothing left over, no leading space, no
/// overflow). Other numbers are valid cursors in both, with different meanings.
const BAD_CURSORS: &[&str] = &[
    "x",
    "1x",
    " 0",
    "0 ",
    "-",
    "+",
    "0x0",
    "18446744073709551616",
];
/// SCAN/HSCAN options Redis answers with an error.
const BAD_SCAN_OPTIONS: &[&[&str]] = &[
    &["COUNT", "0"],
    &["COUNT", "-1"],
    &["COUNT", "x"],
    &["COUNT"],
    &["MATCH"],
    &["TYPE"],
    &["FOO", "bar"],
    &["COUNT", "1", "MATCH"],
    &["MATCH", "*", "COUNT", "1.5"],
];
/// The parameters ShaleDB's CONFIG GET knows (`commands/server.rs`).
const CONFIG_NAMES: &[&str] = &[
    "appendfsync",
    "appendonly",
    "bind",
    "databases",
    "maxclients",
    "maxmemory",
    "maxmemory-policy",
    "port",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
    "requirepass",
    "save",
    "timeout",
];
/// Patterns that match the same parameters in both (Redis knows many more, so most
/// patterns, such as `max*`, legitimately match more there).
const CONFIG_GLOBS: &[&str] = &[
    "dat*",
    "DAT*",
    "appendfsyn?",
    "maxclient[s]",
    "req*",
    "tim*",
    "sav?",
    "maxmemory-polic?",
    "proto-max-bulk*",
    "client-query*",
    "bin?",
    "nosuch*",
];

fn pick<'a>(rng: &mut StdRng, v: &[&'a str]) -> &'a str {
    v[rng.random_range(0..v.len())]
}

fn pick_slice<'a>(rng: &mut StdRng, v: &[&'a [&'a str]]) -> &'a [&'a str] {
    v[rng.random_range(0..v.len())]
}

/// The wall clock in ms, read once per test: absolute expiry times are built from
/// it. (A relative time repeated on one key compares equal or greater depending on
/// whether a millisecond passed in between, on each server separately.)
fn base_ms() -> i64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(d.as_millis()).unwrap()
}

/// An absolute ms time for PEXPIREAT: in the future (3.5 and 4 days after `base`,
/// far from every relative expiry the generator sets — the nearest are 2.3 days for
/// `PEXPIRE 200000000` and years for `EXPIRE 200000000` — so GT/LT compare the same
/// on both servers), in the past (the key expires at once), an extreme, or not a
/// number.
fn absolute_ms(rng: &mut StdRng, base: i64) -> String {
    match rng.random_range(0..8) {
        0 => (base + 300_000_000).to_string(),
        1 => (base + 350_000_000).to_string(),
        2 => (base - 1000).to_string(),
        3 => "0".into(),
        4 => "-5".into(),
        5 => "9223372036854775807".into(),
        6 => "-9223372036854775808".into(),
        _ => "x".into(),
    }
}

/// Whether a command's reply must be compared after sorting.
fn unordered(cmd: &str) -> bool {
    matches!(cmd, "KEYS" | "HKEYS" | "HVALS" | "HGETALL")
}

fn random_command(rng: &mut StdRng, in_multi: bool, base: i64) -> Vec<String> {
    let k = pick(rng, KEYS).to_string();
    let k2 = pick(rng, KEYS).to_string();
    let f = pick(rng, FIELDS).to_string();
    let v = pick(rng, VALUES).to_string();
    let n = rng.random_range(-5i64..20).to_string();
    let s = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let choice = rng.random_range(0..85);
    let mut c = match choice {
        0..=3 => {
            let mut c = s(&["SET", &k, &v]);
            for _ in 0..rng.random_range(0..3) {
                match rng.random_range(0..9) {
                    0 => c.extend(s(&["EX", "100000"])),
                    1 => c.extend(s(&["PX", "100000000"])),
                    2 => c.push("KEEPTTL".into()),
                    3 => c.push("NX".into()),
                    4 => c.push("XX".into()),
                    5 => c.push("GET".into()),
                    6 => c.extend(s(&["EX", "0"])),
                    7 => c.extend(s(&["EXAT", "99999999999"])),
                    _ => c.extend(s(&["EX", "x"])),
                }
            }
            c
        }
        4..=6 => s(&["GET", &k]),
        7 => s(&["GETSET", &k, &v]),
        8 => s(&["GETDEL", &k]),
        9 => match rng.random_range(0..4) {
            0 => s(&["GETEX", &k]),
            1 => s(&["GETEX", &k, "EX", "100000"]),
            2 => s(&["GETEX", &k, "PERSIST"]),
            _ => s(&["GETEX", &k, "PERSIST", "EX", "5"]),
        },
        10 => s(&["SETNX", &k, &v]),
        11 => s(&[
            "SETEX",
            &k,
            pick(
                rng,
                &[
                    "100000",
                    "0",
                    "-1",
                    "z",
                    "",
                    "1.5",
                    "9223372036854775807",
                    "9223372036854775",
                    "-9223372036854775808",
                ],
            ),
            &v,
        ]),
        12 => s(&["MGET", &k, &k2, "nokey"]),
        13 => s(&["MSET", &k, &v, &k2, "m"]),
        14 => s(&["MSETNX", &k, &v, &k2, "m"]),
        15 => s(&["APPEND", &k, &v]),
        16 => s(&["STRLEN", &k]),
        17 => s(&["INCR", &k]),
        18 => s(&["DECR", &k]),
        // Near i64::MAX only on a key INCRBYFLOAT never touches (Redis adds in
        // 80-bit long double there; ShaleDB adds decimals exactly).
        19 if rng.random_bool(0.1) => s(&[
            "INCRBY",
            "kbig",
            pick(rng, &["9223372036854775807", "1", "-1"]),
        ]),
        19 => s(&["INCRBY", &k, &n]),
        20 => s(&["DECRBY", &k, pick(rng, &["3", "-9223372036854775808", "x"])]),
        21 => s(&["INCRBYFLOAT", &k, pick(rng, FLOATS)]),
        22 => s(&["GETRANGE", &k, &n, &rng.random_range(-5i64..10).to_string()]),
        23 => s(&["SETRANGE", &k, &rng.random_range(-1i64..8).to_string(), &v]),
        24 => s(&["DEL", &k, &k2]),
        25 => s(&["UNLINK", &k]),
        26 => s(&["EXISTS", &k, &k2, &k]),
        27 => s(&["TYPE", &k]),
        28 => s(&["RENAME", &k, &k2]),
        29 => s(&["RENAMENX", &k, &k2]),
        30 => {
            let mut c = s(&["COPY", &k, &k2]);
            if rng.random_bool(0.5) {
                c.push("REPLACE".into());
            }
            c
        }
        31 => {
            let mut c = s(&[
                pick(rng, &["EXPIRE", "PEXPIRE"]),
                &k,
                pick(rng, &["100000", "200000000", "-1", "x"]),
            ]);
            if rng.random_bool(0.5) {
                let flag = pick(rng, &["NX", "XX", "GT", "LT", "bogus"]);
                if flag == "GT" || flag == "LT" {
                    // A relative time repeated on the same key compares equal or
                    // greater depending on whether a millisecond passed in between —
                    // on each server separately. Absolute times compare the same on
                    // both (a past one expires the key on both).
                    let (at, amount) = if c[0] == "EXPIRE" {
                        (
                            "EXPIREAT",
                            pick(rng, &["4000000000", "4100000000", "1", "x"]),
                        )
                    } else {
                        (
                            "PEXPIREAT",
                            pick(rng, &["4000000000000", "4100000000000", "1", "x"]),
                        )
                    };
                    c = s(&[at, &k, amount]);
                }
                c.push(flag.into());
            }
            c
        }
        32 => s(&["PERSIST", &k]),
        33 => s(&["TTL", &k]),
        34 if !in_multi => s(&["KEYS", pick(rng, &["*", "k*", "k[0-1]", "?x", "h\\x"])]),
        35 => s(&["DBSIZE"]),
        36..=38 => {
            let mut c = s(&[pick(rng, &["HSET", "HMSET"]), &k, &f, &v]);
            if rng.random_bool(0.3) {
                c.extend(s(&[pick(rng, FIELDS), "w"]));
            }
            if rng.random_bool(0.1) {
                c.push("odd".into());
            }
            c
        }
        39 => s(&["HSETNX", &k, &f, &v]),
        40..=41 => s(&["HGET", &k, &f]),
        42 => s(&["HMGET", &k, &f, "nofield"]),
        43 if !in_multi => s(&["HGETALL", &k]),
        44 => s(&["HDEL", &k, &f, pick(rng, FIELDS)]),
        45 => s(&["HEXISTS", &k, &f]),
        46 => s(&["HLEN", &k]),
        47 if !in_multi => s(&[pick(rng, &["HKEYS", "HVALS"]), &k]),
        48 => s(&["HSTRLEN", &k, &f]),
        49 => s(&["HINCRBY", &k, &f, &n]),
        50 => s(&["HINCRBYFLOAT", &k, &f, pick(rng, FLOATS)]),
        51 => s(&["GET"]),
        52 => s(&["NOSUCHCMD", &k, "x"]),
        53 => s(&["HSET", &k]),
        54 => s(&["PING"]),
        55 => s(&["ECHO", &v]),
        56 => s(&["SELECT", pick(rng, &["0", "1", "99"])]),
        57 if rng.random_bool(0.2) => s(&["FLUSHDB"]),
        58 => s(&["EXPIREAT", &k, pick(rng, &["1000", "99999999999"])]),
        59 => s(&["SET", &k, &v, "PXAT", "99999999999000"]),
        60 => s(&["SUBSTR", &k, "0", "2"]),
        61 => s(&["SET", &k, &v, "GET"]),
        62 => match rng.random_range(0..4) {
            0 => s(&["GETEX", &k, "PXAT", "99999999999000"]),
            1 => s(&["GETEX", &k, "EXAT", "x"]),
            2 => s(&["GETEX", &k, "FOO"]),
            _ => s(&["GETEX", &k, "PX", "0"]),
        },
        63 => s(&["EXPIRE", &k, "100000", "GT", "LT"]),
        64 => s(&["COPY", &k, &k2, "DB", "0"]),
        65 => s(&["PING", "a", "b"]),
        66 => s(&["ECHO"]),
        67 => s(&["HSETNX", &k, &f]),
        68 => s(&["APPEND", &k, "tail"]),
        69 => s(&["RENAME", &k, &k]),
        70 => s(&["SETRANGE", &k, "0", ""]),
        71 => s(&["GETRANGE", &k, "0", "-100"]),
        72 => s(&[
            "SET",
            &k,
            &v,
            pick(rng, &["PX", "EX"]),
            pick(rng, &["0", "-5", "9223372036854775807"]),
        ]),
        73 => s(&[pick(rng, &["EXEC", "DISCARD", "UNWATCH"])]),
        74 => s(&[
            "INCRBYFLOAT",
            &k,
            pick(rng, &["inf", "-inf", "nan", " 1", "1 "]),
        ]),
        75 => s(&["DEL", "k0", "k1", "k2", "k3", "hx", "nokey"]),
        76 => s(&["MSET", &k, &v, &k, "again"]),
        77 => s(&["HMGET", &k, &f, &f]),
        78 => s(&["SET", &k, &v, "NX", "GET"]),
        79 => s(&[
            "PSETEX",
            &k,
            pick(
                rng,
                &[
                    "100000000",
                    "0",
                    "-1",
                    "x",
                    "1.5",
                    "",
                    "9223372036854775807",
                ],
            ),
            &v,
        ]),
        80 => {
            let mut c = s(&["PEXPIREAT", &k, &absolute_ms(rng, base)]);
            if rng.random_bool(0.4) {
                c.push(pick(rng, &["NX", "XX", "GT", "LT"]).into());
            }
            c
        }
        // Malformed SCAN / HSCAN: every error is decided before any cursor is used.
        81 => {
            let mut c = s(&["SCAN"]);
            if rng.random_bool(0.5) {
                c.push(pick(rng, BAD_CURSORS).into());
            } else {
                c.push("0".into());
                c.extend(s(pick_slice(rng, BAD_SCAN_OPTIONS)));
            }
            c
        }
        82 => {
            // Redis checks the cursor, then the key (a missing key answers an empty
            // scan, a string WRONGTYPE), and only then the options.
            let mut c = s(&["HSCAN", &k]);
            if rng.random_bool(0.4) {
                c.push(pick(rng, BAD_CURSORS).into());
            } else {
                c.push("0".into());
                c.extend(s(pick_slice(rng, BAD_SCAN_OPTIONS)));
                if rng.random_bool(0.3) {
                    c.extend(s(&["TYPE", "string"]));
                }
            }
            c
        }
        // Replies that do not depend on the server's settings. Subcommand errors come
        // before queueing (a transaction with one fails with EXECABORT).
        83 => match rng.random_range(0..8) {
            0 => s(&["CONFIG", "GET", "nosuch"]),
            1 => s(&["CONFIG", "GET", "nosuch*", "NoSuch"]),
            2 => s(&["CONFIG", "GET"]),
            3 => s(&["CONFIG"]),
            4 => s(&["CONFIG", "nosuch"]),
            5 => s(&["CONFIG", "RESETSTAT", "x"]),
            6 => s(&["CONFIG", "resetstat"]),
            _ => s(&["INFO", "nosuch"]),
        },
        _ => s(&["EXISTS", &k]),
    };
    if c.iter().any(|a| a.is_empty()) && c[0] == "KEYS" {
        c[1] = "*".into();
    }
    c
}

fn normalize(cmd: &str, raw: &[u8]) -> Vec<u8> {
    if !unordered(cmd) {
        return raw.to_vec();
    }
    let v = parse(&mut &raw[..]);
    let mut items = match v {
        V::A(items) => items,
        V::Map(pairs) => pairs.into_iter().flat_map(|(a, b)| [a, b]).collect(),
        other => return format!("{other:?}").into_bytes(),
    };
    if cmd == "HGETALL" {
        let mut pairs: Vec<(String, String)> = items
            .chunks(2)
            .map(|p| (format!("{:?}", p[0]), format!("{:?}", p[1])))
            .collect();
        pairs.sort();
        return format!("{pairs:?}").into_bytes();
    }
    items.sort_by_key(|v| format!("{v:?}"));
    format!("{items:?}").into_bytes()
}

/// One step of a case.
#[derive(Debug, Clone)]
enum Step {
    /// One command; replies compared byte for byte (sorted for [`unordered`] ones).
    Cmd(Vec<String>),
    /// Raw inline-protocol bytes and the number of replies they get; `closes`: a
    /// protocol error, after which both servers close the connection.
    Inline {
        bytes: Vec<u8>,
        replies: usize,
        closes: bool,
    },
    /// SCAN or HSCAN (cursor at `args[cursor]`) called until the cursor is 0.
    FullScan { args: Vec<String>, cursor: usize },
    /// `INFO <keyspace>`.
    Info(Vec<String>),
    /// `CONFIG GET ...` of known parameters.
    ConfigGet(Vec<String>),
    /// Client A watches, client B runs `b`, then A runs MULTI, `tx` and `end`.
    Watch {
        watch: Vec<String>,
        b: Vec<Vec<String>>,
        tx: Vec<Vec<String>>,
        end: String,
    },
}

impl Step {
    fn describe(&self) -> String {
        match self {
            Step::Cmd(c) => c.join(" "),
            Step::Inline { bytes, .. } => format!("inline {:?}", String::from_utf8_lossy(bytes)),
            Step::FullScan { args, .. } => format!("{} (to the end)", args.join(" ")),
            Step::Info(c) | Step::ConfigGet(c) => c.join(" "),
            Step::Watch { watch, b, tx, end } => format!(
                "A: {} | B: {} | A: MULTI, {}, {end}",
                watch.join(" "),
                b.iter().map(|c| c.join(" ")).collect::<Vec<_>>().join("; "),
                tx.iter()
                    .map(|c| c.join(" "))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        }
    }
}

fn strings(x: &[&str]) -> Vec<String> {
    x.iter().map(|s| s.to_string()).collect()
}

/// Writes one argument of an inline request bare, "double-quoted" (escapes: `\"`,
/// `\\`, `\n`, `\r`, `\t`, `\a`, `\b`, `\xHH`, and `\` before any other byte is that
/// byte) or 'single-quoted' (only `\'` is an escape).
fn quote_inline(rng: &mut StdRng, a: &str) -> Vec<u8> {
    let bare_ok = !a.is_empty()
        && !a.starts_with(['\x0b', '\x0c'])
        && !a.bytes().any(|b| b" \t\r\n\"'".contains(&b));
    let style = rng.random_range(0..3);
    if style == 0 && bare_ok {
        return a.as_bytes().to_vec();
    }
    if style == 1 && !a.contains(['\\', '\n']) {
        let mut out = vec![b'\''];
        for b in a.bytes() {
            if b == b'\'' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'\'');
        return out;
    }
    let mut out = vec![b'"'];
    for b in a.bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            b'a'..=b'z' if rng.random_bool(0.1) => {
                // A needless escape: the byte itself (except the letters above).
                if b"nrtabx".contains(&b) {
                    out.push(b);
                } else {
                    out.extend_from_slice(&[b'\\', b]);
                }
            }
            0x20..=0x7e if rng.random_bool(0.9) => out.push(b),
            _ if rng.random_bool(0.5) => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
            _ => out.extend_from_slice(format!("\\x{b:02X}").as_bytes()),
        }
    }
    out.push(b'"');
    out
}

/// An inline request: one command as a line of text. No NUL bytes: Redis looks for
/// the end of the line with `strchr`, so a NUL before it leaves Redis waiting for more
/// input (ShaleDB reads up to the newline).
fn inline_step(rng: &mut StdRng, in_multi: bool) -> Step {
    if !in_multi && rng.random_bool(0.1) {
        // Unbalanced quotes, or a closing quote followed by something other than
        // white space: an error, then the server closes the connection.
        let line = pick(
            rng,
            &[
                "SET k0 \"v\"x",
                "SET k0 'v'x",
                "GET \"k0",
                "SET k0 'v",
                "SET k0 \"a\\\"",
                "SET k0 b'c",
                "SET k0 \"v\"\x01",
                "SET k0 '\\\\'",
            ],
        );
        return Step::Inline {
            bytes: format!("{line}\r\n").into_bytes(),
            replies: 1,
            closes: true,
        };
    }
    let k = pick(rng, KEYS);
    let f = pick(rng, FIELDS);
    let v = if rng.random_bool(0.6) {
        pick(rng, INLINE_VALUES)
    } else {
        pick(rng, VALUES)
    };
    let args: Vec<&str> = match rng.random_range(0..7) {
        0 | 1 => vec!["SET", k, v],
        2 => vec!["GET", k],
        3 => vec!["HSET", k, f, v],
        4 => vec!["APPEND", k, v],
        5 => vec!["EXISTS", k, pick(rng, KEYS)],
        _ => vec!["ECHO", v],
    };
    let mut line = Vec::new();
    if rng.random_bool(0.15) {
        // Empty (or blank) lines are skipped without a reply.
        line.extend_from_slice(pick(rng, &["\r\n", "  \r\n", "\x0b\x0c\r\n", "\n"]).as_bytes());
    }
    if rng.random_bool(0.2) {
        line.extend_from_slice(pick(rng, &[" ", "\t", "\x0b", "\x0c", " \x0b "]).as_bytes());
    }
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            line.extend_from_slice(
                pick(rng, &[" ", " ", "  ", "\t", " \x0b", " \x0c\t"]).as_bytes(),
            );
        }
        let a = if i == 0 && rng.random_bool(0.3) {
            a.to_ascii_lowercase()
        } else {
            a.to_string()
        };
        line.extend(quote_inline(rng, &a));
    }
    if rng.random_bool(0.15) {
        // After a bare word `\x0b` is part of it; after a closing quote it is space.
        line.extend_from_slice(pick(rng, &[" ", "\t", "\x0b", "\x0c"]).as_bytes());
    }
    line.extend_from_slice(pick(rng, &["\r\n", "\r\n", "\n"]).as_bytes());
    Step::Inline {
        bytes: line,
        replies: 1,
        closes: false,
    }
}

/// A SCAN, or an HSCAN (half of them right after an HSET of several fields, so
/// that there is something to page through), to be run to the end.
fn scan_steps(rng: &mut StdRng, out: &mut Vec<Step>) {
    let hash = rng.random_bool(0.35);
    // Every one of these starts an iteration in Redis (`strtoul` reads 0).
    let start = pick(rng, &["0", "0", "0", "00", "+0", "-0", ""]);
    let mut args = if hash {
        let k = pick(rng, KEYS);
        if rng.random_bool(0.5) {
            let (v1, v2) = (pick(rng, VALUES), pick(rng, VALUES));
            out.push(Step::Cmd(strings(&[
                "HSET", k, "f0", v1, "f1", "x", "f2", v2,
            ])));
        }
        strings(&["HSCAN", k, start])
    } else {
        strings(&["SCAN", start])
    };
    let cursor = args.len() - 1;
    let mut opts: Vec<Vec<String>> = Vec::new();
    if rng.random_bool(0.5) {
        let p = if hash {
            pick(rng, &["*", "f*", "f[0-1]", "?1", "*2", "nomatch"])
        } else {
            pick(rng, &["*", "k*", "k[0-1]", "?x", "h\\x", "*2", "nomatch*"])
        };
        opts.push(strings(&["MATCH", p]));
    }
    if rng.random_bool(0.6) {
        opts.push(strings(&[
            "COUNT",
            pick(rng, &["1", "2", "3", "10", "1000"]),
        ]));
    }
    if !hash && rng.random_bool(0.4) {
        let t = pick(rng, &["string", "hash", "STRING", "Hash", "list", "none"]);
        opts.push(strings(&["TYPE", t]));
    }
    if rng.random_bool(0.5) {
        opts.reverse();
    }
    args.extend(opts.into_iter().flatten());
    out.push(Step::FullScan { args, cursor });
}

fn config_step(rng: &mut StdRng) -> Step {
    let mut c = strings(&["CONFIG", pick(rng, &["GET", "get"])]);
    for _ in 0..rng.random_range(1..=3) {
        let name = if rng.random_bool(0.25) {
            pick(rng, CONFIG_GLOBS).to_string()
        } else {
            pick(rng, CONFIG_NAMES).to_string()
        };
        // Redis answers an exact name spelled as asked.
        c.push(match rng.random_range(0..4) {
            0 => name.to_ascii_uppercase(),
            1 => {
                let mut n = name.clone();
                n[..1].make_ascii_uppercase();
                n
            }
            _ => name,
        });
    }
    Step::ConfigGet(c)
}

/// A command of client B aimed at the key A watches (writes that do and do not
/// modify it, reads, expiry, another database).
fn touch_watched(rng: &mut StdRng, wk: &str, base: i64) -> Vec<String> {
    let other = pick(rng, KEYS);
    let past = (base - 1000).to_string();
    let future = (base + 300_000_000).to_string();
    match rng.random_range(0..18) {
        0 | 1 => strings(&["SET", wk, "b"]),
        2 => strings(&["DEL", wk]),
        3 => strings(&["PEXPIREAT", wk, &past]),
        4 => strings(&["EXPIRE", wk, "100000"]),
        5 => strings(&["PEXPIREAT", wk, &future]),
        6 => strings(&["PERSIST", wk]),
        7 => strings(&["GET", wk]),
        8 => strings(&["SET", wk, "x", "NX"]),
        9 => strings(&["HSET", wk, "f0", "b"]),
        10 => strings(&["HDEL", wk, "nofield"]),
        11 => strings(&["EXPIRE", wk, "100000", "NX"]),
        12 => strings(&["SELECT", pick(rng, &["0", "1"])]),
        13 => strings(&["RENAME", other, wk]),
        14 => strings(&["RENAME", wk, other]),
        15 => strings(&["SETRANGE", wk, "0", ""]),
        16 => strings(&["FLUSHDB"]),
        _ => strings(&["APPEND", wk, ""]),
    }
}

/// A WATCH step. A watched key expiring by the clock between WATCH and EXEC is not
/// generated (it would take a wait); B's commands expire keys by setting past times.
fn watch_step(rng: &mut StdRng, base: i64) -> Step {
    let mut watch = strings(&["WATCH", pick(rng, KEYS)]);
    if rng.random_bool(0.3) {
        watch.push(pick(rng, KEYS).into());
    }
    let mut b = Vec::new();
    for _ in 0..rng.random_range(0..=2) {
        b.push(if rng.random_bool(0.7) {
            let wk = watch[rng.random_range(1..watch.len())].clone();
            touch_watched(rng, &wk, base)
        } else {
            random_command(rng, false, base)
        });
    }
    let tx = (0..rng.random_range(0..=3))
        .map(|_| random_command(rng, true, base))
        .collect();
    let end = pick(rng, &["EXEC", "EXEC", "EXEC", "DISCARD"]).into();
    Step::Watch { watch, b, tx, end }
}

/// The steps of one case (the same sequence for the one-by-one and the pipelined
/// run, which keeps only the single-connection, reply-per-request steps).
fn case_steps(rng: &mut StdRng, base: i64) -> Vec<Step> {
    let mut out = Vec::new();
    let steps = 80;
    let mut in_multi = false;
    for _ in 0..steps {
        if !in_multi && rng.random_bool(0.06) {
            let step = match rng.random_range(0..10) {
                0..=2 => {
                    scan_steps(rng, &mut out);
                    continue;
                }
                3 => Step::Info(strings(&[
                    "INFO",
                    pick(rng, &["keyspace", "KEYSPACE", "Keyspace"]),
                ])),
                4 => config_step(rng),
                _ => watch_step(rng, base),
            };
            out.push(step);
            continue;
        }
        if rng.random_bool(0.04) {
            out.push(inline_step(rng, in_multi));
            continue;
        }
        let cmd: Vec<String> = if !in_multi && rng.random_bool(0.06) {
            in_multi = true;
            if rng.random_bool(0.5) {
                vec!["WATCH".into(), pick(rng, KEYS).into()]
            } else {
                vec!["MULTI".into()]
            }
        } else if in_multi && rng.random_bool(0.2) {
            in_multi = false;
            vec![pick(rng, &["EXEC", "EXEC", "DISCARD", "MULTI"]).into()]
        } else {
            random_command(rng, in_multi, base)
        };
        if cmd[0] == "WATCH" {
            in_multi = false;
        }
        if cmd[0] == "MULTI" {
            in_multi = true;
        }
        out.push(Step::Cmd(cmd));
    }
    out
}

/// Runs a SCAN/HSCAN from the cursor in `args[at]` until the cursor is 0: the set
/// of elements (keys, or field=value pairs) returned, or the first error reply.
fn full_scan(c: &mut Conn, args: &[String], at: usize) -> Result<BTreeSet<String>, Vec<u8>> {
    let hash = args[0] == "HSCAN";
    let mut args = args.to_vec();
    let mut seen = BTreeSet::new();
    for _ in 0..1000 {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        let raw = c.raw(&a);
        let V::A(reply) = parse(&mut &raw[..]) else {
            return Err(raw);
        };
        let [cursor, V::A(items)] = &reply[..] else {
            panic!("malformed scan reply {:?}", String::from_utf8_lossy(&raw));
        };
        if hash {
            assert!(items.len() % 2 == 0, "odd HSCAN reply {items:?}");
            for p in items.chunks(2) {
                seen.insert(format!("{}={}", p[0].text(), p[1].text()));
            }
        } else {
            seen.extend(items.iter().map(V::text));
        }
        let cursor = cursor.text();
        if cursor == "0" {
            return Ok(seen);
        }
        args[at] = cursor;
    }
    panic!("{} did not reach cursor 0 in 1000 calls", args.join(" "));
}

/// `INFO keyspace` without the `avg_ttl` figures: Redis estimates the average TTL
/// from a sample of keys, ShaleDB reports 0 (see docs/redis.md).
fn keyspace_info(raw: &[u8]) -> String {
    let (kind, text) = match parse(&mut &raw[..]) {
        V::B(b) => ("bulk", String::from_utf8_lossy(&b).into_owned()),
        V::Verb(t) => ("verbatim", t),
        other => return format!("{other:?}"),
    };
    let lines: Vec<String> = text
        .split("\r\n")
        .map(|l| match l.find(",avg_ttl=") {
            Some(i) => format!("{},avg_ttl=*", &l[..i]),
            None => l.to_string(),
        })
        .collect();
    format!("{kind} {lines:?}")
}

/// A CONFIG GET reply as sorted (name, value) pairs: Redis lists them in the order
/// of its internal dictionary. `port` is compared with the port `c` is connected to
/// (the two servers listen on different ones). `appendonly` is masked: ShaleDB is
/// always durable and says `yes`; the Redis here runs without an AOF so that it
/// writes no files.
fn config_reply(c: &Conn, raw: &[u8]) -> String {
    let port = c.r.get_ref().peer_addr().unwrap().port().to_string();
    let (kind, flat) = match parse(&mut &raw[..]) {
        V::A(items) => ("array", items),
        V::Map(pairs) => ("map", pairs.into_iter().flat_map(|(a, b)| [a, b]).collect()),
        other => return format!("{other:?}"),
    };
    let mut pairs: Vec<(String, String)> = flat
        .chunks(2)
        .map(|p| {
            let (name, value) = (p[0].text(), p[1].text());
            let value = if name.eq_ignore_ascii_case("port") && value == port {
                "<own port>".into()
            } else if name.eq_ignore_ascii_case("appendonly") {
                "<masked>".into()
            } else {
                value
            };
            (name, value)
        })
        .collect();
    pairs.sort();
    format!("{kind} {pairs:?}")
}

/// The two servers' connections: A (the main client) and B (the second client of
/// WATCH steps).
struct Clients {
    redis: SocketAddr,
    shale: SocketAddr,
    real: Conn,
    ours: Conn,
    real_b: Conn,
    ours_b: Conn,
}

impl Clients {
    fn new(redis: SocketAddr, shale: SocketAddr) -> Clients {
        Clients {
            redis,
            shale,
            real: Conn::connect(redis),
            ours: Conn::connect(shale),
            real_b: Conn::connect(redis),
            ours_b: Conn::connect(shale),
        }
    }

    /// New A connections (fresh state: database 0, no MULTI, no watches).
    fn reconnect(&mut self, proto: u8) {
        self.real = Conn::connect(self.redis);
        self.ours = Conn::connect(self.shale);
        if proto == 3 {
            for c in [&mut self.real, &mut self.ours] {
                let _ = c.cmd(&["HELLO", "3"]);
            }
        }
    }
}

fn raw_cmd(c: &mut Conn, cmd: &[String]) -> Vec<u8> {
    let args: Vec<&[u8]> = cmd.iter().map(|s| s.as_bytes()).collect();
    c.raw(&args)
}

struct Run {
    seed: u64,
    proto: u8,
    history: Vec<String>,
}

impl Run {
    fn check(&self, what: &str, redis: &[u8], shale: &[u8]) {
        if redis != shale {
            let start = self.history.len().saturating_sub(25);
            panic!(
                "seed {} proto {}: divergence on `{what}`\nredis: {:?}\nshale: {:?}\nhistory:\n{}",
                self.seed,
                self.proto,
                String::from_utf8_lossy(redis),
                String::from_utf8_lossy(shale),
                self.history[start..].join("\n")
            );
        }
    }

    /// Sends one command to both servers (on A, or on B) and compares the replies.
    fn cmd(&self, cl: &mut Clients, on_b: bool, cmd: &[String]) {
        let (real, ours) = if on_b {
            (&mut cl.real_b, &mut cl.ours_b)
        } else {
            (&mut cl.real, &mut cl.ours)
        };
        let (a, b) = (raw_cmd(real, cmd), raw_cmd(ours, cmd));
        let name = cmd[0].to_ascii_uppercase();
        let what = if on_b {
            format!("B: {}", cmd.join(" "))
        } else {
            cmd.join(" ")
        };
        self.check(&what, &normalize(&name, &a), &normalize(&name, &b));
    }

    fn step(&mut self, cl: &mut Clients, step: &Step) {
        self.history.push(step.describe());
        let what = step.describe();
        match step {
            Step::Cmd(cmd) => self.cmd(cl, false, cmd),
            Step::Inline {
                bytes,
                replies,
                closes,
            } => {
                cl.real.send(bytes);
                cl.ours.send(bytes);
                for _ in 0..*replies {
                    let (a, b) = (cl.real.read_raw(), cl.ours.read_raw());
                    self.check(&what, &a, &b);
                }
                if *closes {
                    assert!(cl.real.closed(), "redis kept the connection: {what}");
                    assert!(cl.ours.closed(), "shale kept the connection: {what}");
                    cl.reconnect(self.proto);
                }
            }
            Step::FullScan { args, cursor } => {
                let a = full_scan(&mut cl.real, args, *cursor);
                let b = full_scan(&mut cl.ours, args, *cursor);
                self.check(
                    &what,
                    format!("{a:?}").as_bytes(),
                    format!("{b:?}").as_bytes(),
                );
            }
            Step::Info(cmd) => {
                let (a, b) = (raw_cmd(&mut cl.real, cmd), raw_cmd(&mut cl.ours, cmd));
                self.check(
                    &what,
                    keyspace_info(&a).as_bytes(),
                    keyspace_info(&b).as_bytes(),
                );
            }
            Step::ConfigGet(cmd) => {
                let (a, b) = (raw_cmd(&mut cl.real, cmd), raw_cmd(&mut cl.ours, cmd));
                let (a, b) = (config_reply(&cl.real, &a), config_reply(&cl.ours, &b));
                self.check(&what, a.as_bytes(), b.as_bytes());
            }
            Step::Watch { watch, b, tx, end } => {
                self.cmd(cl, false, watch);
                for c in b {
                    self.cmd(cl, true, c);
                }
                self.cmd(cl, false, &strings(&["MULTI"]));
                for c in tx {
                    self.cmd(cl, false, c);
                }
                self.cmd(cl, false, std::slice::from_ref(end));
            }
        }
    }
}

fn run_case(seed: u64, proto: u8, base: i64, cl: &mut Clients) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut run = Run {
        seed,
        proto,
        history: Vec::new(),
    };
    for c in [&mut cl.real, &mut cl.ours] {
        assert_eq!(c.cmd(&["FLUSHALL"]), V::ok());
        assert_eq!(c.cmd(&["SELECT", "0"]), V::ok());
        if proto == 3 {
            let _ = c.cmd(&["HELLO", "3"]);
        }
    }
    for c in [&mut cl.real_b, &mut cl.ours_b] {
        assert_eq!(c.cmd(&["SELECT", "0"]), V::ok());
    }
    for step in case_steps(&mut rng, base) {
        run.step(cl, &step);
    }
    for c in [&mut cl.real, &mut cl.ours] {
        let _ = c.cmd(&["DISCARD"]);
        let _ = c.cmd(&["UNWATCH"]);
    }
}

#[test]
fn random_sequences_match_real_redis() {
    let redis = RealRedis::start();
    let mut probe = Conn::connect(redis.addr);
    // The Redis here runs without an AOF; say `no` like the test server does.
    assert_eq!(probe.cmd(&["CONFIG", "SET", "appendfsync", "no"]), V::ok());
    // Redis lowers maxclients when the open-file limit is low: give ShaleDB the same.
    let max_clients = probe.cmd(&["CONFIG", "GET", "maxclients"]).items()[1]
        .text()
        .parse()
        .unwrap();
    let server = TestServer::with(Setup {
        limits: shale_server::Limits {
            max_clients,
            ..Default::default()
        },
        ..Setup::default()
    });
    let base = base_ms();
    let mut cl = Clients::new(redis.addr, server.addr);
    let cases: u64 = std::env::var("DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    for case in 0..cases {
        let proto = if case % 4 == 3 { 3 } else { 2 };
        if proto == 3 {
            cl.reconnect(2);
        }
        run_case(0x5EED_0000 + case, proto, base, &mut cl);
        if proto == 3 {
            cl.reconnect(2);
        }
    }
}

/// The same sequences sent as one pipeline per case: the server runs consecutive
/// data commands of a pipeline as one unit (one lock plan, one engine write), and the
/// replies must still be exactly Redis's. Steps that need replies before the next
/// request (full scans, two clients) or close the connection are left out.
#[test]
fn pipelined_sequences_match_real_redis() {
    let redis = RealRedis::start();
    let server = TestServer::start();
    let base = base_ms();
    let cases: u64 = std::env::var("DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(150, |n: u64| n / 2);
    for case in 0..cases {
        let mut real = Conn::connect(redis.addr);
        let mut ours = server.conn();
        for c in [&mut real, &mut ours] {
            assert_eq!(c.cmd(&["FLUSHALL"]), V::ok());
        }
        let seed = 0x9199_0000 + case;
        let mut pipeline = Vec::new();
        // (description, command name, replies) per request.
        let mut sent: Vec<(String, String, usize)> = Vec::new();
        for step in case_steps(&mut StdRng::seed_from_u64(seed), base) {
            match &step {
                Step::Cmd(cmd) => {
                    let args: Vec<&[u8]> = cmd.iter().map(|s| s.as_bytes()).collect();
                    pipeline.extend(frame(&args));
                    sent.push((step.describe(), cmd[0].to_ascii_uppercase(), 1));
                }
                Step::Inline {
                    bytes,
                    replies,
                    closes: false,
                } => {
                    pipeline.extend_from_slice(bytes);
                    sent.push((step.describe(), String::new(), *replies));
                }
                _ => {}
            }
        }
        real.send(&pipeline);
        ours.send(&pipeline);
        for (i, (what, name, replies)) in sent.iter().enumerate() {
            for _ in 0..*replies {
                let (a, b) = (real.read_raw(), ours.read_raw());
                assert_eq!(
                    String::from_utf8_lossy(&normalize(name, &a)),
                    String::from_utf8_lossy(&normalize(name, &b)),
                    "seed {seed}: pipelined request {i} `{what}` diverges; pipeline:\n{}",
                    sent[..=i]
                        .iter()
                        .map(|s| s.0.as_str())
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
        }
    }
}
