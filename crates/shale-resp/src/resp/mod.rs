//! The RESP wire protocol: request parsing and reply encoding (RESP2 and RESP3).

pub mod encode;
pub mod parse;

pub use encode::{Reply, format_double};
pub use parse::{ParseLimits, Parsed, ProtocolError, next_command, parse, split_args};
