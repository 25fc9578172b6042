//! The classic memcached text protocol.

pub mod commands;
pub mod parse;
