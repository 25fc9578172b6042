//! Secondary-index queries: `GET /buckets/B/index/NAME/VALUE` and
//! `/buckets/B/index/NAME/START/END`, with `$bucket` and `$key`, `return_terms`,
//! `max_results` and `continuation`.

use axum::http::Method;
use serde_json::{Value, json};

use super::objects::check_index_name;
use super::{Req, Res, St, blocking, method_not_allowed, text};
use crate::base64;
use crate::layout::{BucketId, Term};
use crate::reply::Fail;
use crate::store::{self, IndexQuery};

/// Runs an index query; `terms` is `[value]` or `[start, end]`.
pub(super) async fn query(st: &St, b: BucketId, name: &[u8], terms: &[&[u8]], r: Req) -> Res {
    if r.method != Method::GET && r.method != Method::HEAD {
        return Ok(method_not_allowed("GET, HEAD"));
    }
    let name = std::str::from_utf8(name)
        .map_err(|_| Fail::bad_request("Index name must be UTF-8"))?
        .to_ascii_lowercase();
    let (start, end) = match terms {
        [v] => (*v, *v),
        [s, e] => (*s, *e),
        _ => {
            return Err(Fail::bad_request(
                "Index query must be /index/NAME/VALUE or /index/NAME/START/END",
            ));
        }
    };
    let (start, end) = match name.as_str() {
        "$bucket" => (Term::Bin(Vec::new()), Term::Bin(Vec::new())),
        "$key" => (Term::Bin(start.to_vec()), Term::Bin(end.to_vec())),
        n => {
            check_index_name(n)?;
            (
                Term::parse(n, start).map_err(Fail::bad_request)?,
                Term::parse(n, end).map_err(Fail::bad_request)?,
            )
        }
    };
    let max_results = match r.param("max_results") {
        None => None,
        Some(m) => match m.parse::<usize>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(Fail::bad_request(format!("Invalid max_results: {m}"))),
        },
    };
    let after = match r.param("continuation") {
        None | Some("") => None,
        Some(c) => Some(
            base64::decode(c)
                .ok_or_else(|| Fail::bad_request(format!("Invalid continuation: {c}")))?,
        ),
    };
    let return_terms = r.flag("return_terms");
    let q = IndexQuery {
        index: name,
        start,
        end,
        max_results,
        after,
    };
    let ks = st.keyspace()?;
    let page = blocking(st, || store::query_index(&ks, &b, &q))?;
    let mut out = serde_json::Map::new();
    if return_terms {
        let results: Vec<Value> = page
            .results
            .iter()
            .map(|(t, k)| {
                let mut m = serde_json::Map::new();
                m.insert(t.to_text(), Value::String(text(k)));
                Value::Object(m)
            })
            .collect();
        out.insert("results".into(), Value::Array(results));
    } else {
        // An object with several terms in the range is listed once per page.
        let mut seen = std::collections::HashSet::new();
        let keys: Vec<String> = page
            .results
            .iter()
            .filter(|(_, k)| seen.insert(k.as_slice()))
            .map(|(_, k)| text(k))
            .collect();
        out.insert("keys".into(), json!(keys));
    }
    if let Some(c) = page.continuation {
        out.insert("continuation".into(), Value::String(base64::encode(&c)));
    }
    Ok(super::json(&Value::Object(out)))
}
