//! Test harness: an in-process Redis front end on 127.0.0.1:0 and a raw RESP client.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use shale_resp::RedisConfig;
use shale_server::{Context, Limits, SyncPolicy};
use shaledb::{Db, ManualClock, Options};

/// A running server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub ctx: Context,
    pub clock: Option<Arc<ManualClock>>,
    rt: Option<tokio::runtime::Runtime>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub dir: Arc<tempfile::TempDir>,
}

/// What to start a server with.
#[derive(Default)]
pub struct Setup {
    pub config: RedisConfig,
    pub limits: Limits,
    pub manual_clock: bool,
    pub dir: Option<Arc<tempfile::TempDir>>,
    /// A file system to open the Db on (at `/db`) instead of the temp dir.
    pub fs: Option<Arc<dyn shaledb::FileSystem>>,
    /// Tokio worker threads (0: 4).
    pub worker_threads: usize,
    /// Callbacks from inside the server.
    pub hooks: shale_resp::store::TestHooks,
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::with(Setup::default())
    }

    pub fn with(setup: Setup) -> TestServer {
        let dir = setup
            .dir
            .unwrap_or_else(|| Arc::new(tempfile::tempdir().unwrap()));
        let clock = setup
            .manual_clock
            .then(|| Arc::new(ManualClock::new(1_700_000_000_000)));
        let mut opts = Options::default();
        if let Some(c) = &clock {
            opts.clock = c.clone();
        }
        let db = match setup.fs {
            Some(fs) => {
                opts.fs = fs;
                Db::open("/db", opts).unwrap()
            }
            None => Db::open(dir.path().join("db"), opts).unwrap(),
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(if setup.worker_threads == 0 {
                4
            } else {
                setup.worker_threads
            })
            .enable_all()
            .build()
            .unwrap();
        let ctx = Context::new(db, setup.limits, SyncPolicy::No);
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = rt.spawn(shale_resp::serve_with_hooks(
            listener,
            ctx.clone(),
            setup.config,
            setup.hooks,
        ));
        TestServer {
            addr,
            ctx,
            clock,
            rt: Some(rt),
            handle: Some(handle),
            dir,
        }
    }

    pub fn conn(&self) -> Conn {
        Conn::connect(self.addr)
    }

    /// Starts the admin HTTP endpoint (`/metrics`, `/health`) on this server's
    /// context; returns its address.
    pub fn admin(&self) -> SocketAddr {
        let rt = self.rt.as_ref().unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(shale_server::serve_admin(listener, self.ctx.clone()));
        addr
    }

    /// Triggers shutdown and waits for `serve` to return.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.ctx.shutdown.trigger();
        if let (Some(rt), Some(h)) = (self.rt.take(), self.handle.take()) {
            let r = rt.block_on(async { tokio::time::timeout(Duration::from_secs(20), h).await });
            r.expect("serve did not return after shutdown")
                .unwrap()
                .unwrap();
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.rt.is_some() {
            self.ctx.shutdown.trigger();
            if let Some(rt) = self.rt.take() {
                rt.shutdown_timeout(Duration::from_secs(5));
            }
        }
    }
}

/// A decoded reply.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    S(String),
    E(String),
    I(i64),
    B(Vec<u8>),
    Nil,
    A(Vec<V>),
    NilA,
    Map(Vec<(V, V)>),
    Set(Vec<V>),
    D(String),
    Verb(String),
    Null,
}

impl V {
    pub fn b(s: &str) -> V {
        V::B(s.as_bytes().to_vec())
    }
    pub fn ok() -> V {
        V::S("OK".into())
    }
    pub fn arr(items: &[&str]) -> V {
        V::A(items.iter().map(|s| V::b(s)).collect())
    }
    pub fn text(&self) -> String {
        match self {
            V::B(b) => String::from_utf8_lossy(b).into_owned(),
            V::S(s) | V::E(s) | V::Verb(s) | V::D(s) => s.clone(),
            other => format!("{other:?}"),
        }
    }
    pub fn int(&self) -> i64 {
        match self {
            V::I(i) => *i,
            other => panic!("not an integer: {other:?}"),
        }
    }
    pub fn items(&self) -> Vec<V> {
        match self {
            V::A(v) | V::Set(v) => v.clone(),
            other => panic!("not an array: {other:?}"),
        }
    }
}

