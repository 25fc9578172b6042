//! `PutItem`, `GetItem`, `DeleteItem`, `UpdateItem`, and the single-item write
//! step `TransactWriteItems` reuses.

use serde_json::{Map, Value, json};

use crate::error::{DynError, DynResult};
use crate::expr::eval::{self, project};
use crate::expr::parser::{
    Cond, Path, PathElem, Placeholders, UpdateAction, parse_condition, parse_update,
};
use crate::expr::update;
use crate::ops::{
    State, Table, check_item_size, consumed, now_ms, open_table, opt_str, projection,
    reject_legacy, req_item, table_name, tx_get, tx_put, visible, with_retry,
};
use crate::types::value::{Item, item_to_json};

/// What a write does to its item.
#[derive(Clone, Debug)]
pub enum Change {
    /// Replace the item.
    Put(Item),
    /// Apply update actions (creating the item from its key if absent).
    Update(Vec<UpdateAction>),
    /// Delete the item.
    Delete,
    /// Only check the condition.
    Check,
}

/// One single-item write: its table, key, change and condition.
#[derive(Clone, Debug)]
pub struct Write {
    /// The table.
    pub table: Table,
    /// The engine key.
    pub key: Vec<u8>,
    /// The key attributes.
    pub key_item: Item,
    /// What to do.
    pub change: Change,
    /// `ConditionExpression`, if any.
    pub cond: Option<Cond>,
}

/// The result of evaluating a write against the current item.
#[derive(Debug)]
pub enum Outcome {
    /// The condition failed.
    Failed,
    /// Nothing to write (a condition check).
    Keep,
    /// Store this item (`None`: delete).
    Store(Option<Item>),
}

impl Write {
    /// Parses the parameters of a `PutItem`-, `UpdateItem`-, `DeleteItem`- or
    /// `ConditionCheck`-shaped request.
    pub fn parse(st: &State, b: &Value, kind: &str) -> DynResult<(Write, Placeholders)> {
        reject_legacy(b)?;
        let table = open_table(st, table_name(b)?)?;
        let mut ph = Placeholders::from_request(b)?;
        let (key, key_item, change) = match kind {
            "Put" => {
                let item = req_item(b, "Item")?;
                let key = table.meta.key_of_item(&item)?;
                check_item_size(&item)?;
                (key, table.meta.key_item(&item), Change::Put(item))
            }
            _ => {
                let k = req_item(b, "Key")?;
                let key = table.meta.key_of_key(&k)?;
                let change = match kind {
                    "Update" => {
                        let src = opt_str(b, "UpdateExpression")?;
                        let actions = match src {
                            Some(s) => parse_update(s, &mut ph)?,
                            None => Vec::new(),
                        };
                        for a in &actions {
                            if let Some(PathElem::Name(n)) = a.path().first()
                                && table.meta.key_attrs().any(|ka| &ka.name == n)
                            {
                                return Err(DynError::validation(format!(
                                    "One or more parameter values were invalid: Cannot update attribute {n}. This attribute is part of the key"
                                )));
                            }
                        }
                        Change::Update(actions)
                    }
                    "Delete" => Change::Delete,
                    _ => Change::Check,
                };
                (key, k, change)
            }
        };
        let cond = match opt_str(b, "ConditionExpression")? {
            Some(c) => Some(parse_condition(c, "ConditionExpression", &mut ph)?),
            None => None,
        };
        if matches!(change, Change::Check) && cond.is_none() {
            return Err(super::missing("ConditionExpression"));
        }
        Ok((
            Write {
                table,
                key,
                key_item,
                change,
                cond,
            },
            ph,
        ))
    }

    /// What this write does given the current item `old`.
    pub fn evaluate(&self, old: Option<&Item>) -> DynResult<Outcome> {
        if let Some(c) = &self.cond
            && !eval::eval(old, c)
        {
            return Ok(Outcome::Failed);
        }
        Ok(match &self.change {
            Change::Check => Outcome::Keep,
            Change::Delete => Outcome::Store(None),
            Change::Put(item) => Outcome::Store(Some(item.clone())),
            Change::Update(actions) => {
                let mut item = old.cloned().unwrap_or_else(|| self.key_item.clone());
                update::apply(&mut item, actions)?;
                check_item_size(&item)?;
                Outcome::Store(Some(item))
            }
        })
    }
}

