//! Connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT, CLIENT.

use bytes::Bytes;

use super::{Cx, is};
use crate::exec::{CmdResult, fail};
use crate::resp::Reply;

fn arg(args: &[Bytes], i: usize) -> &[u8] {
    args.get(i).map_or(&[][..], |a| a.as_ref())
}

/// `PING [message]`.
pub fn ping(_cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    match args.len() {
        1 => Ok(Reply::Simple("PONG")),
        2 => Ok(Reply::Bulk(args.get(1).cloned().unwrap_or_default())),
        _ => fail(&super::wrong_args("ping")),
    }
}

/// `ECHO message`.
pub fn echo(_cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::Bulk(args.get(1).cloned().unwrap_or_default()))
}

/// `QUIT`: replies OK, then the connection closes.
pub fn quit(cx: &mut Cx<'_, '_>, _args: &[Bytes]) -> CmdResult {
    cx.sess.close = true;
    Ok(Reply::OK)
}

/// `RESET`: back to a fresh connection's state.
pub fn reset(cx: &mut Cx<'_, '_>, _args: &[Bytes]) -> CmdResult {
    super::transaction::clear(cx.srv, cx.sess);
    cx.sess.db = 0;
    cx.sess.guard.set_db(0);
    cx.sess.proto = 2;
    cx.sess.authed = cx.srv.password().is_none();
    cx.sess.guard.set_name("");
    Ok(Reply::Simple("RESET"))
}

/// Checks a username/password pair against `requirepass`.
fn check_auth(cx: &Cx<'_, '_>, user: Option<&[u8]>, pass: &[u8]) -> CmdResult<()> {
    let ok = match cx.srv.password() {
        None => user.is_none_or(|u| u == b"default"),
        Some(p) => user.is_none_or(|u| u == b"default") && p.as_bytes() == pass,
    };
    if ok {
        Ok(())
    } else {
        fail("WRONGPASS invalid username-password pair or user is disabled.")
    }
}

/// `AUTH [username] password`.
pub fn auth(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    match args.len() {
        2 => {
            if cx.srv.password().is_none() {
                return fail(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
                );
            }
            check_auth(cx, None, arg(args, 1))?;
        }
        3 => check_auth(cx, Some(arg(args, 1)), arg(args, 2))?,
        _ => return fail("ERR syntax error"),
    }
    cx.sess.authed = true;
    Ok(Reply::OK)
}

fn valid_name(n: &[u8]) -> bool {
    n.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`.
pub fn hello(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let mut proto = cx.sess.proto;
    let mut j = 1;
    if let Some(v) = args.get(1) {
        let Some(v) = super::parse_i64(v) else {
            return fail("ERR Protocol version is not an integer or out of range");
        };
        if !(2..=3).contains(&v) {
            return fail("NOPROTO unsupported protocol version");
        }
        proto = u8::try_from(v).unwrap_or(2);
        j = 2;
    }
    let mut auth: Option<(Bytes, Bytes)> = None;
    let mut name: Option<Bytes> = None;
    while let Some(opt) = args.get(j) {
        if is(opt, "auth") && args.len() > j + 2 {
            auth = Some((
                args.get(j + 1).cloned().unwrap_or_default(),
                args.get(j + 2).cloned().unwrap_or_default(),
            ));
            j += 3;
        } else if is(opt, "setname") && args.len() > j + 1 {
            name = args.get(j + 1).cloned();
            j += 2;
        } else {
            return fail(&format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(opt)
            ));
        }
    }
    if let Some((u, p)) = &auth {
        check_auth(cx, Some(u), p)?;
        cx.sess.authed = true;
    }
    if !cx.sess.authed {
        return fail(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        );
    }
    if let Some(n) = &name {
        if !valid_name(n) {
            return fail("ERR Client names cannot contain spaces, newlines or special characters.");
        }
        cx.sess.guard.set_name(&String::from_utf8_lossy(n));
    }
    cx.sess.proto = proto;
    Ok(Reply::Map(vec![
        (Reply::bulk("server"), Reply::bulk("redis")),
        (Reply::bulk("version"), Reply::bulk("7.0.15")),
        (Reply::bulk("proto"), Reply::Int(i64::from(proto))),
        (
            Reply::bulk("id"),
            Reply::Int(i64::try_from(cx.sess.id()).unwrap_or(0)),
        ),
        (Reply::bulk("mode"), Reply::bulk("standalone")),
        (Reply::bulk("role"), Reply::bulk("master")),
        (Reply::bulk("modules"), Reply::Array(Vec::new())),
    ]))
}

/// `SELECT index`.
pub fn select(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let idx = super::int_arg(arg(args, 1))?;
    match usize::try_from(idx) {
        Ok(i) if i < cx.srv.dbs.len() => {
            cx.sess.db = i;
            cx.ex.db = i;
            cx.sess.guard.set_db(u32::try_from(i).unwrap_or(0));
            Ok(Reply::OK)
        }
        _ => fail("ERR DB index is out of range"),
    }
}

fn client_line(c: &shale_server::ClientInfo, proto: u8) -> String {
    let age = c.connected_at.elapsed().as_secs();
    let idle = c.last_command_at.elapsed().as_secs();
    format!(
        "id={} addr={} laddr={} fd=0 name={} age={age} idle={idle} flags=N db={} sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={proto}\n",
        c.id, c.addr, c.local_addr, c.name, c.db, c.last_command
    )
}

/// `CLIENT SETNAME|GETNAME|ID|LIST|INFO|SETINFO ...`.
pub fn client(cx: &mut Cx<'_, '_>, args: &[Bytes]) -> CmdResult {
    let sub = arg(args, 1);
    let wrong = |s: &str| {
        fail(&format!(
            "ERR wrong number of arguments for 'client|{s}' command"
        ))
    };
    if is(sub, "setname") {
        if args.len() != 3 {
            return wrong("setname");
        }
        let n = arg(args, 2);
        if !valid_name(n) {
            return fail("ERR Client names cannot contain spaces, newlines or special characters.");
        }
        cx.sess.guard.set_name(&String::from_utf8_lossy(n));
        return Ok(Reply::OK);
    }
    if is(sub, "getname") {
        if args.len() != 2 {
            return wrong("getname");
        }
        let n = cx.sess.guard.info().name;
        return Ok(if n.is_empty() {
            Reply::Nil
        } else {
            Reply::bulk(n)
        });
    }
    if is(sub, "id") {
        if args.len() != 2 {
            return wrong("id");
        }
        return Ok(Reply::Int(i64::try_from(cx.sess.id()).unwrap_or(0)));
    }
    if is(sub, "info") {
        return Ok(Reply::Verbatim(client_line(
            &cx.sess.guard.info(),
            cx.sess.proto,
        )));
    }
    if is(sub, "list") {
        let me = cx.sess.id();
        let mut out = String::new();
        for c in cx.srv.ctx.clients.list() {
            if c.protocol == "redis" {
                let proto = if c.id == me { cx.sess.proto } else { 2 };
                out.push_str(&client_line(&c, proto));
            }
        }
        return Ok(Reply::Verbatim(out));
    }
    if is(sub, "setinfo") {
        if args.len() != 4 {
            return wrong("setinfo");
        }
        return Ok(Reply::OK);
    }
    fail(&format!(
        "ERR unknown subcommand '{}'. Try CLIENT HELP.",
        String::from_utf8_lossy(sub)
    ))
}
