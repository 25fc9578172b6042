//! The RESP request parser: multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline
//! (`GET k\r\n`) commands, with Redis's limits and error messages.
//!
//! The parser only looks at bytes that have arrived: a length header never causes an
//! allocation of that size; arguments are sliced out of the input buffer once the
//! whole command is there.

use bytes::{Buf, Bytes, BytesMut};
use smallvec::SmallVec;

/// Longest `*<n>` / `$<n>` header line or inline command Redis accepts (64 KiB).
const MAX_INLINE: usize = 64 * 1024;

/// Limits the parser enforces (from [`shale_server::Limits`]).
#[derive(Clone, Copy, Debug)]
pub struct ParseLimits {
    /// Most arguments in one command.
    pub max_args: usize,
    /// Largest single argument in bytes.
    pub max_bulk: usize,
    /// The client has not authenticated yet: Redis's tighter limits apply.
    pub unauthenticated: bool,
}

/// A protocol error: the reply to send (without `-` and CRLF) before closing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

/// What [`parse`] found at the front of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A complete command (possibly empty: an empty inline line or `*0`), and how
    /// many bytes it used.
    Command(Vec<Bytes>, usize),
    /// More bytes are needed; at least this many in total before trying again.
    Incomplete(usize),
}

/// Takes the next complete command off the front of `buf`: `Ok(Err(need))` when at
/// least `need` buffered bytes are required first. The arguments share the frame's
/// memory (no copy of the payloads).
pub fn next_command(
    buf: &mut BytesMut,
    limits: ParseLimits,
) -> Result<Result<Vec<Bytes>, usize>, ProtocolError> {
    match buf.first() {
        None => Ok(Err(1)),
        Some(b'*') => match parse_multibulk(buf, limits)? {
            Ok((ranges, used)) => {
                let frame = buf.split_to(used).freeze();
                Ok(Ok(ranges.iter().map(|&(s, e)| frame.slice(s..e)).collect()))
            }
            Err(need) => Ok(Err(need)),
        },
        Some(_) => match parse_inline(buf)? {
            Ok((args, used)) => {
                buf.advance(used);
                Ok(Ok(args))
            }
            Err(need) => Ok(Err(need)),
        },
    }
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .iter()
        .position(|&b| b == b'\n')
        .map(|p| from + p)
}

/// Parses a strict decimal integer header as Redis's `string2ll` does: an
/// optional `-`, then one or more digits (no `+`, no spaces, at most 20 bytes),
/// within `i64`.
fn parse_len(line: &[u8]) -> Option<i64> {
    if line.len() > 20 {
        return None;
    }
    let (negative, digits) = match line {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, line),
    };
    if digits.is_empty() {
        return None;
    }
    // Accumulated negatively, so that i64::MIN parses too.
    let mut n: i64 = 0;
    for &b in digits {
        let d = i64::from(b.wrapping_sub(b'0'));
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_sub(d)?;
    }
    if negative { Some(n) } else { n.checked_neg() }
}

/// Parses one command from the front of `buf` without consuming it (for tests and
/// tools; the server uses [`next_command`]).
pub fn parse(buf: &BytesMut, limits: ParseLimits) -> Result<Parsed, ProtocolError> {
    let mut copy = buf.clone();
    let before = copy.len();
    Ok(match next_command(&mut copy, limits)? {
        Ok(args) => Parsed::Command(args, before - copy.len()),
        Err(need) => Parsed::Incomplete(need),
    })
}

/// Where a multibulk command's arguments are in its frame: inline up to a typical
/// command's count, so parsing allocates only the final `Vec<Bytes>`.
type ArgRanges = SmallVec<[(usize, usize); 4]>;

/// A parsed command and the bytes it used, or the bytes needed first.
type Frame<A> = Result<(A, usize), usize>;

