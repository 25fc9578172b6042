//! A fixed `redis-benchmark`-shaped workload through the whole Redis command path
//! (parse, run, reply; no socket), to count its instructions under
//! `valgrind --tool=callgrind`, which gives the same figures on every run however
//! busy the machine is. One client sends `SET key:%012d <100 bytes>` for random keys
//! in pipelines of 16 (`-P 16 -d 100 -r N`), then as many `GET`s; about a third of
//! the GETs miss. Each phase is counted on its own:
//!
//! ```text
//! cargo build --release -p shale-resp --example pipeline
//! valgrind --tool=callgrind --toggle-collect='pipeline::sets' \
//!     target/release/examples/pipeline 200000
//! valgrind --tool=callgrind --toggle-collect='pipeline::gets' \
//!     target/release/examples/pipeline 200000
//! ```

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use shale_resp::RedisConfig;
use shale_resp::connection::process;
use shale_resp::session::Session;
use shale_resp::store::Server;
use shale_server::{Context, Limits, SyncPolicy};
use shaledb::{Db, Options};

/// Commands per pipeline, as `redis-benchmark -P 16`.
const PIPELINE: usize = 16;

fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
    move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Appends `*n\r\n` and the bulk strings of one command.
fn frame(buf: &mut Vec<u8>, args: &[&[u8]]) {
    buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

/// The pipelines of one phase, encoded before counting starts.
fn pipelines(n: usize, seed: u64, value: Option<&[u8]>) -> Vec<Vec<u8>> {
    let mut rng = xorshift(seed);
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for i in 0..n {
        let key = format!("key:{:012}", rng() % n as u64);
        match value {
            Some(v) => frame(&mut cur, &[b"SET", key.as_bytes(), v]),
            None => frame(&mut cur, &[b"GET", key.as_bytes()]),
        }
        if (i + 1) % PIPELINE == 0 || i + 1 == n {
            out.push(std::mem::take(&mut cur));
        }
    }
    out
}

/// Feeds every pipeline through `process` as one read; returns the reply bytes.
fn drive(srv: &Server, sess: &mut Session, input: &[Vec<u8>]) -> usize {
    let mut inbuf = BytesMut::with_capacity(16 * 1024);
    let mut out = Vec::new();
    let mut need = 1;
    let mut replied = 0;
    for p in input {
        inbuf.extend_from_slice(p);
        assert!(!process(srv, sess, &mut inbuf, &mut out, &mut need));
        replied += out.len();
        out.clear();
    }
    replied
}

/// The counted SET phase.
#[inline(never)]
fn sets(srv: &Server, sess: &mut Session, input: &[Vec<u8>]) -> usize {
    drive(srv, sess, input)
}

/// The counted GET phase. (`black_box` keeps the compiler from folding it and
/// `sets` into one function, which would count both phases under either name.)
#[inline(never)]
fn gets(srv: &Server, sess: &mut Session, input: &[Vec<u8>]) -> usize {
    std::hint::black_box(drive(srv, sess, input))
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("request count"))
        .unwrap_or(200_000);
    let dir = tempfile::tempdir().unwrap();
    // A small memtable, so that the GETs find most keys in tables as they do after
    // a long `redis-benchmark` run.
    let opts = Options {
        write_buffer_size: 4 << 20,
        block_cache_size: 256 << 20,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts).unwrap();
    let ctx = Context::new(db.clone(), Limits::default(), SyncPolicy::Everysec);
    let guard = ctx
        .clients
        .register(
            "redis",
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:6379".parse().unwrap(),
            usize::MAX,
        )
        .unwrap();
    let srv = Server::new(ctx, RedisConfig::default());
    let mut sess = Session::new(guard, true);
    let value = [b'x'; 100];
    let set_input = pipelines(n, 3, Some(&value));
    let get_input = pipelines(n, 7, None);
    let set_bytes = sets(&srv, &mut sess, &set_input);
    db.flush().unwrap();
    db.wait_for_compactions().unwrap();
    let get_bytes = gets(&srv, &mut sess, &get_input);
    println!("{n} SETs: {set_bytes} reply bytes; {n} GETs: {get_bytes} reply bytes");
}
