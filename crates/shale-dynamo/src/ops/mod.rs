//! DynamoDB operations: dispatch by name, request parameter helpers, and the item
//! storage every operation shares (encoding, TTL filtering, conflict retries).

pub mod batch;
pub mod item;
pub mod query;
pub mod table;
pub mod transact;
pub mod ttl;

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use shale_server::{ConflictRetry, Context};
use shaledb::{Db, Keyspace, Transaction};

use crate::catalog::{Catalog, TableMeta};
use crate::config::DynamoConfig;
use crate::error::{DynError, DynResult};
use crate::expr::parser::{Path, Placeholders, parse_projection};
use crate::types::value::{AttributeValue, Item, item_from_json, item_to_json};

/// Version byte in front of each stored item.
const ITEM_VERSION: u8 = 1;
/// Largest item DynamoDB stores (400 KB).
pub const MAX_ITEM_SIZE: usize = 400 * 1024;

/// What every request handler shares.
#[derive(Debug)]
pub struct State {
    /// The server context (database, limits, metrics, shutdown).
    pub ctx: Context,
    /// The front end's configuration.
    pub config: DynamoConfig,
    /// Serialises table creation and deletion.
    pub ddl: Mutex<()>,
}

/// Shared handle type.
pub type SharedState = Arc<State>;

/// Every operation this front end implements.
pub const OPERATIONS: [&str; 19] = [
    "CreateTable",
    "DescribeTable",
    "ListTables",
    "DeleteTable",
    "UpdateTable",
    "PutItem",
    "GetItem",
    "DeleteItem",
    "UpdateItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "TransactGetItems",
    "UpdateTimeToLive",
    "DescribeTimeToLive",
    "DescribeLimits",
    "DescribeEndpoints",
];

/// Runs operation `op` on request body `body` (blocking engine work).
pub fn dispatch(st: &State, op: &str, body: &Value) -> DynResult<Value> {
    match op {
        "CreateTable" => table::create(st, body),
        "DescribeTable" => table::describe(st, body),
        "ListTables" => table::list(st, body),
        "DeleteTable" => table::delete(st, body),
        "UpdateTable" => table::update(st, body),
        "PutItem" => item::put(st, body),
        "GetItem" => item::get(st, body),
        "DeleteItem" => item::delete(st, body),
        "UpdateItem" => item::update(st, body),
        "Query" => query::query(st, body),
        "Scan" => query::scan(st, body),
        "BatchGetItem" => batch::get(st, body),
        "BatchWriteItem" => batch::write(st, body),
        "TransactWriteItems" => transact::write(st, body),
        "TransactGetItems" => transact::get(st, body),
        "UpdateTimeToLive" => ttl::update(st, body),
        "DescribeTimeToLive" => ttl::describe(st, body),
        "DescribeLimits" => Ok(serde_json::json!({
            "AccountMaxReadCapacityUnits": 80000, "AccountMaxWriteCapacityUnits": 80000,
            "TableMaxReadCapacityUnits": 40000, "TableMaxWriteCapacityUnits": 40000
        })),
        "DescribeEndpoints" => Ok(serde_json::json!({
            "Endpoints": [{"Address": st.config.addr, "CachePeriodInMinutes": 1440}]
        })),
        _ => Err(DynError::new(
            "UnknownOperationException",
            format!("Unknown operation: {op}"),
        )),
    }
}

/// A table: its metadata and its item keyspace.
#[derive(Clone, Debug)]
pub struct Table {
    /// The catalog record.
    pub meta: TableMeta,
    /// The keyspace holding its items.
    pub ks: Keyspace,
}

/// The catalog of `st`'s database.
pub fn catalog(st: &State) -> DynResult<Catalog> {
    Catalog::open(&st.ctx.db)
}

/// Opens table `name` or fails with `ResourceNotFoundException`.
pub fn open_table(st: &State, name: &str) -> DynResult<Table> {
    let meta = catalog(st)?.require(name)?;
    let ks = st.ctx.db.keyspace(&meta.keyspace_name())?;
    Ok(Table { meta, ks })
}

/// Now, in ms since the epoch, by the database's clock.
pub fn now_ms(db: &Db) -> DynResult<u64> {
    Ok(db
        .expiry_after(std::time::Duration::from_millis(1))?
        .saturating_sub(1))
}