fn header_line(buf: &[u8], start: usize, what: &str) -> Result<Option<usize>, ProtocolError> {
    match find_crlf(buf, start) {
        Some(nl) => Ok(Some(nl)),
        None if buf.len().saturating_sub(start) > MAX_INLINE => Err(ProtocolError(format!(
            "ERR Protocol error: too big {what} count string"
        ))),
        None => Ok(None),
    }
}

fn line_content(buf: &[u8], start: usize, nl: usize) -> &[u8] {
    let end = if nl > start && buf.get(nl - 1) == Some(&b'\r') {
        nl - 1
    } else {
        nl
    };
    buf.get(start..end).unwrap_or(&[])
}

fn parse_multibulk(buf: &[u8], limits: ParseLimits) -> Result<Frame<ArgRanges>, ProtocolError> {
    let Some(nl) = header_line(buf, 1, "mbulk")? else {
        return Ok(Err(buf.len() + 1));
    };
    let n = parse_len(line_content(buf, 1, nl))
        .filter(|&n| n <= i64::from(i32::MAX))
        .ok_or_else(|| ProtocolError("ERR Protocol error: invalid multibulk length".into()))?;
    if n <= 0 {
        return Ok(Ok((ArgRanges::new(), nl + 1)));
    }
    if limits.unauthenticated && n > 10 {
        return Err(ProtocolError(
            "ERR Protocol error: unauthenticated multibulk length".into(),
        ));
    }
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if n > limits.max_args {
        return Err(ProtocolError(
            "ERR Protocol error: invalid multibulk length".into(),
        ));
    }
    let frozen = buf;
    // Never reserve from the header: grow as arguments are actually parsed.
    let mut args = ArgRanges::new();
    let mut pos = nl + 1;
    for _ in 0..n {
        let Some(&first) = frozen.get(pos) else {
            return Ok(Err(pos + 1));
        };
        if first != b'$' {
            return Err(ProtocolError(format!(
                "ERR Protocol error: expected '$', got '{}'",
                char::from(first)
            )));
        }
        let Some(nl) = header_line(frozen, pos + 1, "bulk")? else {
            return Ok(Err(frozen.len() + 1));
        };
        let len = parse_len(line_content(frozen, pos + 1, nl))
            .and_then(|l| usize::try_from(l).ok())
            .filter(|&l| l <= limits.max_bulk)
            .ok_or_else(|| ProtocolError("ERR Protocol error: invalid bulk length".into()))?;
        if limits.unauthenticated && len > 16384 {
            return Err(ProtocolError(
                "ERR Protocol error: unauthenticated bulk length".into(),
            ));
        }
        let start = nl + 1;
        let end = start.saturating_add(len);
        let need = end.saturating_add(2);
        if frozen.len() < need {
            return Ok(Err(need));
        }
        args.push((start, end));
        // Redis skips the two bytes after the payload without checking them.
        pos = need;
    }
    Ok(Ok((args, pos)))
}

