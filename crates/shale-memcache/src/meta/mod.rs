//! The memcached 1.6 meta protocol (`mg`, `ms`, `md`, `ma`, `mn`, `me`).

pub mod commands;
pub mod flags;
