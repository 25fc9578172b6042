//! `CreateTable`, `DescribeTable`, `ListTables`, `DeleteTable`, `UpdateTable`.

use serde_json::{Value, json};

use crate::catalog::{KeyAttr, TableMeta};
use crate::error::{DynError, DynResult};
use crate::ops::{
    State, Table, catalog, check_table_name, now_ms, opt_arr, opt_i64, opt_obj, opt_str, req_str,
    table_name,
};

/// Above this many entries `ItemCount` is the engine's estimate, not a count.
const EXACT_COUNT_LIMIT: u64 = 200_000;

/// `CreateTable`.
pub fn create(st: &State, b: &Value) -> DynResult<Value> {
    let name = table_name(b)?;
    let key_schema = opt_arr(b, "KeySchema")?.ok_or_else(|| super::missing("KeySchema"))?;
    let defs = opt_arr(b, "AttributeDefinitions")?
        .ok_or_else(|| super::missing("AttributeDefinitions"))?;
    for p in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
        if opt_arr(b, p)?.is_some_and(|a| !a.is_empty()) {
            return Err(DynError::validation(format!(
                "ShaleDB does not support secondary indexes ({p})"
            )));
        }
    }
    if let Some(s) = opt_obj(b, "StreamSpecification")?
        && s.get("StreamEnabled").and_then(Value::as_bool) == Some(true)
    {
        return Err(DynError::validation("ShaleDB does not support streams"));
    }
    let mut attr_types = Vec::new();
    for d in defs {
        let n = req_str(d, "AttributeName")?;
        let t = req_str(d, "AttributeType")?;
        if !["S", "N", "B"].contains(&t) {
            return Err(DynError::validation(format!(
                "1 validation error detected: Value '{t}' at 'attributeDefinitions.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]"
            )));
        }
        attr_types.push((n.to_string(), t.to_string()));
    }
    let mut hash = None;
    let mut range = None;
    for (i, k) in key_schema.iter().enumerate() {
        let n = req_str(k, "AttributeName")?;
        let kt = req_str(k, "KeyType")?;
        let ty = attr_types
            .iter()
            .find(|(a, _)| a == n)
            .map(|(_, t)| t.clone())
            .ok_or_else(|| {
                DynError::validation(
                    "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [".to_string()
                        + n
                        + "], AttributeDefinitions: ["
                        + &attr_types.iter().map(|a| a.0.clone()).collect::<Vec<_>>().join(", ")
                        + "]",
                )
            })?;
        let ka = KeyAttr {
            name: n.to_string(),
            ty,
        };
        match (i, kt) {
            (0, "HASH") => hash = Some(ka),
            (1, "RANGE") => range = Some(ka),
            (0, _) => {
                return Err(DynError::validation(
                    "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
                ));
            }
            (1, _) => {
                return Err(DynError::validation(
                    "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
                ));
            }
            _ => {
                return Err(DynError::validation(
                    "1 validation error detected: Value at 'keySchema' failed to satisfy constraint: Member must have length less than or equal to 2",
                ));
            }
        }
    }
    let hash = hash.ok_or_else(|| {
        DynError::validation(
            "1 validation error detected: Value '[]' at 'keySchema' failed to satisfy constraint: Member must have length greater than or equal to 1",
        )
    })?;
    if range.as_ref().is_some_and(|r| r.name == hash.name) {
        return Err(DynError::validation(
            "Invalid KeySchema: Some index key attribute have no definition",
        ));
    }
    let key_count = 1 + usize::from(range.is_some());
    if attr_types.len() != key_count {
        return Err(DynError::validation(
            "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ));
    }
    let billing = opt_str(b, "BillingMode")?.unwrap_or("PROVISIONED");
    let pt = opt_obj(b, "ProvisionedThroughput")?;
    let (rcu, wcu) = match (billing, pt) {
        ("PAY_PER_REQUEST", None) => (0, 0),
        ("PAY_PER_REQUEST", Some(_)) => {
            return Err(DynError::validation(
                "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ));
        }
        ("PROVISIONED", Some(p)) => {
            let get = |k: &str| p.get(k).and_then(Value::as_u64).filter(|&v| v >= 1);
            match (get("ReadCapacityUnits"), get("WriteCapacityUnits")) {
                (Some(r), Some(w)) => (r, w),
                _ => {
                    return Err(DynError::validation(
                        "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified and at least 1",
                    ));
                }
            }
        }
        ("PROVISIONED", None) => {
            return Err(DynError::validation(
                "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
            ));
        }
        (other, _) => {
            return Err(DynError::validation(format!(
                "1 validation error detected: Value '{other}' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]"
            )));
        }
    };
    let _guard = st.ddl.lock().unwrap_or_else(|e| e.into_inner());
    let cat = catalog(st)?;
    if cat.get(name)?.is_some() {
        return Err(DynError::new(
            "ResourceInUseException",
            format!("Table already exists: {name}"),
        ));
    }
    let created_ms = now_ms(&st.ctx.db)?;
    let meta = TableMeta {
        name: name.to_string(),
        hash,
        range,
        billing_mode: billing.to_string(),
        rcu,
        wcu,
        created_ms,
        table_id: table_id(name, created_ms),
        ttl_attr: None,
        ttl_enabled: false,
    };
    // A leftover keyspace (a crash between the drop and the catalog delete) goes first.
    let ks_name = meta.keyspace_name();
    if st.ctx.db.list_keyspaces().contains(&ks_name) {
        st.ctx.db.drop_keyspace(&ks_name)?;
    }
    let ks = st.ctx.db.keyspace(&ks_name)?;
    cat.put(&meta, &shaledb::WriteOptions::synced())?;
    let t = Table { meta, ks };
    Ok(json!({ "TableDescription": description(st, &t, "ACTIVE", false)? }))
}

fn table_id(name: &str, ms: u64) -> String {
    // Deterministic per (name, creation time), shaped like a UUID.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes().chain(ms.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let h2 = h.rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xffff,
        h2 >> 48,
        h2 & 0xffff_ffff_ffff
    )
}

/// The `TableDescription` DynamoDB returns.
pub fn description(st: &State, t: &Table, status: &str, count: bool) -> DynResult<Value> {
    let m = &t.meta;
    let mut defs = vec![json!({"AttributeName": m.hash.name, "AttributeType": m.hash.ty})];
    let mut schema = vec![json!({"AttributeName": m.hash.name, "KeyType": "HASH"})];
    if let Some(r) = &m.range {
        defs.push(json!({"AttributeName": r.name, "AttributeType": r.ty}));
        schema.push(json!({"AttributeName": r.name, "KeyType": "RANGE"}));
    }
    let (items, bytes) = if count { count_items(t)? } else { (0, 0) };
    let created = m.created_ms as f64 / 1000.0;
    let mut d = json!({
        "AttributeDefinitions": defs,
        "TableName": m.name,
        "KeySchema": schema,
        "TableStatus": status,
        "CreationDateTime": created,
        "ProvisionedThroughput": {
            "NumberOfDecreasesToday": 0,
            "ReadCapacityUnits": m.rcu,
            "WriteCapacityUnits": m.wcu
        },
        "TableSizeBytes": bytes,
        "ItemCount": items,
        "TableArn": format!("arn:aws:dynamodb:{}:000000000000:table/{}", st.config.region, m.name),
        "TableId": m.table_id,
        "DeletionProtectionEnabled": false,
    });
    if m.billing_mode == "PAY_PER_REQUEST"
        && let Some(o) = d.as_object_mut()
    {
        o.insert(
            "BillingModeSummary".into(),
            json!({"BillingMode": "PAY_PER_REQUEST", "LastUpdateToPayPerRequestDateTime": created}),
        );
    }
    Ok(d)
}

/// Live items and their stored bytes (exact for small tables, estimated above
/// [`EXACT_COUNT_LIMIT`] engine entries).
fn count_items(t: &Table) -> DynResult<(u64, u64)> {
    if t.ks.approximate_len() > EXACT_COUNT_LIMIT {
        return Ok((t.ks.approximate_len(), t.ks.approximate_size(None, None)));
    }
    let (mut n, mut bytes) = (0u64, 0u64);
    for kv in t.ks.iter() {
        let (k, v) = kv?;
        n += 1;
        bytes += (k.len() + v.len()) as u64;
    }
    Ok((n, bytes))
}

/// `DescribeTable`.
pub fn describe(st: &State, b: &Value) -> DynResult<Value> {
    let t = super::open_table(st, table_name(b)?)?;
    Ok(json!({ "Table": description(st, &t, "ACTIVE", true)? }))
}

/// `ListTables`.
pub fn list(st: &State, b: &Value) -> DynResult<Value> {
    let start = opt_str(b, "ExclusiveStartTableName")?;
    if let Some(s) = start {
        check_table_name(s)?;
    }
    let limit = opt_i64(b, "Limit")?.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return Err(DynError::validation(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100"
        )));
    }
    let limit = usize::try_from(limit).unwrap_or(100);
    let mut names = Vec::new();
    let mut more = false;
    for n in catalog(st)?.names_after(start) {
        let n = n?;
        if names.len() == limit {
            more = true;
            break;
        }
        names.push(n);
    }
    let mut out = json!({ "TableNames": names });
    if more && let (Some(o), Some(last)) = (out.as_object_mut(), names.last()) {
        o.insert("LastEvaluatedTableName".into(), json!(last));
    }
    Ok(out)
}