fn return_values<'a>(b: &'a Value, allowed: &[&str]) -> DynResult<&'a str> {
    let rv = opt_str(b, "ReturnValues")?.unwrap_or("NONE");
    if !allowed.contains(&rv) {
        return Err(DynError::validation("Return values set to invalid value"));
    }
    Ok(rv)
}

/// Runs one conditional write; returns the old and new items. With
/// `ReturnValuesOnConditionCheckFailure: ALL_OLD` a failed condition's error
/// carries the item.
fn run(st: &State, b: &Value, w: &Write) -> DynResult<(Option<Item>, Option<Item>)> {
    let want_old = opt_str(b, "ReturnValuesOnConditionCheckFailure")? == Some("ALL_OLD");
    let now = now_ms(&st.ctx.db)?;
    with_retry(st, |tx| {
        let old = tx_get(tx, &w.table, &w.key, now)?;
        match w.evaluate(old.as_ref())? {
            Outcome::Failed => {
                let mut e = DynError::conditional();
                if let (true, Some(o)) = (want_old, &old) {
                    e.extra.insert("Item".into(), item_to_json(o));
                }
                Err(e)
            }
            Outcome::Keep => Ok((old.clone(), old)),
            Outcome::Store(new) => {
                tx_put(tx, &w.table, &w.key, new.as_ref())?;
                Ok((old, new))
            }
        }
    })
}

fn respond(b: &Value, w: &Write, attrs: Option<&Item>) -> Value {
    let mut out = Map::new();
    if let Some(a) = attrs {
        out.insert("Attributes".into(), item_to_json(a));
    }
    consumed(b, &w.table.meta.name, 1.0, &mut out);
    Value::Object(out)
}

/// `PutItem`.
pub fn put(st: &State, b: &Value) -> DynResult<Value> {
    let rv = return_values(b, &["NONE", "ALL_OLD"])?;
    let (w, ph) = Write::parse(st, b, "Put")?;
    ph.check_unused()?;
    let (old, _) = run(st, b, &w)?;
    Ok(respond(b, &w, old.as_ref().filter(|_| rv == "ALL_OLD")))
}

/// `DeleteItem`.
pub fn delete(st: &State, b: &Value) -> DynResult<Value> {
    let rv = return_values(b, &["NONE", "ALL_OLD"])?;
    let (w, ph) = Write::parse(st, b, "Delete")?;
    ph.check_unused()?;
    let (old, _) = run(st, b, &w)?;
    Ok(respond(b, &w, old.as_ref().filter(|_| rv == "ALL_OLD")))
}

/// `UpdateItem`.
pub fn update(st: &State, b: &Value) -> DynResult<Value> {
    let rv = return_values(
        b,
        &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"],
    )?;
    let (w, ph) = Write::parse(st, b, "Update")?;
    ph.check_unused()?;
    let (old, new) = run(st, b, &w)?;
    let paths: Vec<Path> = match &w.change {
        Change::Update(a) => a.iter().map(|a| a.path().clone()).collect(),
        _ => Vec::new(),
    };
    let attrs = match rv {
        "ALL_OLD" => old,
        "ALL_NEW" => new,
        "UPDATED_OLD" => old.map(|o| project(&o, &paths)),
        "UPDATED_NEW" => new.map(|n| project(&n, &paths)),
        _ => None,
    };
    Ok(respond(b, &w, attrs.as_ref().filter(|a| !a.is_empty())))
}

/// `GetItem`.
pub fn get(st: &State, b: &Value) -> DynResult<Value> {
    reject_legacy(b)?;
    let t = open_table(st, table_name(b)?)?;
    super::opt_bool(b, "ConsistentRead")?;
    let key = t.meta.key_of_key(&req_item(b, "Key")?)?;
    let mut ph = Placeholders::from_request(b)?;
    let proj = projection(b, &mut ph)?;
    ph.check_unused()?;
    let now = now_ms(&st.ctx.db)?;
    let item = match t.ks.get(&key)? {
        Some(v) => visible(&t.meta, &v, now)?,
        None => None,
    };
    let mut out = Map::new();
    if let Some(item) = item {
        let item = match &proj {
            Some(p) => project(&item, p),
            None => item,
        };
        out.insert("Item".into(), item_to_json(&item));
    }
    consumed(b, &t.meta.name, 0.5, &mut out);
    Ok(if out.is_empty() {
        json!({})
    } else {
        Value::Object(out)
    })
}
