//! Replies and their RESP2/RESP3 encodings.

use bytes::Bytes;

/// One reply, encoded per connection as RESP2 or RESP3 (`HELLO 3`).
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`.
    Simple(&'static str),
    /// `+...` with a computed text.
    Status(String),
    /// `-ERR ...`: the full text after the `-`.
    Error(String),
    /// `:n`.
    Int(i64),
    /// `$n\r\n...`.
    Bulk(Bytes),
    /// The null bulk string (`$-1`, RESP3 `_`).
    Nil,
    /// The null array (`*-1`, RESP3 `_`).
    NilArray,
    /// `*n` followed by the elements.
    Array(Vec<Reply>),
    /// RESP3 map (`%n`); a flat array of key, value in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// RESP3 set (`~n`); an array in RESP2.
    Set(Vec<Reply>),
    /// RESP3 double (`,`); a bulk string in RESP2.
    Double(f64),
    /// RESP3 verbatim text (`=n\r\ntxt:...`); a bulk string in RESP2.
    Verbatim(String),
}

impl Reply {
    /// `+OK`.
    pub const OK: Reply = Reply::Simple("OK");

    /// A bulk string from anything byte-like.
    pub fn bulk(b: impl Into<Bytes>) -> Reply {
        Reply::Bulk(b.into())
    }

    /// A bulk string holding a copy of `b`.
    pub fn bulk_copy(b: &[u8]) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(b))
    }

    /// An error reply with the given full text (e.g. `ERR syntax error`).
    pub fn err(text: impl Into<String>) -> Reply {
        Reply::Error(text.into())
    }

    /// True for error replies (counted as failed in metrics).
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Appends the encoding of `self` for protocol version `proto` (2 or 3).
    pub fn encode(&self, proto: u8, out: &mut Vec<u8>) {
        let resp3 = proto >= 3;
        match self {
            Reply::Simple(s) => line(out, b'+', s.as_bytes()),
            Reply::Status(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(s) => {
                // An error line must not contain CR/LF.
                let clean: Vec<u8> = s
                    .bytes()
                    .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b })
                    .collect();
                line(out, b'-', &clean);
            }
            Reply::Int(n) => number_line(out, b':', *n),
            Reply::Bulk(b) => bulk(out, b),
            Reply::Nil if resp3 => out.extend_from_slice(b"_\r\n"),
            Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
            Reply::NilArray if resp3 => out.extend_from_slice(b"_\r\n"),
            Reply::NilArray => out.extend_from_slice(b"*-1\r\n"),
            Reply::Array(items) => {
                number_line(out, b'*', items.len());
                for i in items {
                    i.encode(proto, out);
                }
            }
            Reply::Set(items) => {
                number_line(out, if resp3 { b'~' } else { b'*' }, items.len());
                for i in items {
                    i.encode(proto, out);
                }
            }
            Reply::Map(pairs) => {
                if resp3 {
                    number_line(out, b'%', pairs.len());
                } else {
                    number_line(out, b'*', pairs.len() * 2);
                }
                for (k, v) in pairs {
                    k.encode(proto, out);
                    v.encode(proto, out);
                }
            }
            Reply::Double(d) => {
                if resp3 {
                    line(out, b',', resp3_double(*d).as_bytes());
                } else {
                    bulk(out, format_double(*d).as_bytes());
                }
            }
            Reply::Verbatim(s) => {
                if resp3 {
                    number_line(out, b'=', s.len() + 4);
                    out.extend_from_slice(b"txt:");
                    out.extend_from_slice(s.as_bytes());
                    out.extend_from_slice(b"\r\n");
                } else {
                    bulk(out, s.as_bytes());
                }
            }
        }
    }
}

fn line(out: &mut Vec<u8>, prefix: u8, body: &[u8]) {
    out.push(prefix);
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n");
}

/// A line holding a decimal number (a length or an integer reply), formatted on
/// the stack: replies are encoded by the thousand per second.
fn number_line(out: &mut Vec<u8>, prefix: u8, n: impl itoa::Integer) {
    line(out, prefix, itoa::Buffer::new().format(n).as_bytes());
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    number_line(out, b'$', b.len());
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn resp3_double(d: f64) -> String {
    if d.is_nan() {
        "nan".into()
    } else if d.is_infinite() {
        if d > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        format_double(d)
    }
}

/// Formats a double the way Redis does for scores and HINCRBYFLOAT-like replies
/// (`%.17g`: shortest round-trip form for ordinary values).
pub fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let s = format!("{d}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(r: &Reply, proto: u8) -> Vec<u8> {
        let mut v = Vec::new();
        r.encode(proto, &mut v);
        v
    }

    #[test]
    fn resp2_and_resp3() {
        let m = Reply::Map(vec![(Reply::bulk("a"), Reply::Int(1))]);
        assert_eq!(enc(&m, 2), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&m, 3), b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&Reply::Nil, 2), b"$-1\r\n");
        assert_eq!(enc(&Reply::Nil, 3), b"_\r\n");
        assert_eq!(enc(&Reply::Double(1.5), 3), b",1.5\r\n");
        assert_eq!(enc(&Reply::Double(2.0), 2), b"$1\r\n2\r\n");
        assert_eq!(enc(&Reply::Set(vec![Reply::Int(1)]), 3), b"~1\r\n:1\r\n");
    }
}
