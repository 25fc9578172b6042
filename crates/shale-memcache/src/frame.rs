//! Splitting the input stream into requests: command lines and data blocks.

use std::ops::Range;

use crate::request::Request;
use crate::{meta, text};

/// Limits the framer enforces.
#[derive(Clone, Copy, Debug)]
pub struct FrameLimits {
    /// Longest ordinary command line.
    pub max_line: usize,
    /// Longest multi-key `get` line.
    pub max_get_line: usize,
    /// Largest value.
    pub item_size_max: usize,
    /// Most keys per command.
    pub max_keys: usize,
}

/// What a command line asks of the framer.
#[derive(Debug)]
pub struct LineOutcome {
    /// The request (its data, if any, is filled in by the framer).
    pub request: Request,
    /// Bytes of data that follow the line (without the CRLF).
    pub data_len: Option<usize>,
    /// Bytes that follow the line and must be discarded unread (a too-large value
    /// with its CRLF).
    pub swallow: usize,
    /// Report a bad data chunk even under noreply (meta commands do).
    pub loud_data_errors: bool,
}

impl LineOutcome {
    /// A request with no data.
    pub fn plain(request: Request) -> LineOutcome {
        LineOutcome {
            request,
            data_len: None,
            swallow: 0,
            loud_data_errors: false,
        }
    }
}

/// The next step for the connection.
#[derive(Debug)]
pub enum Parsed {
    /// More input is needed.
    Incomplete,
    /// One request that used `consumed` bytes; `data` is where its value lies.
    Frame {
        /// Bytes of input used.
        consumed: usize,
        /// The request.
        request: Request,
        /// Range of the value within the consumed bytes.
        data: Option<Range<usize>>,
        /// Further bytes to discard.
        swallow: usize,
    },
    /// The stream cannot be trusted: send this and close.
    Fatal(&'static [u8]),
}

fn is_get_line(buf: &[u8]) -> bool {
    let start = buf.iter().position(|&c| c != b' ').unwrap_or(buf.len());
    let rest = buf.get(start..).unwrap_or_default();
    [&b"get "[..], b"gets ", b"gat ", b"gats "]
        .iter()
        .any(|p| rest.starts_with(p))
}

/// Splits a command line into space-separated tokens (runs of spaces count as one).
pub fn tokenize(line: &[u8]) -> Vec<&[u8]> {
    line.split(|&c| c == b' ')
        .filter(|t| !t.is_empty())
        .collect()
}

/// Parses the request at the start of `buf`.
pub fn parse(buf: &[u8], limits: &FrameLimits) -> Parsed {
    let Some(nl) = buf.iter().position(|&c| c == b'\n') else {
        if buf.len() > limits.max_line && (!is_get_line(buf) || buf.len() > limits.max_get_line) {
            return Parsed::Fatal(b"CLIENT_ERROR line too long\r\n");
        }
        return Parsed::Incomplete;
    };
    if nl > limits.max_line && (!is_get_line(buf) || nl > limits.max_get_line) {
        return Parsed::Fatal(b"CLIENT_ERROR line too long\r\n");
    }
    let line = buf.get(..nl).unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let tokens = tokenize(line);
    let outcome = match tokens.first().copied() {
        Some(b"mg" | b"ms" | b"md" | b"ma" | b"mn" | b"me") => meta::flags::parse(&tokens, limits),
        _ => text::parse::parse(&tokens, limits),
    };
    let line_end = nl + 1;
    let Some(len) = outcome.data_len else {
        return Parsed::Frame {
            consumed: line_end,
            request: outcome.request,
            data: None,
            swallow: outcome.swallow,
        };
    };
    let Some(end) = line_end.checked_add(len).and_then(|e| e.checked_add(2)) else {
        return Parsed::Fatal(b"SERVER_ERROR object too large for cache\r\n");
    };
    if buf.len() < end {
        return Parsed::Incomplete;
    }
    if buf.get(end - 2..end) != Some(b"\r\n") {
        let quiet = !outcome.loud_data_errors && outcome.request.noreply();
        return Parsed::Frame {
            consumed: end,
            request: Request::Reply {
                name: outcome.request.name(),
                reply: b"CLIENT_ERROR bad data chunk\r\n",
                quiet,
            },
            data: None,
            swallow: 0,
        };
    }
    Parsed::Frame {
        consumed: end,
        request: outcome.request,
        data: Some(line_end..end - 2),
        swallow: 0,
    }
}
