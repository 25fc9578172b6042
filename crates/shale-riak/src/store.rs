//! Engine operations behind the routes: objects with their index entries kept in
//! step (one transaction per write), listings and index scans.
//!
//! Every function here may block; callers run them inside `Context::blocking`.

use std::ops::Bound;

use shale_server::ConflictRetry;
use shaledb::{Db, Keyspace, MAX_KEY_SIZE, WriteOptions};

use crate::layout::{self, BucketId, TAG_OBJECT, Term};
use crate::object::StoredObject;
use crate::reply::Fail;

/// Reads the object `key` of bucket `b`.
pub fn get(ks: &Keyspace, b: &BucketId, key: &[u8]) -> Result<Option<StoredObject>, Fail> {
    match ks.get(layout::object_key(b, key))? {
        None => Ok(None),
        Some(raw) => decode(&raw).map(Some),
    }
}

fn decode(raw: &[u8]) -> Result<StoredObject, Fail> {
    StoredObject::decode(raw).ok_or_else(|| {
        Fail::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "stored object is corrupt or of an unknown format version",
        )
    })
}

fn check_key_len(k: &[u8]) -> Result<(), Fail> {
    if k.len() > MAX_KEY_SIZE {
        return Err(Fail::bad_request(format!(
            "bucket, key or index entry too long ({} bytes; at most {MAX_KEY_SIZE})",
            k.len()
        )));
    }
    Ok(())
}

/// Writes object `key` atomically with its index entries. `build` sees the
/// current version (to check preconditions and continue its counter) and returns
/// the new one, or a failure that aborts the write.
pub fn put(
    db: &Db,
    ks: &Keyspace,
    wo: &WriteOptions,
    b: &BucketId,
    key: &[u8],
    mut build: impl FnMut(Option<&StoredObject>) -> Result<StoredObject, Fail>,
) -> Result<StoredObject, Fail> {
    let okey = layout::object_key(b, key);
    check_key_len(&okey)?;
    let mut last = None;
    let mut retry = ConflictRetry::new();
    while retry.next_attempt() {
        let mut tx = db.transaction();
        let old = match tx.get_in(ks, &okey)? {
            Some(raw) => Some(decode(&raw)?),
            None => None,
        };
        let new = build(old.as_ref())?;
        if let Some(old) = &old {
            for (name, term) in &old.indexes {
                if !new.indexes.iter().any(|(n, t)| n == name && t == term) {
                    tx.delete_in(ks, layout::index_key(b, name, term, key))?;
                }
            }
        }
        for (name, term) in &new.indexes {
            let already = old
                .as_ref()
                .is_some_and(|o| o.indexes.iter().any(|(n, t)| n == name && t == term));
            if !already {
                let ik = layout::index_key(b, name, term, key);
                check_key_len(&ik)?;
                tx.put_in(ks, ik, [])?;
            }
        }
        tx.put_in(ks, &okey, new.encode())?;
        match tx.commit_opt(wo) {
            Ok(()) => return Ok(new),
            Err(shaledb::Error::Conflict(e)) => last = Some(e),
            Err(e) => return Err(e.into()),
        }
    }
    Err(Fail::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "too many concurrent writes to this key: {}",
            last.unwrap_or_default()
        ),
    ))
}

/// Deletes object `key` and its index entries atomically, if `check` accepts the
/// current version. A missing object is a 404.
pub fn delete(
    db: &Db,
    ks: &Keyspace,
    wo: &WriteOptions,
    b: &BucketId,
    key: &[u8],
    check: impl Fn(Option<&StoredObject>) -> Result<(), Fail>,
) -> Result<(), Fail> {
    let okey = layout::object_key(b, key);
    check_key_len(&okey)?;
    let mut last = None;
    let mut retry = ConflictRetry::new();
    while retry.next_attempt() {
        let mut tx = db.transaction();
        let old = match tx.get_in(ks, &okey)? {
            Some(raw) => decode(&raw)?,
            None => {
                check(None)?;
                return Err(Fail::not_found());
            }
        };
        check(Some(&old))?;
        for (name, term) in &old.indexes {
            tx.delete_in(ks, layout::index_key(b, name, term, key))?;
        }
        tx.delete_in(ks, &okey)?;
        match tx.commit_opt(wo) {
            Ok(()) => return Ok(()),
            Err(shaledb::Error::Conflict(e)) => last = Some(e),
            Err(e) => return Err(e.into()),
        }
    }
    Err(Fail::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "too many concurrent writes to this key: {}",
            last.unwrap_or_default()
        ),
    ))
}

/// Calls `each` with every key of bucket `b`, in order; stops early if it returns false.
pub fn for_each_key(
    ks: &Keyspace,
    b: &BucketId,
    mut each: impl FnMut(&[u8]) -> bool,
) -> Result<(), Fail> {
    let prefix = layout::bucket_prefix(TAG_OBJECT, b);
    for item in ks.prefix(&prefix) {
        let (k, _) = item?;
        if !each(&k[prefix.len()..]) {
            break;
        }
    }
    Ok(())
}

