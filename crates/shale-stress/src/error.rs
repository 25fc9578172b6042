//! [`StressError`]: why a stress command could not go on.

/// Why a stress command stopped.
#[derive(Debug)]
pub enum StressError {
    /// The engine returned an error.
    Engine(shaledb::Error),
    /// The expected-state file or a child process failed.
    Io(std::io::Error),
    /// Bad command-line arguments or inconsistent files.
    Usage(String),
    /// A read returned something the expected state does not allow.
    Mismatch(String),
}

/// Result of a stress operation.
pub type StressResult<T> = std::result::Result<T, StressError>;

impl std::fmt::Display for StressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StressError::Engine(e) => write!(f, "engine error: {e}"),
            StressError::Io(e) => write!(f, "I/O error: {e}"),
            StressError::Usage(m) => write!(f, "{m}"),
            StressError::Mismatch(m) => write!(f, "verification failure: {m}"),
        }
    }
}

impl std::error::Error for StressError {}

impl From<shaledb::Error> for StressError {
    fn from(e: shaledb::Error) -> Self {
        StressError::Engine(e)
    }
}

impl From<std::io::Error> for StressError {
    fn from(e: std::io::Error) -> Self {
        StressError::Io(e)
    }
}
