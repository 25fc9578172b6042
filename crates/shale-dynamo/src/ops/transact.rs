//! `TransactWriteItems` (one engine transaction: all or nothing) and
//! `TransactGetItems` (one snapshot).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::error::{DynError, DynResult};
use crate::expr::eval::project;
use crate::expr::parser::Placeholders;
use crate::ops::item::{Outcome, Write};
use crate::ops::{
    State, now_ms, open_table, opt_arr, opt_str, projection, req_item, table_name, tx_get, tx_put,
    visible, with_retry,
};
use crate::types::value::item_to_json;

/// Most actions in one transaction.
pub const MAX_TRANSACT_ITEMS: usize = 100;

fn items(b: &Value) -> DynResult<&Vec<Value>> {
    let items = opt_arr(b, "TransactItems")?.ok_or_else(|| super::missing("TransactItems"))?;
    if items.is_empty() || items.len() > MAX_TRANSACT_ITEMS {
        return Err(DynError::validation(format!(
            "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to {MAX_TRANSACT_ITEMS} and greater than or equal to 1"
        )));
    }
    Ok(items)
}

/// The single action of one `TransactItems` entry: its kind and parameters.
fn action<'a>(entry: &'a Value, kinds: &[&'static str]) -> DynResult<(&'static str, &'a Value)> {
    let mut found = None;
    for k in kinds {
        if let Some(v) = entry.get(*k).filter(|v| !v.is_null()) {
            if found.is_some() {
                return Err(DynError::validation(
                    "TransactItems can only contain one of Check, Put, Update or Delete",
                ));
            }
            found = Some((*k, v));
        }
    }
    found.ok_or_else(|| {
        DynError::validation("TransactItems can only contain one of Check, Put, Update or Delete")
    })
}

/// `TransactWriteItems`.
pub fn write(st: &State, b: &Value) -> DynResult<Value> {
    let entries = items(b)?;
    opt_str(b, "ClientRequestToken")?;
    let mut writes: Vec<(Write, bool)> = Vec::with_capacity(entries.len());
    let mut seen = BTreeSet::new();
    for e in entries {
        let (kind, params) = action(e, &["ConditionCheck", "Put", "Update", "Delete"])?;
        let short = if kind == "ConditionCheck" {
            "Check"
        } else {
            kind
        };
        let (w, ph) = Write::parse(st, params, short)?;
        ph.check_unused()?;
        if !seen.insert((w.table.meta.name.clone(), w.key.clone())) {
            return Err(DynError::validation(
                "Transaction request cannot include multiple operations on one item",
            ));
        }
        let want_old = opt_str(params, "ReturnValuesOnConditionCheckFailure")? == Some("ALL_OLD");
        writes.push((w, want_old));
    }
    let now = now_ms(&st.ctx.db)?;
    with_retry(st, |tx| {
        let mut reasons = Vec::with_capacity(writes.len());
        let mut failed = false;
        let mut stores = Vec::new();
        for (w, want_old) in &writes {
            let old = tx_get(tx, &w.table, &w.key, now)?;
            match w.evaluate(old.as_ref()) {
                Ok(Outcome::Failed) => {
                    failed = true;
                    let mut r = Map::new();
                    r.insert("Code".into(), json!("ConditionalCheckFailed"));
                    r.insert("Message".into(), json!("The conditional request failed"));
                    if let (true, Some(o)) = (*want_old, &old) {
                        r.insert("Item".into(), item_to_json(o));
                    }
                    reasons.push(Value::Object(r));
                }
                Ok(Outcome::Keep) => reasons.push(json!({"Code": "None"})),
                Ok(Outcome::Store(new)) => {
                    reasons.push(json!({"Code": "None"}));
                    stores.push((w, new));
                }
                Err(e) if e.name == "ValidationException" => {
                    failed = true;
                    reasons.push(json!({"Code": "ValidationError", "Message": e.message}));
                }
                Err(e) => return Err(e),
            }
        }
        if failed {
            let codes: Vec<&str> = reasons
                .iter()
                .map(|r| r.get("Code").and_then(Value::as_str).unwrap_or("None"))
                .collect();
            let mut err = DynError::new(
                "TransactionCanceledException",
                format!(
                    "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                    codes.join(", ")
                ),
            );
            err.extra
                .insert("CancellationReasons".into(), Value::Array(reasons));
            return Err(err);
        }
        for (w, new) in stores {
            tx_put(tx, &w.table, &w.key, new.as_ref())?;
        }
        Ok(())
    })?;
    Ok(json!({}))
}

/// `TransactGetItems`: every item read from one snapshot.
pub fn get(st: &State, b: &Value) -> DynResult<Value> {
    let entries = items(b)?;
    let mut gets = Vec::with_capacity(entries.len());
    for e in entries {
        let (_, params) = action(e, &["Get"])?;
        let t = open_table(st, table_name(params)?)?;
        let key = t.meta.key_of_key(&req_item(params, "Key")?)?;
        let mut ph = Placeholders::from_request(params)?;
        let proj = projection(params, &mut ph)?;
        ph.check_unused()?;
        gets.push((t, key, proj));
    }
    let now = now_ms(&st.ctx.db)?;
    let snap = st.ctx.db.snapshot();
    let mut out = Vec::with_capacity(gets.len());
    for (t, key, proj) in &gets {
        let item = match snap.get_in(&t.ks, key)? {
            Some(v) => visible(&t.meta, &v, now)?,
            None => None,
        };
        out.push(match item {
            Some(i) => {
                let i = match proj {
                    Some(p) => project(&i, p),
                    None => i,
                };
                json!({ "Item": item_to_json(&i) })
            }
            None => json!({}),
        });
    }
    Ok(json!({ "Responses": out }))
}
