//! `UpdateTimeToLive` and `DescribeTimeToLive`.
//!
//! With TTL enabled, an item whose TTL attribute (epoch seconds) has passed by the
//! Db clock reads as absent, and items are written with an engine expiry so
//! compaction reclaims them.

use serde_json::{Value, json};

use crate::error::{DynError, DynResult};
use crate::ops::{State, catalog, open_table, opt_obj, table_name};

/// `UpdateTimeToLive`.
pub fn update(st: &State, b: &Value) -> DynResult<Value> {
    let name = table_name(b)?;
    let spec = opt_obj(b, "TimeToLiveSpecification")?
        .ok_or_else(|| super::missing("TimeToLiveSpecification"))?;
    let attr = spec
        .get("AttributeName")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| super::missing("TimeToLiveSpecification.AttributeName"))?;
    let enabled = spec
        .get("Enabled")
        .and_then(Value::as_bool)
        .ok_or_else(|| super::missing("TimeToLiveSpecification.Enabled"))?;
    let _guard = st.ddl.lock().unwrap_or_else(|e| e.into_inner());
    let mut t = open_table(st, name)?;
    if enabled && t.meta.ttl_enabled {
        return Err(DynError::validation("TimeToLive is already enabled"));
    }
    if !enabled && !t.meta.ttl_enabled {
        return Err(DynError::validation("TimeToLive is already disabled"));
    }
    if !enabled && t.meta.ttl_attr.as_deref() != Some(attr) {
        return Err(DynError::validation(
            "TimeToLive is active on a different AttributeName: current AttributeName is "
                .to_string()
                + t.meta.ttl_attr.as_deref().unwrap_or(""),
        ));
    }
    t.meta.ttl_enabled = enabled;
    t.meta.ttl_attr = Some(attr.to_string());
    catalog(st)?.put(&t.meta, &shaledb::WriteOptions::synced())?;
    Ok(json!({ "TimeToLiveSpecification": { "AttributeName": attr, "Enabled": enabled } }))
}

/// `DescribeTimeToLive`.
pub fn describe(st: &State, b: &Value) -> DynResult<Value> {
    let t = open_table(st, table_name(b)?)?;
    let d = match (&t.meta.ttl_attr, t.meta.ttl_enabled) {
        (Some(a), true) => json!({ "TimeToLiveStatus": "ENABLED", "AttributeName": a }),
        _ => json!({ "TimeToLiveStatus": "DISABLED" }),
    };
    Ok(json!({ "TimeToLiveDescription": d }))
}
