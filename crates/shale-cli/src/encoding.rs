//! Turning command-line text into key/value bytes and back (`--hex`).

use shaledb::{Error, Result};

/// Decodes a key or value given on the command line.
pub fn decode(text: &str, hex: bool) -> Result<Vec<u8>> {
    if hex {
        hex::decode(text).map_err(|e| Error::invalid(format!("bad hex {text:?}: {e}")))
    } else {
        Ok(text.as_bytes().to_vec())
    }
}

/// Encodes bytes for output: hex, or the raw bytes.
pub fn encode(bytes: &[u8], hex: bool) -> Vec<u8> {
    if hex {
        hex::encode(bytes).into_bytes()
    } else {
        bytes.to_vec()
    }
}
