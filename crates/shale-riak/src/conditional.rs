//! Conditional requests (`If-Match`, `If-None-Match`, `If-Modified-Since`,
//! `If-Unmodified-Since`), evaluated in RFC 9110's order as Riak's webmachine does.
//!
//! Entity tags compare on the vtag (quotes and a `W/` prefix are ignored). Dates
//! have one-second precision; a date that does not parse is ignored, as HTTP says.

use std::time::UNIX_EPOCH;

use axum::http::{HeaderMap, header};

use crate::object::StoredObject;
use crate::reply::Fail;

/// The outcome of the preconditions of a request on an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go on with the request.
    Proceed,
    /// 304 Not Modified (reads only).
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Result<Option<&str>, Fail> {
    match headers.get(&name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| Fail::bad_request(format!("Malformed {name} header"))),
    }
}

fn tag_matches(list: &str, obj: &StoredObject) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/").trim_matches('"') == obj.vtag.as_str())
}

fn date_secs(text: &str) -> Option<u64> {
    let t = httpdate::parse_http_date(text.trim()).ok()?;
    Some(t.duration_since(UNIX_EPOCH).ok()?.as_secs())
}

/// Evaluates the request's preconditions against the current version of the
/// object (`None`: it does not exist). `read` is true for GET and HEAD.
pub fn evaluate(
    headers: &HeaderMap,
    current: Option<&StoredObject>,
    read: bool,
) -> Result<Verdict, Fail> {
    if let Some(list) = header_str(headers, header::IF_MATCH)? {
        match current {
            Some(obj) if tag_matches(list, obj) => {}
            _ => return Ok(Verdict::Failed),
        }
    } else if let Some(date) = header_str(headers, header::IF_UNMODIFIED_SINCE)?
        && let (Some(obj), Some(secs)) = (current, date_secs(date))
        && obj.last_modified_secs() > secs
    {
        return Ok(Verdict::Failed);
    }
    let stale = if read {
        Verdict::NotModified
    } else {
        Verdict::Failed
    };
    if let Some(list) = header_str(headers, header::IF_NONE_MATCH)? {
        if let Some(obj) = current
            && tag_matches(list, obj)
        {
            return Ok(stale);
        }
    } else if read
        && let Some(date) = header_str(headers, header::IF_MODIFIED_SINCE)?
        && let (Some(obj), Some(secs)) = (current, date_secs(date))
        && obj.last_modified_secs() <= secs
    {
        return Ok(Verdict::NotModified);
    }
    Ok(Verdict::Proceed)
}

/// [`evaluate`] for writes and deletes: anything but `Proceed` is a 412.
pub fn check_write(headers: &HeaderMap, current: Option<&StoredObject>) -> Result<(), Fail> {
    match evaluate(headers, current, false)? {
        Verdict::Proceed => Ok(()),
        _ => Err(Fail::precondition_failed()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    fn obj() -> StoredObject {
        StoredObject {
            counter: 1,
            last_modified_ms: 1_700_000_000_500,
            vtag: "v1".into(),
            content_type: b"text/plain".to_vec(),
            content_encoding: Vec::new(),
            links: Vec::new(),
            meta: vec![],
            indexes: vec![],
            value: vec![],
        }
    }

    fn h(name: header::HeaderName, v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(name, HeaderValue::from_str(v).unwrap());
        m
    }

    #[test]
    fn each_header() {
        let o = obj();
        let ev = |m: &HeaderMap, read| evaluate(m, Some(&o), read).unwrap();
        assert_eq!(ev(&h(header::IF_MATCH, "\"v1\""), false), Verdict::Proceed);
        assert_eq!(ev(&h(header::IF_MATCH, "\"v2\""), false), Verdict::Failed);
        assert_eq!(
            evaluate(&h(header::IF_MATCH, "*"), None, false).unwrap(),
            Verdict::Failed
        );
        assert_eq!(ev(&h(header::IF_NONE_MATCH, "*"), false), Verdict::Failed);
        assert_eq!(
            ev(&h(header::IF_NONE_MATCH, "\"v1\""), true),
            Verdict::NotModified
        );
        assert_eq!(
            ev(&h(header::IF_NONE_MATCH, "\"x\", \"v1\""), false),
            Verdict::Failed
        );
        assert_eq!(
            ev(&h(header::IF_NONE_MATCH, "\"x\""), true),
            Verdict::Proceed
        );
        assert_eq!(
            evaluate(&h(header::IF_NONE_MATCH, "*"), None, false).unwrap(),
            Verdict::Proceed
        );
        let same = "Tue, 14 Nov 2023 22:13:20 GMT";
        let before = "Tue, 14 Nov 2023 22:13:19 GMT";
        assert_eq!(
            ev(&h(header::IF_MODIFIED_SINCE, same), true),
            Verdict::NotModified
        );
        assert_eq!(
            ev(&h(header::IF_MODIFIED_SINCE, before), true),
            Verdict::Proceed
        );
        assert_eq!(
            ev(&h(header::IF_MODIFIED_SINCE, same), false),
            Verdict::Proceed
        );
        assert_eq!(
            ev(&h(header::IF_MODIFIED_SINCE, "garbage"), true),
            Verdict::Proceed
        );
        assert_eq!(
            ev(&h(header::IF_UNMODIFIED_SINCE, same), false),
            Verdict::Proceed
        );
        assert_eq!(
            ev(&h(header::IF_UNMODIFIED_SINCE, before), false),
            Verdict::Failed
        );
    }
}