/// The item's TTL in ms since the epoch, when its table has TTL enabled and the
/// item has a positive whole number of epoch seconds in the TTL attribute.
pub fn expiry_ms(meta: &TableMeta, item: &Item) -> Option<u64> {
    if !meta.ttl_enabled {
        return None;
    }
    let attr = meta.ttl_attr.as_ref()?;
    let AttributeValue::N(n) = item.get(attr)? else {
        return None;
    };
    if n.is_negative() || n.is_zero() {
        return None;
    }
    // Fractions of a second are dropped.
    let digits = n.digits();
    let int_len = usize::try_from(n.exponent()).ok()?;
    if int_len > 15 {
        return None;
    }
    let mut secs: u64 = 0;
    for i in 0..int_len {
        secs = secs * 10 + u64::from(digits.get(i).copied().unwrap_or(0));
    }
    secs.checked_mul(1000)
}

/// True if the item's TTL has passed: it is treated as deleted.
pub fn expired(meta: &TableMeta, item: &Item, now_ms: u64) -> bool {
    expiry_ms(meta, item).is_some_and(|e| e <= now_ms)
}

/// The stored form of an item: a version byte, then its DynamoDB JSON.
pub fn encode_item(item: &Item) -> Vec<u8> {
    let mut v = vec![ITEM_VERSION];
    // Serialising a serde_json::Value cannot fail.
    v.extend(serde_json::to_vec(&item_to_json(item)).unwrap_or_default());
    v
}

/// Decodes a stored item.
pub fn decode_item(bytes: &[u8]) -> DynResult<Item> {
    match bytes.split_first() {
        Some((&ITEM_VERSION, rest)) => {
            let v: Value = serde_json::from_slice(rest).map_err(DynError::internal)?;
            item_from_json(&v)
        }
        _ => Err(DynError::internal("unknown item record version")),
    }
}

/// A stored item that is not expired.
pub fn visible(meta: &TableMeta, bytes: &[u8], now: u64) -> DynResult<Option<Item>> {
    let item = decode_item(bytes)?;
    Ok((!expired(meta, &item, now)).then_some(item))
}

/// Reads an item inside a transaction (expired items read as absent).
pub fn tx_get(tx: &mut Transaction, t: &Table, key: &[u8], now: u64) -> DynResult<Option<Item>> {
    match tx.get_in(&t.ks, key)? {
        Some(b) => visible(&t.meta, &b, now),
        None => Ok(None),
    }
}

/// Writes (`Some`) or deletes (`None`) an item inside a transaction, with engine
/// expiry when the table has TTL and the item a TTL value.
pub fn tx_put(tx: &mut Transaction, t: &Table, key: &[u8], item: Option<&Item>) -> DynResult<()> {
    match item {
        Some(item) => {
            let v = encode_item(item);
            match expiry_ms(&t.meta, item) {
                Some(e) => tx.put_with_expiry_in(&t.ks, key, v, e)?,
                None => tx.put_in(&t.ks, key, v)?,
            }
        }
        None => tx.delete_in(&t.ks, key)?,
    }
    Ok(())
}

/// Runs `f` in a transaction and commits it, retrying on write conflicts with
/// the servers' shared backoff ([`ConflictRetry`]).
pub fn with_retry<T>(
    st: &State,
    mut f: impl FnMut(&mut Transaction) -> DynResult<T>,
) -> DynResult<T> {
    let wo = st.ctx.write_options();
    let mut retry = ConflictRetry::new();
    while retry.next_attempt() {
        let mut tx = st.ctx.db.transaction();
        let r = f(&mut tx)?;
        match tx.commit_opt(&wo) {
            Ok(()) => return Ok(r),
            Err(shaledb::Error::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(DynError::new(
        "TransactionConflictException",
        "Transaction is ongoing for the item",
    ))
}

/// Checks an item's size against DynamoDB's 400 KB limit.
pub fn check_item_size(item: &Item) -> DynResult<()> {
    if crate::types::value::item_size(item) > MAX_ITEM_SIZE {
        return Err(DynError::validation(
            "Item size has exceeded the maximum allowed size",
        ));
    }
    Ok(())
}

// ---- request parameters -------------------------------------------------------

fn lower_first(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The error DynamoDB gives for a missing required parameter.
pub fn missing(name: &str) -> DynError {
    DynError::validation(format!(
        "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
        lower_first(name)
    ))
}

fn present<'a>(b: &'a Value, name: &str) -> Option<&'a Value> {
    b.get(name).filter(|v| !v.is_null())
}

/// An optional string parameter.
pub fn opt_str<'a>(b: &'a Value, name: &str) -> DynResult<Option<&'a str>> {
    match present(b, name) {
        None => Ok(None),
        Some(v) => v.as_str().map(Some).ok_or_else(|| {
            DynError::serialization(format!(
                "NUMBER_VALUE cannot be converted to String ({name})"
            ))
        }),
    }
}

