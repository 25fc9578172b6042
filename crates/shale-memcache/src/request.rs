//! A parsed request of either protocol.

use crate::meta::flags::MetaCommand;
use crate::text::parse::TextCommand;

/// One request read from a connection, ready to execute.
#[derive(Debug)]
pub enum Request {
    /// A text-protocol command.
    Text(TextCommand),
    /// A meta-protocol command.
    Meta(Box<MetaCommand>),
    /// A request answered by the parser itself (a syntax error, an unknown command).
    Reply {
        /// Metric name of the command (`unknown` for unknown ones).
        name: &'static str,
        /// The whole reply.
        reply: &'static [u8],
        /// Suppress the reply (`noreply`).
        quiet: bool,
    },
    /// `quit`: close the connection after answering what came before.
    Quit,
}

impl Request {
    /// A parser reply that is always sent.
    pub fn error(name: &'static str, reply: &'static [u8]) -> Request {
        Request::Reply {
            name,
            reply,
            quiet: false,
        }
    }
}

impl Request {
    /// The metric name of the command.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Text(c) => c.name(),
            Request::Meta(m) => m.kind.name(),
            Request::Reply { name, .. } => name,
            Request::Quit => "quit",
        }
    }

    /// True if the command's reply is suppressed (`noreply`).
    pub fn noreply(&self) -> bool {
        match self {
            Request::Text(c) => c.noreply(),
            Request::Meta(m) => m.flags.quiet,
            Request::Reply { quiet, .. } => *quiet,
            Request::Quit => false,
        }
    }

    /// Attaches the value read after the command line.
    pub fn set_data(&mut self, bytes: bytes::Bytes) {
        match self {
            Request::Text(TextCommand::Store { data, .. }) => *data = bytes,
            Request::Meta(m) => m.data = bytes,
            _ => {}
        }
    }
}