/// `DeleteTable`: drops the table's keyspace (its files go without per-item deletes).
pub fn delete(st: &State, b: &Value) -> DynResult<Value> {
    let name = table_name(b)?;
    let _guard = st.ddl.lock().unwrap_or_else(|e| e.into_inner());
    let t = super::open_table(st, name)?;
    let desc = description(st, &t, "DELETING", true)?;
    let ks_name = t.meta.keyspace_name();
    drop(t);
    catalog(st)?.delete(name, &shaledb::WriteOptions::synced())?;
    match st.ctx.db.drop_keyspace(&ks_name) {
        Ok(()) | Err(shaledb::Error::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(json!({ "TableDescription": desc }))
}

/// `UpdateTable`: only the billing mode and provisioned throughput can change.
pub fn update(st: &State, b: &Value) -> DynResult<Value> {
    let name = table_name(b)?;
    for p in [
        "GlobalSecondaryIndexUpdates",
        "StreamSpecification",
        "ReplicaUpdates",
    ] {
        if opt_arr(b, p)?.is_some() || opt_obj(b, p)?.is_some() {
            return Err(DynError::validation(format!(
                "ShaleDB does not support {p}"
            )));
        }
    }
    let _guard = st.ddl.lock().unwrap_or_else(|e| e.into_inner());
    let mut t = super::open_table(st, name)?;
    if let Some(m) = opt_str(b, "BillingMode")? {
        if !["PROVISIONED", "PAY_PER_REQUEST"].contains(&m) {
            return Err(DynError::validation(format!(
                "1 validation error detected: Value '{m}' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]"
            )));
        }
        t.meta.billing_mode = m.to_string();
        if m == "PAY_PER_REQUEST" {
            t.meta.rcu = 0;
            t.meta.wcu = 0;
        }
    }
    if let Some(p) = opt_obj(b, "ProvisionedThroughput")? {
        t.meta.rcu = p
            .get("ReadCapacityUnits")
            .and_then(Value::as_u64)
            .unwrap_or(t.meta.rcu);
        t.meta.wcu = p
            .get("WriteCapacityUnits")
            .and_then(Value::as_u64)
            .unwrap_or(t.meta.wcu);
    }
    catalog(st)?.put(&t.meta, &shaledb::WriteOptions::synced())?;
    Ok(json!({ "TableDescription": description(st, &t, "ACTIVE", false)? }))
}