fn parse_inline(buf: &[u8]) -> Result<Frame<Vec<Bytes>>, ProtocolError> {
    let Some(nl) = find_crlf(buf, 0) else {
        if buf.len() > MAX_INLINE {
            return Err(ProtocolError(
                "ERR Protocol error: too big inline request".into(),
            ));
        }
        return Ok(Err(buf.len() + 1));
    };
    let line = line_content(buf, 0, nl);
    let args = split_args(line)
        .ok_or_else(|| ProtocolError("ERR Protocol error: unbalanced quotes in request".into()))?;
    Ok(Ok((args, nl + 1)))
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// C's `isspace`: what `sdssplitargs` skips before a word and accepts after a
/// closing quote (Rust's `is_ascii_whitespace` leaves out `\x0b`).
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Splits an inline command line like Redis's `sdssplitargs`: whitespace-separated
/// words, `"..."` with `\n \r \t \b \a \\ \" \xHH` escapes, and `'...'` with `\'`.
/// `None` on unbalanced quotes (or a closing quote not followed by a space). As in
/// Redis, only space, tab, CR and LF end a bare word: `\x0b` and `\x0c` are skipped
/// between words but belong to a word they appear in.
pub fn split_args(line: &[u8]) -> Option<Vec<Bytes>> {
    let mut out = Vec::new();
    let mut i = 0;
    let at = |i: usize| line.get(i).copied();
    loop {
        while at(i).is_some_and(is_space) {
            i += 1;
        }
        let Some(_) = at(i) else {
            return Some(out);
        };
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            let c = at(i);
            if in_dq {
                match c {
                    None => return None,
                    Some(b'\\') => {
                        match (
                            at(i + 1),
                            at(i + 2).and_then(hex_val),
                            at(i + 3).and_then(hex_val),
                        ) {
                            (Some(b'x'), Some(h), Some(l)) => {
                                cur.push(h * 16 + l);
                                i += 3;
                            }
                            (Some(e), _, _) => {
                                cur.push(match e {
                                    b'n' => b'\n',
                                    b'r' => b'\r',
                                    b't' => b'\t',
                                    b'b' => 8,
                                    b'a' => 7,
                                    other => other,
                                });
                                i += 1;
                            }
                            (None, _, _) => return None,
                        }
                    }
                    Some(b'"') => {
                        if at(i + 1).is_some_and(|n| !is_space(n)) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    Some(other) => cur.push(other),
                }
            } else if in_sq {
                match c {
                    None => return None,
                    Some(b'\\') if at(i + 1) == Some(b'\'') => {
                        cur.push(b'\'');
                        i += 1;
                    }
                    Some(b'\'') => {
                        if at(i + 1).is_some_and(|n| !is_space(n)) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    Some(other) => cur.push(other),
                }
            } else {
                match c {
                    None => break,
                    Some(b' ' | b'\t' | b'\r' | b'\n') => break,
                    Some(b'"') => in_dq = true,
                    Some(b'\'') => in_sq = true,
                    Some(other) => cur.push(other),
                }
            }
            i += 1;
        }
        out.push(Bytes::from(cur));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: ParseLimits = ParseLimits {
        max_args: 1000,
        max_bulk: 1 << 20,
        unauthenticated: false,
    };

    fn p(s: &[u8]) -> Result<Parsed, ProtocolError> {
        parse(&BytesMut::from(s), L)
    }

    #[test]
    fn multibulk_complete_and_partial() {
        let full = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
        assert_eq!(
            p(full).unwrap(),
            Parsed::Command(vec![Bytes::from("GET"), Bytes::from("k")], full.len())
        );
        for cut in 0..full.len() {
            assert!(matches!(p(&full[..cut]).unwrap(), Parsed::Incomplete(_)));
        }
    }

    #[test]
    fn limits_and_errors() {
        let e = |s: &[u8]| p(s).unwrap_err().0;
        assert_eq!(
            e(b"*2147483648\r\n"),
            "ERR Protocol error: invalid multibulk length"
        );
        assert_eq!(
            e(b"*2000\r\n"),
            "ERR Protocol error: invalid multibulk length"
        );
        assert_eq!(e(b"*x\r\n"), "ERR Protocol error: invalid multibulk length");
        assert_eq!(
            e(b"*1\r\n$4294967296\r\n"),
            "ERR Protocol error: invalid bulk length"
        );
        assert_eq!(
            e(b"*1\r\n$-1\r\n"),
            "ERR Protocol error: invalid bulk length"
        );
        assert_eq!(e(b"*1\r\nx"), "ERR Protocol error: expected '$', got 'x'");
        // A huge declared bulk that is not there yet is just incomplete.
        assert_eq!(
            p(b"*1\r\n$1000\r\nab").unwrap(),
            Parsed::Incomplete(1000 + 11 + 2)
        );
    }

    #[test]
    fn inline() {
        assert_eq!(
            p(b"set a \"x y\\x41\"\r\n").unwrap(),
            Parsed::Command(
                vec![Bytes::from("set"), Bytes::from("a"), Bytes::from("x yA")],
                17
            )
        );
        assert_eq!(p(b"\r\n").unwrap(), Parsed::Command(vec![], 2));
        assert!(p(b"get \"a\r\n").is_err());
        assert_eq!(
            split_args(b"'it\\'s' b").unwrap(),
            vec![Bytes::from("it's"), Bytes::from("b")]
        );
    }

    #[test]
    fn inline_white_space_is_c_isspace_between_words_only() {
        // \x0b and \x0c are skipped before a word and may follow a closing quote...
        assert_eq!(
            split_args(b"\x0bset\t\x0c k \"a\"\x0b 'b'\x0c").unwrap(),
            vec![
                Bytes::from("set"),
                Bytes::from("k"),
                Bytes::from("a"),
                Bytes::from("b")
            ]
        );
        // ...but inside a bare word they are ordinary bytes.
        assert_eq!(
            split_args(b"set\x0ck a\x0bb\x0b").unwrap(),
            vec![Bytes::from("set\x0ck"), Bytes::from("a\x0bb\x0b")]
        );
        assert!(split_args(b"set k \"a\"\x01").is_none());
    }

    use proptest::prelude::*;

    fn frame(args: &[Vec<u8>]) -> Vec<u8> {
        let mut v = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            v.extend_from_slice(a);
            v.extend_from_slice(b"\r\n");
        }
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x2E5B),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Arbitrary bytes never panic the parser, and whatever it accepts it
        /// consumes from the front.
        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut buf = BytesMut::from(&data[..]);
            for _ in 0..64 {
                let before = buf.len();
                match next_command(&mut buf, L) {
                    Ok(Ok(_)) => prop_assert!(buf.len() < before || before == 0),
                    Ok(Err(_)) | Err(_) => break,
                }
            }
        }

        /// Pipelined frames fed in arbitrary pieces parse back to the same commands.
        #[test]
        fn frames_roundtrip_in_pieces(
            cmds in proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..5),
                1..6,
            ),
            cut in 1usize..17,
        ) {
            let wire: Vec<u8> = cmds.iter().flat_map(|c| frame(c)).collect();
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for piece in wire.chunks(cut) {
                buf.extend_from_slice(piece);
                while let Ok(Ok(args)) = next_command(&mut buf, L) {
                    got.push(args.iter().map(|a| a.to_vec()).collect::<Vec<_>>());
                }
            }
            prop_assert_eq!(got, cmds);
            prop_assert!(buf.is_empty());
        }
    }

    /// The definition `parse_len` must agree with: Rust's `i64` parser, minus a
    /// leading `+`, within 20 bytes.
    fn reference(line: &[u8]) -> Option<i64> {
        let s = std::str::from_utf8(line).ok()?;
        if s.is_empty() || s.starts_with('+') || s.len() > 20 {
            return None;
        }
        s.parse::<i64>().ok()
    }

    #[test]
    fn lengths_at_the_edges() {
        for (line, want) in [
            (&b"0"[..], Some(0)),
            (b"3", Some(3)),
            (b"-1", Some(-1)),
            (b"007", Some(7)),
            (b"-0", Some(0)),
            (b"9223372036854775807", Some(i64::MAX)),
            (b"-9223372036854775808", Some(i64::MIN)),
            (b"9223372036854775808", None),
            (b"-9223372036854775809", None),
            (b"", None),
            (b"-", None),
            (b"+1", None),
            (b" 1", None),
            (b"1 ", None),
            (b"1a", None),
            (b"--1", None),
            (b"000000000000000000001", None),
        ] {
            assert_eq!(parse_len(line), want, "{line:?}");
            assert_eq!(reference(line), want, "{line:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 4096,
            rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x1E4),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn parse_len_agrees_with_the_std_parser(
            line in prop::collection::vec(
                prop_oneof![8 => b'0'..=b'9', 1 => Just(b'-'), 1 => Just(b'+'), 1 => any::<u8>()],
                0..24,
            )
        ) {
            prop_assert_eq!(parse_len(&line), reference(&line));
        }
    }
}