/// The buckets of type `btype` holding at least one object, in order.
pub fn list_buckets(ks: &Keyspace, btype: &[u8]) -> Result<Vec<Vec<u8>>, Fail> {
    let type_prefix = layout::bucket_prefix(
        TAG_OBJECT,
        &BucketId {
            btype: btype.to_vec(),
            bucket: Vec::new(),
        },
    );
    // The type prefix without the empty bucket's length field.
    let type_prefix = &type_prefix[..type_prefix.len() - 2];
    let end = layout::prefix_end(type_prefix);
    let mut out = Vec::new();
    let mut from = type_prefix.to_vec();
    loop {
        let mut iter = match &end {
            Some(end) => ks.range(from.as_slice()..end.as_slice()),
            None => ks.range(from.as_slice()..),
        };
        let Some(item) = iter.next() else { break };
        let (k, _) = item?;
        let Some((_, bucket, _)) = layout::split_bucket(&k) else {
            break;
        };
        match layout::prefix_end(&layout::bucket_prefix(TAG_OBJECT, &bucket)) {
            Some(next) => from = next,
            None => {
                out.push(bucket.bucket);
                break;
            }
        }
        out.push(bucket.bucket);
    }
    Ok(out)
}

/// One index query: an exact term or an inclusive term range.
#[derive(Debug)]
pub struct IndexQuery {
    /// Index name: `…_bin`, `…_int`, `$bucket` or `$key`.
    pub index: String,
    /// First term (inclusive).
    pub start: Term,
    /// Last term (inclusive).
    pub end: Term,
    /// Most results to return (`None`: all).
    pub max_results: Option<usize>,
    /// Resume strictly after this position (from a previous page's continuation).
    pub after: Option<Vec<u8>>,
}

/// A page of index results.
#[derive(Debug, Default)]
pub struct IndexPage {
    /// (term, key) pairs in index order.
    pub results: Vec<(Term, Vec<u8>)>,
    /// Where the next page starts, when there is one.
    pub continuation: Option<Vec<u8>>,
}

/// Runs an index query on bucket `b` as a range scan.
pub fn query_index(ks: &Keyspace, b: &BucketId, q: &IndexQuery) -> Result<IndexPage, Fail> {
    let special = q.index.starts_with('$');
    let prefix = if special {
        layout::bucket_prefix(TAG_OBJECT, b)
    } else {
        layout::index_prefix(b, &q.index)
    };
    let encode = |t: &Term| -> Vec<u8> {
        let mut out = prefix.clone();
        match t {
            Term::Bin(key) if special => out.extend_from_slice(key),
            t => t.encode(&mut out),
        }
        out
    };
    let mut lo = encode(&q.start);
    if let Some(after) = &q.after {
        let mut resume = prefix.clone();
        resume.extend_from_slice(after);
        resume.push(0); // strictly after
        lo = lo.max(resume);
    }
    // Index entries continue past the term with the object key, so the upper
    // bound is the end of everything starting with the last term; `$key` keys end
    // at the term itself; `$bucket` takes the whole bucket.
    let hi = if q.index == "$bucket" {
        layout::prefix_end(&prefix).map_or(Bound::Unbounded, Bound::Excluded)
    } else if special {
        Bound::Included(encode(&q.end))
    } else {
        layout::prefix_end(&encode(&q.end)).map_or(Bound::Unbounded, Bound::Excluded)
    };
    let iter = ks.range((Bound::Included(lo), hi));
    let int = q.index.ends_with("_int");
    let limit = q.max_results.unwrap_or(usize::MAX);
    let mut page = IndexPage::default();
    let mut last_pos: Option<Vec<u8>> = None;
    for item in iter {
        let (k, _) = item?;
        let Some(pos) = k.get(prefix.len()..) else {
            continue;
        };
        if page.results.len() == limit {
            page.continuation = last_pos;
            break;
        }
        let (term, key) = if special {
            (Term::Bin(pos.to_vec()), pos.to_vec())
        } else {
            match Term::decode(int, pos) {
                Some((t, key)) => (t, key.to_vec()),
                None => continue,
            }
        };
        page.results.push((term, key));
        last_pos = Some(pos.to_vec());
    }
    Ok(page)
}

/// The stored properties of bucket `b` (a JSON object), if any were set.
pub fn get_props(
    ks: &Keyspace,
    b: &BucketId,
) -> Result<serde_json::Map<String, serde_json::Value>, Fail> {
    match ks.get(layout::props_key(b))? {
        None => Ok(serde_json::Map::new()),
        Some(raw) => match raw.split_first() {
            Some((&crate::object::OBJECT_FORMAT, json)) => {
                serde_json::from_slice(json).map_err(|e| {
                    Fail::new(
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        format!("stored bucket properties are corrupt: {e}"),
                    )
                })
            }
            _ => Err(Fail::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "stored bucket properties have an unknown format version",
            )),
        },
    }
}

/// Replaces bucket `b`'s stored properties (`None`: back to the defaults).
pub fn set_props(
    ks: &Keyspace,
    wo: &WriteOptions,
    b: &BucketId,
    props: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Result<(), Fail> {
    let key = layout::props_key(b);
    check_key_len(&key)?;
    match props {
        None => ks.delete_opt(key, wo)?,
        Some(p) => {
            let mut raw = vec![crate::object::OBJECT_FORMAT];
            raw.extend_from_slice(serde_json::Value::Object(p.clone()).to_string().as_bytes());
            ks.put_opt(key, raw, wo)?;
        }
    }
    Ok(())
}