/// A blocking raw RESP client.
pub struct Conn {
    pub r: BufReader<TcpStream>,
}

/// Encodes a command as a multibulk frame.
pub fn frame(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

impl Conn {
    pub fn connect(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.set_nodelay(true).unwrap();
        Conn {
            r: BufReader::new(s),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.r.get_mut().write_all(bytes).unwrap();
    }

    pub fn send_cmd(&mut self, args: &[&str]) {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.send(&frame(&a));
    }

    /// Sends a command and returns the raw bytes of its reply.
    pub fn raw(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(&frame(args));
        self.read_raw()
    }

    pub fn cmd(&mut self, args: &[&str]) -> V {
        self.send_cmd(args);
        self.read()
    }

    pub fn read(&mut self) -> V {
        let raw = self.read_raw();
        parse(&mut &raw[..])
    }

    /// Reads one complete reply, returning its bytes.
    pub fn read_raw(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.read_into(&mut out);
        out
    }

    fn read_into(&mut self, out: &mut Vec<u8>) {
        let mut line = Vec::new();
        let n = self.r.read_until(b'\n', &mut line).unwrap();
        assert!(n > 0, "connection closed while reading a reply");
        out.extend_from_slice(&line);
        let body = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
        match line[0] {
            b'$' | b'=' | b'!' => {
                let len: i64 = body.parse().unwrap();
                if len >= 0 {
                    let mut b = vec![0; len as usize + 2];
                    self.r.read_exact(&mut b).unwrap();
                    out.extend_from_slice(&b);
                }
            }
            b'*' | b'~' | b'>' => {
                let len: i64 = body.parse().unwrap();
                for _ in 0..len.max(0) {
                    self.read_into(out);
                }
            }
            b'%' | b'|' => {
                let len: i64 = body.parse().unwrap();
                for _ in 0..len.max(0) * 2 {
                    self.read_into(out);
                }
            }
            _ => {}
        }
    }

    /// True if the server closed the connection (reads EOF or a reset).
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.r.read(&mut b), Ok(0) | Err(_))
    }
}

/// Parses one reply from raw bytes.
pub fn parse(r: &mut &[u8]) -> V {
    let nl = r.iter().position(|&b| b == b'\n').unwrap();
    let line = &r[..nl - 1];
    *r = &r[nl + 1..];
    let body = String::from_utf8_lossy(&line[1..]).into_owned();
    match line[0] {
        b'+' => V::S(body),
        b'-' => V::E(body),
        b':' => V::I(body.parse().unwrap()),
        b'_' => V::Null,
        b',' => V::D(body),
        b'$' | b'=' => {
            let len: i64 = body.parse().unwrap();
            if len < 0 {
                return V::Nil;
            }
            let data = r[..len as usize].to_vec();
            *r = &r[len as usize + 2..];
            if line[0] == b'=' {
                V::Verb(String::from_utf8_lossy(&data[4..]).into_owned())
            } else {
                V::B(data)
            }
        }
        b'*' | b'~' => {
            let len: i64 = body.parse().unwrap();
            if len < 0 {
                return V::NilA;
            }
            let items = (0..len).map(|_| parse(r)).collect();
            if line[0] == b'~' {
                V::Set(items)
            } else {
                V::A(items)
            }
        }
        b'%' => {
            let len: i64 = body.parse().unwrap();
            V::Map((0..len).map(|_| (parse(r), parse(r))).collect())
        }
        other => panic!("unknown reply type {other}"),
    }
}

/// `GET path` over HTTP/1.1; returns (status code, body).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Waits for `cond` with a deadline (no fixed sleeps).
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::yield_now();
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub mod redis;
