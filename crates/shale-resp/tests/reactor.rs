//! Commands that may scan an unbounded range must not run on the tokio reactor.
//!
//! The server runs on a multi-threaded runtime with ONE worker thread, and a test
//! hook parks the command under test inside the server until another client's
//! PING has been answered. Off the reactor (`Context::blocking`), the worker's
//! other tasks move to another thread and the PING is answered while the command
//! is parked; on the reactor nothing else can run on the only worker until the
//! command returns, so the PING cannot be answered and the hook gives up after its
//! guard timeout. The outcome does not depend on timing: with one worker the PING
//! either can or cannot be answered while the command is parked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use common::*;
use shale_resp::store::TestHooks;

/// Where the hook parks and what it saw.
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    cv: Condvar,
}

#[derive(Default)]
struct GateState {
    /// The command to park (once), lower case.
    park_on: Option<String>,
    /// The guard: how long a parked command waits for the PING.
    guard: Duration,
    /// A command is parked now.
    parked: bool,
    /// The test answered PING while the command was parked.
    pinged: bool,
    /// Outcome of the last park: Some(true) if the PING was answered meanwhile.
    outcome: Option<bool>,
}

impl Gate {
    fn hook(self: &Arc<Self>) -> TestHooks {
        let gate = Arc::clone(self);
        TestHooks {
            before_command: Some(Arc::new(move |name: &str| gate.before(name))),
        }
    }

    fn before(&self, name: &str) {
        let mut st = self.state.lock().unwrap();
        if st.park_on.as_deref() != Some(name) {
            return;
        }
        st.park_on = None;
        st.parked = true;
        st.pinged = false;
        self.cv.notify_all();
        let guard = st.guard;
        let (mut st, _) = self
            .cv
            .wait_timeout_while(st, guard, |s| !s.pinged)
            .unwrap();
        st.outcome = Some(st.pinged);
        st.parked = false;
        self.cv.notify_all();
    }

    fn arm(&self, name: &str, guard: Duration) {
        let mut st = self.state.lock().unwrap();
        st.park_on = Some(name.to_string());
        st.guard = guard;
        st.outcome = None;
    }

    fn wait_parked(&self) {
        let st = self.state.lock().unwrap();
        let (st, timeout) = self
            .cv
            .wait_timeout_while(st, Duration::from_secs(20), |s| {
                !s.parked && s.outcome.is_none()
            })
            .unwrap();
        assert!(!timeout.timed_out(), "the command never reached the hook");
        drop(st);
    }

    fn pinged(&self) {
        self.state.lock().unwrap().pinged = true;
        self.cv.notify_all();
    }

    fn outcome(&self) -> bool {
        let st = self.state.lock().unwrap();
        let (st, _) = self
            .cv
            .wait_timeout_while(st, Duration::from_secs(20), |s| s.outcome.is_none())
            .unwrap();
        st.outcome.expect("the parked command never finished")
    }
}

/// Sends `setup` then `cmds` (in one write) on a fresh connection, parking the
/// command `park` when the server reaches it, and answers whether another
/// client's PING was answered while it was parked. `guard` bounds the park.
fn pinged_while_parked(
    s: &TestServer,
    gate: &Arc<Gate>,
    setup: &[&[&str]],
    cmds: &[&[&str]],
    park: &str,
    guard: Duration,
) -> bool {
    let mut other = s.conn();
    assert_eq!(other.cmd(&["PING"]), V::S("PONG".into()));
    let mut c = s.conn();
    for cmd in setup {
        let r = c.cmd(cmd);
        assert!(!matches!(r, V::E(_)), "{cmd:?}: {r:?}");
    }
    gate.arm(park, guard);
    let mut buf = Vec::new();
    for cmd in cmds {
        let a: Vec<&[u8]> = cmd.iter().map(|s| s.as_bytes()).collect();
        buf.extend(frame(&a));
    }
    let n = cmds.len();
    let client = std::thread::spawn(move || {
        c.send(&buf);
        (0..n).map(|_| c.read()).collect::<Vec<_>>()
    });
    gate.wait_parked();
    // Answered at once off the reactor; only after the guard on it.
    assert_eq!(other.cmd(&["PING"]), V::S("PONG".into()));
    gate.pinged();
    let ok = gate.outcome();
    let replies = client.join().unwrap();
    for (cmd, r) in cmds.iter().zip(&replies) {
        assert!(!matches!(r, V::E(_)), "{cmd:?}: {r:?}");
    }
    ok
}

fn server(gate: &Arc<Gate>) -> TestServer {
    TestServer::with(Setup {
        worker_threads: 1,
        hooks: gate.hook(),
        ..Setup::default()
    })
}

const DATA: &[&[&str]] = &[&["SET", "s", "v"], &["HSET", "h", "f", "v", "g", "w"]];

/// (commands sent together, command the hook parks).
#[rustfmt::skip]
const OFF_REACTOR: &[(&[&[&str]], &str)] = &[
    (&[&["KEYS", "*"]], "keys"),
    (&[&["SCAN", "0", "COUNT", "1000"]], "scan"),
    (&[&["RANDOMKEY"]], "randomkey"),
    (&[&["DBSIZE"]], "dbsize"),
    (&[&["INFO"]], "info"),
    (&[&["HGETALL", "h"]], "hgetall"),
    (&[&["HKEYS", "h"]], "hkeys"),
    (&[&["HVALS", "h"]], "hvals"),
    (&[&["HSCAN", "h", "0"]], "hscan"),
    (&[&["HRANDFIELD", "h", "-5"]], "hrandfield"),
    (&[&["COPY", "h", "h2", "REPLACE"]], "copy"),
    (&[&["RENAME", "h2", "h3"]], "rename"),
    (&[&["RENAMENX", "h3", "h4"]], "renamenx"),
    // A pipelined run with one scanning command runs off the reactor as a whole.
    (&[&["GET", "s"], &["HGETALL", "h"]], "get"),
    // EXEC runs its whole queue off the reactor, however cheap each command is.
    (&[&["MULTI"], &["GET", "s"], &["SET", "t", "1"], &["EXEC"]], "set"),
    (&[&["FLUSHDB"]], "flushdb"),
    (&[&["FLUSHALL"]], "flushall"),
];

#[test]
fn scanning_commands_leave_the_reactor_free() {
    let gate = Arc::new(Gate::default());
    let s = server(&gate);
    for (cmds, park) in OFF_REACTOR {
        // The guard only bounds a failure: a pass never waits for it.
        assert!(
            pinged_while_parked(&s, &gate, DATA, cmds, park, Duration::from_secs(10)),
            "{cmds:?} ran on the reactor: another client's PING waited for it"
        );
    }
}

/// The harness detects a command that runs on the reactor, and the point
/// commands do: handing the worker off per GET/SET/HSET would cost throughput.
#[test]
fn point_commands_run_inline() {
    let gate = Arc::new(Gate::default());
    let s = server(&gate);
    for (cmds, park) in [
        (&[&["GET", "s"][..]][..], "get"),
        (&[&["SET", "s", "w"]], "set"),
        (&[&["HSET", "h", "f", "x"]], "hset"),
        (
            &[&["GET", "s"], &["SET", "t", "1"], &["HGET", "h", "f"]],
            "hget",
        ),
    ] {
        // While the command is parked inline the PING cannot be answered at all,
        // so the (short) guard always expires: no race with the timeout.
        assert!(
            !pinged_while_parked(&s, &gate, DATA, cmds, park, Duration::from_millis(200)),
            "{cmds:?} ran off the reactor"
        );
    }
}
