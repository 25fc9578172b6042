//! `GET/HEAD/PUT/POST/DELETE /buckets/B/keys/K` and `POST /buckets/B/keys`.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::Rng;

use super::{Req, Res, St, blocking};
use crate::conditional::{self, Verdict};
use crate::layout::{BucketId, Term, encode_segment};
use crate::object::StoredObject;
use crate::reply::Fail;
use crate::store;

/// Content type of objects stored without one.
const DEFAULT_CONTENT_TYPE: &[u8] = b"application/octet-stream";
const META_PREFIX: &str = "x-riak-meta-";
const INDEX_PREFIX: &str = "x-riak-index-";

/// What a write request says about the new version, before it meets the old one.
#[derive(Clone)]
struct Content {
    content_type: Vec<u8>,
    content_encoding: Vec<u8>,
    links: Vec<u8>,
    meta: Vec<(String, Vec<u8>)>,
    indexes: Vec<(String, Term)>,
    value: Vec<u8>,
}

/// Checks an index name: `…_bin` or `…_int`, lower case as headers arrive.
pub(crate) fn check_index_name(name: &str) -> Result<(), Fail> {
    let ok =
        (name.ends_with("_bin") || name.ends_with("_int")) && name.len() > 4 && name.len() <= 1024;
    if ok {
        Ok(())
    } else {
        Err(Fail::bad_request(format!(
            "Unknown field type for field: '{name}' (index names end in _bin or _int)"
        )))
    }
}

/// Longest metadata name accepted (the stored layout has a u16 length).
const MAX_META_NAME: usize = 1024;

fn parse_content(headers: &HeaderMap, value: Vec<u8>, max_items: usize) -> Result<Content, Fail> {
    // The stored layout counts metadata and index entries with a u16.
    let max_items = max_items.min(usize::from(u16::MAX));
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map_or(DEFAULT_CONTENT_TYPE, HeaderValue::as_bytes)
        .to_vec();
    let content_encoding = headers
        .get(header::CONTENT_ENCODING)
        .map_or(&b""[..], HeaderValue::as_bytes)
        .to_vec();
    if content_type.len() > 4096 || content_encoding.len() > 4096 {
        return Err(Fail::bad_request(
            "Content-Type or Content-Encoding header too long",
        ));
    }
    // Links the client sent (Riak keeps them); the "up" link is Riak's own.
    let mut links: Vec<u8> = Vec::new();
    for v in headers.get_all(header::LINK) {
        for link in v.as_bytes().split(|&c| c == b',') {
            let link = link.trim_ascii();
            if link.is_empty() || link.ends_with(b"rel=\"up\"") {
                continue;
            }
            if !links.is_empty() {
                links.extend_from_slice(b", ");
            }
            links.extend_from_slice(link);
        }
    }
    let mut meta: Vec<(String, Vec<u8>)> = Vec::new();
    let mut indexes: Vec<(String, Term)> = Vec::new();
    for (name, v) in headers {
        let name = name.as_str();
        if let Some(m) = name.strip_prefix(META_PREFIX) {
            if m.is_empty() {
                continue;
            }
            if m.len() > MAX_META_NAME {
                return Err(Fail::bad_request(format!(
                    "X-Riak-Meta- header name longer than {MAX_META_NAME} bytes"
                )));
            }
            match meta.iter_mut().find(|(n, _)| n == m) {
                Some((_, old)) => {
                    old.extend_from_slice(b", ");
                    old.extend_from_slice(v.as_bytes());
                }
                None => meta.push((m.to_string(), v.as_bytes().to_vec())),
            }
        } else if let Some(ix) = name.strip_prefix(INDEX_PREFIX) {
            check_index_name(ix)?;
            for term in v.as_bytes().split(|&c| c == b',') {
                let term = term.trim_ascii();
                if term.is_empty() {
                    continue;
                }
                let t = Term::parse(ix, term).map_err(Fail::bad_request)?;
                if !indexes.iter().any(|(n, x)| n == ix && *x == t) {
                    indexes.push((ix.to_string(), t));
                }
            }
        }
    }
    if meta.len() > max_items || indexes.len() > max_items {
        return Err(Fail::bad_request(format!(
            "Too many metadata or index entries (at most {max_items} each)"
        )));
    }
    indexes.sort();
    Ok(Content {
        content_type,
        content_encoding,
        links,
        meta,
        indexes,
        value,
    })
}