/// A required string parameter.
pub fn req_str<'a>(b: &'a Value, name: &str) -> DynResult<&'a str> {
    opt_str(b, name)?.ok_or_else(|| missing(name))
}

/// An optional boolean parameter.
pub fn opt_bool(b: &Value, name: &str) -> DynResult<Option<bool>> {
    match present(b, name) {
        None => Ok(None),
        Some(v) => v.as_bool().map(Some).ok_or_else(|| {
            DynError::serialization(format!(
                "Unexpected value type for {name}: expected a boolean"
            ))
        }),
    }
}

/// An optional integer parameter.
pub fn opt_i64(b: &Value, name: &str) -> DynResult<Option<i64>> {
    match present(b, name) {
        None => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            DynError::serialization(format!(
                "Unexpected value type for {name}: expected an integer"
            ))
        }),
    }
}

/// An optional object parameter.
pub fn opt_obj<'a>(b: &'a Value, name: &str) -> DynResult<Option<&'a Map<String, Value>>> {
    match present(b, name) {
        None => Ok(None),
        Some(v) => v.as_object().map(Some).ok_or_else(|| {
            DynError::serialization(format!("Unexpected value type for {name}: expected a map"))
        }),
    }
}

/// An optional list parameter.
pub fn opt_arr<'a>(b: &'a Value, name: &str) -> DynResult<Option<&'a Vec<Value>>> {
    match present(b, name) {
        None => Ok(None),
        Some(v) => v.as_array().map(Some).ok_or_else(|| {
            DynError::serialization(format!("Unexpected value type for {name}: expected a list"))
        }),
    }
}

/// A required item-shaped parameter (`Item`, `Key`).
pub fn req_item(b: &Value, name: &str) -> DynResult<Item> {
    item_from_json(present(b, name).ok_or_else(|| missing(name))?)
}

/// The `TableName` parameter, checked against DynamoDB's naming rules.
pub fn table_name(b: &Value) -> DynResult<&str> {
    let name = req_str(b, "TableName")?;
    check_table_name(name)?;
    Ok(name)
}

/// DynamoDB table names: 3 to 255 characters of `[a-zA-Z0-9_.-]`.
pub fn check_table_name(name: &str) -> DynResult<()> {
    if name.len() < 3 || name.len() > 255 {
        return Err(DynError::validation(format!(
            "1 validation error detected: Value '{name}' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3 and less than or equal to 255"
        )));
    }
    if !name
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
    {
        return Err(DynError::validation(format!(
            "1 validation error detected: Value '{name}' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        )));
    }
    Ok(())
}

/// Rejects the pre-expression parameters this front end does not implement.
pub fn reject_legacy(b: &Value) -> DynResult<()> {
    for p in [
        "Expected",
        "AttributeUpdates",
        "ConditionalOperator",
        "KeyConditions",
        "QueryFilter",
        "ScanFilter",
    ] {
        if present(b, p).is_some() {
            return Err(DynError::validation(format!(
                "ShaleDB does not support the legacy parameter {p}; use expressions instead"
            )));
        }
    }
    Ok(())
}

/// The paths to project, from `ProjectionExpression` or `AttributesToGet`.
pub fn projection(b: &Value, ph: &mut Placeholders) -> DynResult<Option<Vec<Path>>> {
    if let Some(p) = opt_str(b, "ProjectionExpression")? {
        if present(b, "AttributesToGet").is_some() {
            return Err(DynError::validation(
                "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}",
            ));
        }
        return parse_projection(p, ph).map(Some);
    }
    if let Some(a) = opt_arr(b, "AttributesToGet")? {
        let mut paths = Vec::new();
        for n in a {
            let n = n
                .as_str()
                .ok_or_else(|| DynError::serialization("AttributesToGet must hold strings"))?;
            paths.push(vec![crate::expr::parser::PathElem::Name(n.to_string())]);
        }
        return Ok(Some(paths));
    }
    Ok(None)
}

/// `ConsumedCapacity` when the request asked for it.
pub fn consumed(b: &Value, table: &str, units: f64, out: &mut Map<String, Value>) {
    if matches!(
        b.get("ReturnConsumedCapacity").and_then(Value::as_str),
        Some("TOTAL" | "INDEXES")
    ) {
        out.insert(
            "ConsumedCapacity".into(),
            serde_json::json!({"TableName": table, "CapacityUnits": units}),
        );
    }
}
