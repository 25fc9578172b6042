//! `BatchGetItem` and `BatchWriteItem`.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::error::{DynError, DynResult};
use crate::expr::eval::project;
use crate::expr::parser::Placeholders;
use crate::ops::{
    State, check_item_size, check_table_name, now_ms, open_table, opt_obj, projection, req_item,
    tx_put, visible, with_retry,
};
use crate::types::value::{item_from_json, item_size, item_to_json};

/// Most keys one `BatchGetItem` may ask for.
pub const MAX_BATCH_GET: usize = 100;
/// Most requests one `BatchWriteItem` may hold.
pub const MAX_BATCH_WRITE: usize = 25;
/// A `BatchGetItem` response holds at most this many bytes of items, by DynamoDB's
/// item size of the whole items read (before projection): DynamoDB's 16 MB.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

fn request_items(b: &Value) -> DynResult<&Map<String, Value>> {
    let ri = opt_obj(b, "RequestItems")?.ok_or_else(|| super::missing("RequestItems"))?;
    if ri.is_empty() {
        return Err(DynError::validation(
            "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    for t in ri.keys() {
        check_table_name(t)?;
    }
    Ok(ri)
}

/// `BatchGetItem`: keys are read in request order until the next item would take
/// the response past 16 MB; that key and all after it come back in
/// `UnprocessedKeys` (with the table's other request parameters), everything before
/// it in `Responses` (a missing key read before the cut is in neither).
pub fn get(st: &State, b: &Value) -> DynResult<Value> {
    let ri = request_items(b)?;
    let total: usize = ri
        .values()
        .map(|r| r.get("Keys").and_then(Value::as_array).map_or(0, Vec::len))
        .sum();
    if total > MAX_BATCH_GET {
        return Err(DynError::validation(
            "Too many items requested for the BatchGetItem call",
        ));
    }
    let now = now_ms(&st.ctx.db)?;
    let snap = st.ctx.db.snapshot();
    let mut responses = Map::new();
    let mut unprocessed = Map::new();
    let mut size = 0usize;
    let mut full = false;
    for (name, req) in ri {
        let t = open_table(st, name)?;
        let keys = req
            .get("Keys")
            .and_then(Value::as_array)
            .ok_or_else(|| super::missing("Keys"))?;
        if keys.is_empty() {
            return Err(DynError::validation(
                "1 validation error detected: Value at 'requestItems.keys' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        let mut ph = Placeholders::from_request(req)?;
        let proj = projection(req, &mut ph)?;
        ph.check_unused()?;
        let mut seen = BTreeSet::new();
        let mut parsed = Vec::new();
        for k in keys {
            let ki = item_from_json(k)?;
            let ek = t.meta.key_of_key(&ki)?;
            if !seen.insert(ek.clone()) {
                return Err(DynError::validation(
                    "Provided list of item keys contains duplicates",
                ));
            }
            parsed.push((ek, k));
        }
        let mut out = Vec::new();
        let mut left = Vec::new();
        for (ek, k) in parsed {
            if full {
                left.push(k.clone());
                continue;
            }
            if let Some(v) = snap.get_in(&t.ks, &ek)?
                && let Some(item) = visible(&t.meta, &v, now)?
            {
                let n = item_size(&item);
                if size + n > MAX_RESPONSE_BYTES {
                    // This item and every key after it are left for the client to retry.
                    full = true;
                    left.push(k.clone());
                    continue;
                }
                size += n;
                let item = match &proj {
                    Some(p) => project(&item, p),
                    None => item,
                };
                out.push(item_to_json(&item));
            }
        }
        responses.insert(name.clone(), Value::Array(out));
        if !left.is_empty() {
            let mut r = req.as_object().cloned().unwrap_or_default();
            r.insert("Keys".into(), Value::Array(left));
            unprocessed.insert(name.clone(), Value::Object(r));
        }
    }
    Ok(json!({ "Responses": responses, "UnprocessedKeys": unprocessed }))
}

/// `BatchWriteItem`: all puts and deletes are applied in one atomic engine write.
pub fn write(st: &State, b: &Value) -> DynResult<Value> {
    let ri = request_items(b)?;
    let mut writes = Vec::new();
    let mut seen = BTreeSet::new();
    for (name, reqs) in ri {
        let t = open_table(st, name)?;
        let reqs = reqs.as_array().ok_or_else(|| {
            DynError::serialization("RequestItems values must be lists of write requests")
        })?;
        if reqs.is_empty() {
            return Err(DynError::validation(
                "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]",
            ));
        }
        for r in reqs {
            let (key, item) = match (opt_obj(r, "PutRequest")?, opt_obj(r, "DeleteRequest")?) {
                (Some(_), None) => {
                    let item = req_item(&r["PutRequest"], "Item")?;
                    check_item_size(&item)?;
                    (t.meta.key_of_item(&item)?, Some(item))
                }
                (None, Some(_)) => {
                    let key = req_item(&r["DeleteRequest"], "Key")?;
                    (t.meta.key_of_key(&key)?, None)
                }
                _ => {
                    return Err(DynError::validation(
                        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                    ));
                }
            };
            if !seen.insert((name.clone(), key.clone())) {
                return Err(DynError::validation(
                    "Provided list of item keys contains duplicates",
                ));
            }
            writes.push((t.clone(), key, item));
        }
    }
    if writes.len() > MAX_BATCH_WRITE {
        return Err(DynError::validation(
            "Too many items requested for the BatchWriteItem call",
        ));
    }
    with_retry(st, |tx| {
        for (t, key, item) in &writes {
            tx_put(tx, t, key, item.as_ref())?;
        }
        Ok(())
    })?;
    Ok(json!({ "UnprocessedItems": {} }))
}