/// A fresh entity tag: 22 random base-62 characters, like Riak's vtags.
fn new_vtag() -> String {
    random_base62(22)
}

fn random_base62(n: usize) -> String {
    const CHARS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

/// Now, in ms since the epoch, from the Db's clock.
fn now_ms(st: &St) -> u64 {
    st.ctx
        .db
        .expiry_after(std::time::Duration::from_millis(1))
        .map_or(0, |t| t.saturating_sub(1))
}

fn header_value(b: &[u8]) -> Option<HeaderValue> {
    HeaderValue::from_bytes(b).ok()
}

/// The headers Riak returns with an object.
fn object_headers(b: &BucketId, obj: &StoredObject) -> HeaderMap {
    let mut h = HeaderMap::new();
    let ct = header_value(&obj.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, ct);
    if let Some(v) = header_value(obj.vclock().as_bytes()) {
        h.insert(HeaderName::from_static("x-riak-vclock"), v);
    }
    if let Some(v) = header_value(obj.etag().as_bytes()) {
        h.insert(header::ETAG, v);
    }
    if let Some(v) = header_value(obj.last_modified_http().as_bytes()) {
        h.insert(header::LAST_MODIFIED, v);
    }
    let mut link = format!("<{}>; rel=\"up\"", b.url()).into_bytes();
    if !obj.links.is_empty() {
        link.extend_from_slice(b", ");
        link.extend_from_slice(&obj.links);
    }
    if let Some(v) = header_value(&link) {
        h.insert(header::LINK, v);
    }
    if !obj.content_encoding.is_empty()
        && let Some(v) = header_value(&obj.content_encoding)
    {
        h.insert(header::CONTENT_ENCODING, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    for (name, value) in &obj.meta {
        if let (Ok(n), Some(v)) = (
            HeaderName::try_from(format!("{META_PREFIX}{name}")),
            header_value(value),
        ) {
            h.append(n, v);
        }
    }
    let mut names: Vec<&str> = obj.indexes.iter().map(|(n, _)| n.as_str()).collect();
    names.dedup();
    for name in names {
        // Terms as sent (bin terms as raw bytes), comma-separated.
        let mut joined: Vec<u8> = Vec::new();
        for (_, t) in obj.indexes.iter().filter(|(n, _)| n == name) {
            if !joined.is_empty() {
                joined.extend_from_slice(b", ");
            }
            match t {
                Term::Bin(b) => joined.extend_from_slice(b),
                Term::Int(i) => joined.extend_from_slice(i.to_string().as_bytes()),
            }
        }
        if let (Ok(n), Some(v)) = (
            HeaderName::try_from(format!("{INDEX_PREFIX}{name}")),
            header_value(&joined),
        ) {
            h.append(n, v);
        }
    }
    h
}

fn with_body(status: StatusCode, headers: HeaderMap, body: Vec<u8>) -> Response {
    (status, headers, body).into_response()
}

/// `GET` (and `HEAD`) of one object.
pub(super) async fn get(st: &St, b: BucketId, key: Vec<u8>, r: Req) -> Res {
    let ks = st.keyspace()?;
    let obj = blocking(st, || store::get(&ks, &b, &key))?;
    st.count_get();
    let verdict = conditional::evaluate(&r.headers, obj.as_ref(), true)?;
    let Some(obj) = obj else {
        return match verdict {
            Verdict::Failed => Err(Fail::precondition_failed()),
            _ => Err(Fail::not_found()),
        };
    };
    let headers = object_headers(&b, &obj);
    match verdict {
        Verdict::Proceed => Ok(with_body(StatusCode::OK, headers, obj.value)),
        Verdict::NotModified => {
            let mut h = HeaderMap::new();
            for name in [header::ETAG, header::LAST_MODIFIED] {
                if let Some(v) = headers.get(&name) {
                    h.insert(name, v.clone());
                }
            }
            Ok((StatusCode::NOT_MODIFIED, h).into_response())
        }
        Verdict::Failed => Err(Fail::precondition_failed()),
    }
}

/// Stores `content` as the new version of `key`; the version written.
async fn store_content(
    st: &St,
    b: &BucketId,
    key: &[u8],
    headers: &HeaderMap,
    content: Content,
    must_be_new: bool,
) -> Result<StoredObject, Fail> {
    let ks = st.keyspace()?;
    let wo = st.ctx.write_options();
    let now = now_ms(st);
    let written = blocking(st, || {
        store::put(&st.ctx.db, &ks, &wo, b, key, |old| {
            if must_be_new && old.is_some() {
                return Err(Fail::new(StatusCode::CONFLICT, "generated key collided"));
            }
            conditional::check_write(headers, old)?;
            Ok(StoredObject {
                counter: old.map_or(1, |o| o.counter.saturating_add(1)),
                last_modified_ms: now,
                vtag: new_vtag(),
                content_type: content.content_type.clone(),
                content_encoding: content.content_encoding.clone(),
                links: content.links.clone(),
                meta: content.meta.clone(),
                indexes: content.indexes.clone(),
                value: content.value.clone(),
            })
        })
    })?;
    st.count_put();
    Ok(written)
}

/// `PUT` or `POST` to an object's URL: store (last write wins).
pub(super) async fn put(st: &St, b: BucketId, key: Vec<u8>, r: Req) -> Res {
    let returnbody = r.flag("returnbody");
    let (headers, value) = r.read_body(st.ctx.limits.max_request_bytes).await?;
    let content = parse_content(&headers, value, st.ctx.limits.max_items_per_command)?;
    let obj = store_content(st, &b, &key, &headers, content, false).await?;
    if returnbody {
        Ok(with_body(
            StatusCode::OK,
            object_headers(&b, &obj),
            obj.value,
        ))
    } else {
        Ok(StatusCode::NO_CONTENT.into_response())
    }
}

/// `POST /buckets/B/keys`: store under a generated key; 201 with `Location`.
pub(super) async fn create(st: &St, b: BucketId, r: Req) -> Res {
    let returnbody = r.flag("returnbody");
    let (headers, value) = r.read_body(st.ctx.limits.max_request_bytes).await?;
    let content = parse_content(&headers, value, st.ctx.limits.max_items_per_command)?;
    let mut attempt = 0;
    let (key, obj) = loop {
        let key = random_base62(27).into_bytes();
        match store_content(st, &b, &key, &headers, content.clone(), true).await {
            Ok(obj) => break (key, obj),
            Err(e) if e.status == StatusCode::CONFLICT && attempt < 8 => attempt += 1,
            Err(e) => return Err(e),
        }
    };
    let location = format!("{}/keys/{}", b.url(), encode_segment(&key));
    let mut headers = if returnbody {
        object_headers(&b, &obj)
    } else {
        HeaderMap::new()
    };
    if let Some(v) = header_value(location.as_bytes()) {
        headers.insert(header::LOCATION, v);
    }
    let body = if returnbody { obj.value } else { Vec::new() };
    Ok(with_body(StatusCode::CREATED, headers, body))
}

/// `DELETE` of one object: 204, or 404 if it does not exist.
pub(super) async fn delete(st: &St, b: BucketId, key: Vec<u8>, r: Req) -> Res {
    let ks = st.keyspace()?;
    let wo = st.ctx.write_options();
    let headers = r.headers;
    blocking(st, || {
        store::delete(&st.ctx.db, &ks, &wo, &b, &key, |old| {
            conditional::check_write(&headers, old)
        })
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
