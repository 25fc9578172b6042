//! A memcache front end served in-process for tests, and a blocking client.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shale_memcache::MemcacheConfig;
use shale_server::{Context, Limits, SyncPolicy};
use shaledb::{Db, ManualClock, MemFs, Options};

/// A running server; shuts down (and waits for it) on drop.
pub struct Server {
    pub addr: SocketAddr,
    pub ctx: Context,
    pub clock: Arc<ManualClock>,
    rt: Option<tokio::runtime::Runtime>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// A fixed, realistic "now" for the manual clock (2026-01-01T00:00:00Z).
pub const START_MS: u64 = 1_767_225_600_000;

impl Server {
    pub fn start(dir: &Path) -> Server {
        Server::start_with(dir, Limits::default(), MemcacheConfig::default())
    }

    pub fn start_with(dir: &Path, limits: Limits, config: MemcacheConfig) -> Server {
        Server::open(dir, Options::default(), limits, config)
    }

    /// A server whose Db lives at `/db` on `fs` (e.g. to pull the disk away from
    /// under it with `MemFs::crash`).
    pub fn start_on(fs: MemFs) -> Server {
        let opts = Options {
            fs: Arc::new(fs),
            ..Options::default()
        };
        Server::open(
            Path::new("/db"),
            opts,
            Limits::default(),
            MemcacheConfig::default(),
        )
    }

    fn open(dir: &Path, opts: Options, limits: Limits, config: MemcacheConfig) -> Server {
        let clock = Arc::new(ManualClock::new(START_MS));
        let db = Db::open(
            dir,
            Options {
                clock: clock.clone(),
                ..opts
            },
        )
        .expect("open db");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let ctx = Context::new(db, limits, SyncPolicy::No);
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let config = MemcacheConfig {
            addr: addr.to_string(),
            ..config
        };
        let task = rt.spawn(shale_memcache::serve(listener, ctx.clone(), config));
        Server {
            addr,
            ctx,
            clock,
            rt: Some(rt),
            task: Some(task),
        }
    }

    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Starts the admin HTTP endpoint on this server's context; returns its address.
    pub fn admin(&self) -> SocketAddr {
        let rt = self.rt.as_ref().expect("running");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        rt.spawn(shale_server::serve_admin(listener, self.ctx.clone()));
        addr
    }

    /// Triggers shutdown and waits until every connection is done.
    pub fn stop(&mut self) {
        self.ctx.shutdown.trigger();
        if let (Some(rt), Some(task)) = (self.rt.as_ref(), self.task.take()) {
            let r = rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(20), task).await })
                .expect("serve returned in time");
            r.expect("join").expect("serve");
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.stop();
        } else {
            self.ctx.shutdown.trigger();
        }
    }
}

/// A blocking client with a read timeout.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, data: impl AsRef<[u8]>) {
        self.stream.write_all(data.as_ref()).expect("send");
    }

    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 65536];
        match self.stream.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) => panic!(
                "read failed: {e} (buffered: {:?})",
                String::from_utf8_lossy(&self.buf)
            ),
        }
    }

    /// Reads exactly `n` bytes.
    pub fn read_n(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(
                self.fill(),
                "connection closed; wanted {n} bytes, have {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
        self.buf.drain(..n).collect()
    }

    /// Reads one line including its CRLF.
    pub fn line(&mut self) -> String {
        loop {
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let l: Vec<u8> = self.buf.drain(..p + 2).collect();
                return String::from_utf8_lossy(&l).into_owned();
            }
            assert!(
                self.fill(),
                "connection closed mid-line: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    /// Asserts that the next bytes are exactly `expected`.
    #[track_caller]
    pub fn expect(&mut self, expected: impl AsRef<[u8]>) {
        let expected = expected.as_ref();
        let got = self.read_n(expected.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected)
        );
    }

    /// Sends `req` and asserts the reply is `expected`.
    #[track_caller]
    pub fn roundtrip(&mut self, req: impl AsRef<[u8]>, expected: impl AsRef<[u8]>) {
        self.send(req);
        self.expect(expected);
    }

    /// `gets key` → (flags, data, cas), or None on a miss.
    pub fn gets(&mut self, key: &str) -> Option<(u32, Vec<u8>, u64)> {
        self.send(format!("gets {key}\r\n"));
        let l = self.line();
        if l == "END\r\n" {
            return None;
        }
        let parts: Vec<&str> = l.trim_end().split(' ').collect();
        assert_eq!(parts[0], "VALUE", "{l}");
        let len: usize = parts[3].parse().unwrap();
        let data = self.read_n(len);
        assert_eq!(self.read_n(2), b"\r\n");
        self.expect("END\r\n");
        Some((parts[2].parse().unwrap(), data, parts[4].parse().unwrap()))
    }

    /// Waits (up to a deadline) for the server to close the connection; returns
    /// whatever was received before.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            assert!(
                Instant::now() < deadline,
                "server did not close the connection"
            );
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return std::mem::take(&mut self.buf),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    return std::mem::take(&mut self.buf);
                }
                Err(e) => panic!("read failed: {e}"),
            }
        }
    }
}

/// `GET path` over HTTP/1.1; returns (status code, body).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
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
