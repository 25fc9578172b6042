//! Runs `shale serve` as a child process for the server tests.

#![allow(dead_code)] // each test file uses a different part

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// `shale serve` arguments for the Redis and memcached front ends on free ports.
pub const REDIS_AND_MEMCACHE: [&str; 6] = [
    "--protocols",
    "redis,memcache",
    "--redis",
    "127.0.0.1:0",
    "--memcache",
    "127.0.0.1:0",
];

/// A running `shale serve`; killed with SIGKILL if still running when dropped.
pub struct Server {
    child: Child,
    /// Bound address per endpoint (`redis`, `memcache`, `admin`).
    pub addrs: BTreeMap<String, SocketAddr>,
}

impl Server {
    /// Starts `shale --db DIR serve ARGS…` and waits for its `ready` line.
    pub fn start(db: &Path, args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_shale"))
            .arg("--db")
            .arg(db)
            .arg("serve")
            .args(args)
            .env("SHALE_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn shale serve");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut addrs = BTreeMap::new();
        loop {
            let line = match lines.next() {
                Some(l) => l.unwrap(),
                None => panic!("shale serve exited before `ready`: {:?}", child.wait()),
            };
            if line == "ready" {
                break;
            }
            let mut parts = line.split(' ');
            if let (Some("listening"), Some(what), Some(addr)) =
                (parts.next(), parts.next(), parts.next())
            {
                addrs.insert(what.to_string(), addr.parse().unwrap());
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, addrs }
    }

    /// The address of one endpoint.
    pub fn addr(&self, what: &str) -> SocketAddr {
        *self
            .addrs
            .get(what)
            .unwrap_or_else(|| panic!("no {what} endpoint: {:?}", self.addrs))
    }

    /// Sends a signal by name (`TERM`, `INT`, `KILL`).
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name} failed");
    }

    /// Waits for the process to exit (at most `limit`).
    pub fn wait(mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "shale serve did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, then wait.
    pub fn kill9(self) {
        self.signal("KILL");
        let _ = self.wait(Duration::from_secs(10));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` over HTTP/1.1; returns (status code, body).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http(addr, "GET", path, &[], "")
}

/// One HTTP/1.1 request with extra header lines; returns (status code, body).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
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

/// A line-oriented connection to a text protocol (RESP replies, memcached lines).
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    /// Connects with a 10 s read timeout.
    pub fn connect(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Conn {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        }
    }

    /// The buffered reader, for tests that read raw lines.
    pub fn reader(&mut self) -> &mut BufReader<TcpStream> {
        &mut self.reader
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
    }

    /// Reads one CRLF-terminated line (without the CRLF).
    pub fn line(&mut self) -> String {
        let mut l = String::new();
        self.reader.read_line(&mut l).unwrap();
        assert!(l.ends_with("\r\n"), "incomplete line {l:?}");
        l.truncate(l.len() - 2);
        l
    }

    /// Sends a Redis command as a RESP array.
    pub fn redis(&mut self, args: &[&str]) {
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.send(out.as_bytes());
    }

    /// Reads one RESP2 reply of the simple kinds (status, error, integer, bulk,
    /// nil), rendered as text: `+OK`, `-ERR …`, `:1`, the bulk's bytes, or `(nil)`.
    pub fn reply(&mut self) -> String {
        let head = self.line();
        match head.as_bytes().first() {
            Some(b'$') if head == "$-1" => "(nil)".into(),
            Some(b'$') => {
                let n: usize = head[1..].parse().unwrap();
                let mut buf = vec![0u8; n + 2];
                self.reader.read_exact(&mut buf).unwrap();
                buf.truncate(n);
                String::from_utf8(buf).unwrap()
            }
            _ => head,
        }
    }

    /// Sends a Redis command and reads its reply.
    pub fn call(&mut self, args: &[&str]) -> String {
        self.redis(args);
        self.reply()
    }
}
