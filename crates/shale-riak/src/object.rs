//! The stored form of a Riak object: its value plus the metadata Riak returns
//! with it (layout in `docs/format/riak.md`).

use crate::layout::Term;

/// Format version byte at the front of every stored object.
pub const OBJECT_FORMAT: u8 = 1;

/// One object as stored under its engine key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredObject {
    /// Writes since the key was created (the vclock's counter).
    pub counter: u64,
    /// Last write time, ms since the Unix epoch.
    pub last_modified_ms: u64,
    /// The entity tag (Riak's vtag), unique per write.
    pub vtag: String,
    /// The `Content-Type` the client stored.
    pub content_type: Vec<u8>,
    /// The `Content-Encoding` the client stored (empty: none).
    pub content_encoding: Vec<u8>,
    /// The client's `Link` header values, joined by `, ` (empty: none).
    pub links: Vec<u8>,
    /// `X-Riak-Meta-*` headers: lower-case name without the prefix, and value.
    pub meta: Vec<(String, Vec<u8>)>,
    /// Secondary-index entries: index name (`…_bin` / `…_int`) and term.
    pub indexes: Vec<(String, Term)>,
    /// The object's value.
    pub value: Vec<u8>,
}

fn put16(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

fn put32(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

/// A cursor over a stored object's bytes; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn bytes16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
    fn bytes32(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()?;
        self.take(usize::try_from(n).ok()?)
    }
    fn text16(&mut self) -> Option<String> {
        String::from_utf8(self.bytes16()?.to_vec()).ok()
    }
}

impl StoredObject {
    /// Serialises the object. Header-derived fields are bounded by the HTTP
    /// server's header limits, far below the u16/u32 length fields.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.value.len());
        out.push(OBJECT_FORMAT);
        out.extend_from_slice(&self.counter.to_be_bytes());
        out.extend_from_slice(&self.last_modified_ms.to_be_bytes());
        put16(&mut out, self.vtag.as_bytes());
        put16(&mut out, &self.content_type);
        put16(&mut out, &self.content_encoding);
        put32(&mut out, &self.links);
        out.extend_from_slice(&(self.meta.len() as u16).to_be_bytes());
        for (name, value) in &self.meta {
            put16(&mut out, name.as_bytes());
            put32(&mut out, value);
        }
        out.extend_from_slice(&(self.indexes.len() as u16).to_be_bytes());
        for (name, term) in &self.indexes {
            put16(&mut out, name.as_bytes());
            let mut t = Vec::new();
            term.encode(&mut t);
            put32(&mut out, &t);
        }
        out.extend_from_slice(&self.value);
        out
    }

    /// Parses a stored object; `None` if the bytes are not a version-1 object.
    pub fn decode(b: &[u8]) -> Option<StoredObject> {
        let mut r = Reader(b);
        if r.u8()? != OBJECT_FORMAT {
            return None;
        }
        let counter = r.u64()?;
        let last_modified_ms = r.u64()?;
        let vtag = r.text16()?;
        let content_type = r.bytes16()?.to_vec();
        let content_encoding = r.bytes16()?.to_vec();
        let links = r.bytes32()?.to_vec();
        let mut meta = Vec::new();
        for _ in 0..r.u16()? {
            let name = r.text16()?;
            meta.push((name, r.bytes32()?.to_vec()));
        }
        let mut indexes = Vec::new();
        for _ in 0..r.u16()? {
            let name = r.text16()?;
            let (term, rest) = Term::decode(name.ends_with("_int"), r.bytes32()?)?;
            if !rest.is_empty() {
                return None;
            }
            indexes.push((name, term));
        }
        Some(StoredObject {
            counter,
            last_modified_ms,
            vtag,
            content_type,
            content_encoding,
            links,
            meta,
            indexes,
            value: r.0.to_vec(),
        })
    }

    /// The `ETag` header value (the quoted vtag).
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.vtag)
    }

    /// The `X-Riak-Vclock` header value.
    pub fn vclock(&self) -> String {
        crate::vclock::encode(self.counter, self.last_modified_ms)
    }

    /// The last-modified time as whole seconds since the epoch (HTTP dates have
    /// second precision).
    pub fn last_modified_secs(&self) -> u64 {
        self.last_modified_ms / 1000
    }

    /// The `Last-Modified` header value (an HTTP date).
    pub fn last_modified_http(&self) -> String {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(self.last_modified_secs());
        httpdate::fmt_http_date(t)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let o = StoredObject {
            counter: 3,
            last_modified_ms: 1_700_000_000_000,
            vtag: "abc".into(),
            content_type: b"text/plain".to_vec(),
            content_encoding: b"gzip".to_vec(),
            links: b"</buckets/b/keys/k2>; riaktag=\"friend\"".to_vec(),
            meta: vec![("color".into(), b"blue".to_vec())],
            indexes: vec![
                ("email_bin".into(), Term::Bin(b"a@b\0".to_vec())),
                ("age_int".into(), Term::Int(-5)),
            ],
            value: b"hello".to_vec(),
        };
        let enc = o.encode();
        assert_eq!(StoredObject::decode(&enc).unwrap(), o);
        for cut in 0..enc.len() - 5 {
            assert_eq!(StoredObject::decode(&enc[..cut]), None, "cut at {cut}");
        }
        assert_eq!(StoredObject::decode(b"\x02abc"), None);
        assert_eq!(o.last_modified_http(), "Tue, 14 Nov 2023 22:13:20 GMT");
    }
}
