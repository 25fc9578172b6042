//! `Query` and `Scan`: engine range scans over the order-preserving item keys,
//! with key conditions, filters, projections and paging.

use std::ops::Bound;

use serde_json::{Map, Value, json};

use crate::catalog::TableMeta;
use crate::error::{DynError, DynResult};
use crate::expr::eval::{self, project};
use crate::expr::parser::{CmpOp, Cond, Operand, Path, PathElem, Placeholders, parse_condition};
use crate::keys::{self, KeyRange, encode_prefix, encode_value, prefix_end};
use crate::ops::{
    State, Table, consumed, decode_item, expired, now_ms, open_table, opt_bool, opt_i64, opt_str,
    projection, reject_legacy, table_name,
};
use crate::types::value::{AttributeValue, Item, item_from_json, item_size, item_to_json};

/// A page holds at most this many bytes of scanned items (DynamoDB's 1 MB).
pub const PAGE_BYTES: usize = 1024 * 1024;

/// The common parameters of `Query` and `Scan`.
struct Params {
    limit: Option<usize>,
    filter: Option<Cond>,
    proj: Option<Vec<Path>>,
    count_only: bool,
    start: Option<Vec<u8>>,
}

fn params(b: &Value, t: &Table, ph: &mut Placeholders) -> DynResult<Params> {
    reject_legacy(b)?;
    opt_bool(b, "ConsistentRead")?;
    if opt_str(b, "IndexName")?.is_some() {
        return Err(DynError::validation(
            "ShaleDB does not support secondary indexes (IndexName)",
        ));
    }
    let limit = match opt_i64(b, "Limit")? {
        None => None,
        Some(l) if l >= 1 => Some(usize::try_from(l).unwrap_or(usize::MAX)),
        Some(l) => {
            return Err(DynError::validation(format!(
                "1 validation error detected: Value '{l}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
            )));
        }
    };
    let filter = match opt_str(b, "FilterExpression")? {
        Some(f) => Some(parse_condition(f, "FilterExpression", ph)?),
        None => None,
    };
    let proj = projection(b, ph)?;
    let count_only = match opt_str(b, "Select")? {
        None | Some("ALL_ATTRIBUTES") => false,
        Some("SPECIFIC_ATTRIBUTES") => {
            if proj.is_none() {
                return Err(DynError::validation(
                    "1 validation error detected: SPECIFIC_ATTRIBUTES requires a ProjectionExpression",
                ));
            }
            false
        }
        Some("COUNT") => {
            if proj.is_some() {
                return Err(DynError::validation(
                    "Cannot specify the AttributesToGet when choosing to get only the Count",
                ));
            }
            true
        }
        Some("ALL_PROJECTED_ATTRIBUTES") => {
            return Err(DynError::validation(
                "One or more parameter values were invalid: Select type ALL_PROJECTED_ATTRIBUTES is supported only for index queries",
            ));
        }
        Some(s) => {
            return Err(DynError::validation(format!(
                "1 validation error detected: Value '{s}' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]"
            )));
        }
    };
    let start = match b.get("ExclusiveStartKey").filter(|v| !v.is_null()) {
        Some(k) => {
            let k = item_from_json(k)?;
            Some(t.meta.key_of_key(&k).map_err(|_| {
                DynError::validation("The provided starting key is invalid: The provided key element does not match the schema")
            })?)
        }
        None => None,
    };
    Ok(Params {
        limit,
        filter,
        proj,
        count_only,
        start,
    })
}

/// Runs one page over `iter`; `keep` decides which items belong (scan segments).
fn page(
    st: &State,
    b: &Value,
    t: &Table,
    p: &Params,
    iter: Box<dyn Iterator<Item = shaledb::Result<(shaledb::Bytes, shaledb::Bytes)>> + '_>,
    keep: &dyn Fn(&Item) -> bool,
) -> DynResult<Value> {
    let now = now_ms(&st.ctx.db)?;
    let mut items = Vec::new();
    let (mut count, mut scanned, mut bytes) = (0u64, 0usize, 0usize);
    let mut last: Option<Item> = None;
    let mut stopped = false;
    for kv in iter {
        let (_, v) = kv?;
        let item = decode_item(&v)?;
        if expired(&t.meta, &item, now) || !keep(&item) {
            continue;
        }
        scanned += 1;
        bytes += item_size(&item);
        if p.filter.as_ref().is_none_or(|f| eval::eval(Some(&item), f)) {
            count += 1;
            if !p.count_only {
                items.push(match &p.proj {
                    Some(paths) => item_to_json(&project(&item, paths)),
                    None => item_to_json(&item),
                });
            }
        }
        last = Some(item);
        if p.limit.is_some_and(|l| scanned >= l) || bytes >= PAGE_BYTES {
            stopped = true;
            break;
        }
    }
    let mut out = Map::new();
    if !p.count_only {
        out.insert("Items".into(), Value::Array(items));
    }
    out.insert("Count".into(), json!(count));
    out.insert("ScannedCount".into(), json!(scanned));
    if stopped && let Some(l) = last {
        out.insert(
            "LastEvaluatedKey".into(),
            item_to_json(&t.meta.key_item(&l)),
        );
    }
    let units = (bytes as f64 / 4096.0).ceil().max(1.0) / 2.0;
    consumed(b, &t.meta.name, units, &mut out);
    Ok(Value::Object(out))
}

fn after(lower: Bound<Vec<u8>>, k: &[u8]) -> Bound<Vec<u8>> {
    match &lower {
        Bound::Included(l) | Bound::Excluded(l) if l.as_slice() > k => lower,
        _ => Bound::Excluded(k.to_vec()),
    }
}

fn before(upper: Bound<Vec<u8>>, k: &[u8]) -> Bound<Vec<u8>> {
    match &upper {
        Bound::Included(u) | Bound::Excluded(u) if u.as_slice() < k => upper,
        _ => Bound::Excluded(k.to_vec()),
    }
}

/// `Query`.
pub fn query(st: &State, b: &Value) -> DynResult<Value> {
    let t = open_table(st, table_name(b)?)?;
    let mut ph = Placeholders::from_request(b)?;
    let kc = opt_str(b, "KeyConditionExpression")?.ok_or_else(|| {
        DynError::validation("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
    })?;
    let kc = parse_condition(kc, "KeyConditionExpression", &mut ph)?;
    let p = params(b, &t, &mut ph)?;
    ph.check_unused()?;
    if let Some(f) = &p.filter {
        for path in eval::cond_paths(f) {
            if let Some(PathElem::Name(n)) = path.first()
                && t.meta.key_attrs().any(|k| &k.name == n)
            {
                return Err(DynError::validation(format!(
                    "Filter Expression can only contain non-primary key attributes: Primary key attribute: {n}"
                )));
            }
        }
    }
    let (mut lo, mut hi) = key_range(&t.meta, &kc)?;
    let forward = opt_bool(b, "ScanIndexForward")?.unwrap_or(true);
    if let Some(k) = &p.start {
        if forward {
            lo = after(lo, k);
        } else {
            hi = before(hi, k);
        }
    }
    let it = t.ks.range((lo, hi));
    let iter: Box<dyn Iterator<Item = _>> = if forward {
        Box::new(it)
    } else {
        Box::new(it.rev())
    };
    page(st, b, &t, &p, iter, &|_| true)
}

/// `Scan`, optionally one segment of a parallel scan.
pub fn scan(st: &State, b: &Value) -> DynResult<Value> {
    let t = open_table(st, table_name(b)?)?;
    let mut ph = Placeholders::from_request(b)?;
    let p = params(b, &t, &mut ph)?;
    ph.check_unused()?;
    let seg = opt_i64(b, "Segment")?;
    let total = opt_i64(b, "TotalSegments")?;
    let segment = match (seg, total) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(DynError::validation(
                "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
            ));
        }
        (None, Some(_)) => {
            return Err(DynError::validation(
                "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
            ));
        }
        (Some(s), Some(n)) => {
            if !(1..=1_000_000).contains(&n) {
                return Err(DynError::validation(format!(
                    "1 validation error detected: Value '{n}' at 'totalSegments' failed to satisfy constraint: Member must have value less than or equal to 1000000"
                )));
            }
            if !(0..n).contains(&s) {
                return Err(DynError::validation(format!(
                    "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {s} is not less than TotalSegments: {n}"
                )));
            }
            Some((s.unsigned_abs(), n.unsigned_abs()))
        }
    };
    let lo = match &p.start {
        Some(k) => Bound::Excluded(k.clone()),
        None => Bound::Unbounded,
    };
    let iter = Box::new(t.ks.range((lo, Bound::<Vec<u8>>::Unbounded)));
    let meta = &t.meta;
    let keep = |item: &Item| match segment {
        None => true,
        Some((s, n)) => item
            .get(&meta.hash.name)
            .is_some_and(|pk| segment_of(pk, n) == s),
    };
    page(st, b, &t, &p, iter, &keep)
}

/// The parallel-scan segment of a partition key: FNV-1a of its encoding.
pub fn segment_of(pk: &AttributeValue, total: u64) -> u64 {
    let mut enc = Vec::new();
    encode_value(&mut enc, pk);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in enc {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % total.max(1)
}

/// One `attr op value` term of a key condition.
enum KeyTerm {
    Cmp(String, CmpOp, AttributeValue),
    Between(String, AttributeValue, AttributeValue),
    BeginsWith(String, AttributeValue),
}

impl KeyTerm {
    fn name(&self) -> &str {
        match self {
            KeyTerm::Cmp(n, ..) | KeyTerm::Between(n, ..) | KeyTerm::BeginsWith(n, _) => n,
        }
    }
}

fn unsupported() -> DynError {
    DynError::validation("Query key condition not supported")
}

fn flatten(c: &Cond, out: &mut Vec<KeyTerm>) -> DynResult<()> {
    let attr = |o: &Operand| match o {
        Operand::Path(p) => match p.as_slice() {
            [PathElem::Name(n)] => Ok(n.clone()),
            _ => Err(unsupported()),
        },
        _ => Err(unsupported()),
    };
    let val = |o: &Operand| match o {
        Operand::Value(v) => Ok(v.clone()),
        _ => Err(unsupported()),
    };
    match c {
        Cond::And(a, b) => {
            flatten(a, out)?;
            flatten(b, out)?;
        }
        Cond::Or(..) => {
            return Err(DynError::validation(
                "Invalid operator used in KeyConditionExpression: OR",
            ));
        }
        Cond::Not(..) => {
            return Err(DynError::validation(
                "Invalid operator used in KeyConditionExpression: NOT",
            ));
        }
        Cond::Cmp(a, op, b) => {
            if *op == CmpOp::Ne {
                return Err(DynError::validation(
                    "Unsupported operator used in KeyConditionExpression: <>",
                ));
            }
            if let Operand::Value(_) = a {
                let flipped = match op {
                    CmpOp::Lt => CmpOp::Gt,
                    CmpOp::Le => CmpOp::Ge,
                    CmpOp::Gt => CmpOp::Lt,
                    CmpOp::Ge => CmpOp::Le,
                    o => *o,
                };
                out.push(KeyTerm::Cmp(attr(b)?, flipped, val(a)?));
            } else {
                out.push(KeyTerm::Cmp(attr(a)?, *op, val(b)?));
            }
        }
        Cond::Between(a, lo, hi) => out.push(KeyTerm::Between(attr(a)?, val(lo)?, val(hi)?)),
        Cond::BeginsWith(a, p) => out.push(KeyTerm::BeginsWith(attr(a)?, val(p)?)),
        Cond::In(..) => {
            return Err(DynError::validation(
                "Invalid operator used in KeyConditionExpression: IN",
            ));
        }
        _ => {
            return Err(DynError::validation(
                "Invalid operator used in KeyConditionExpression: a function other than begins_with",
            ));
        }
    }
    Ok(())
}

/// The engine key range a key condition selects.
fn key_range(meta: &TableMeta, kc: &Cond) -> DynResult<KeyRange> {
    let mut terms = Vec::new();
    flatten(kc, &mut terms)?;
    if terms.len() > 2 {
        return Err(DynError::validation(
            "Conditions can be of length 1 or 2 only",
        ));
    }
    let type_err = || {
        DynError::validation(
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        )
    };
    let pk_pos = terms
        .iter()
        .position(|t| t.name() == meta.hash.name)
        .ok_or_else(|| {
            DynError::validation(format!(
                "Query condition missed key schema element: {}",
                meta.hash.name
            ))
        })?;
    let pk_term = terms.remove(pk_pos);
    let KeyTerm::Cmp(_, CmpOp::Eq, pk) = pk_term else {
        return Err(unsupported());
    };
    if pk.type_name() != meta.hash.ty {
        return Err(type_err());
    }
    let mut prefix = Vec::new();
    encode_value(&mut prefix, &pk);
    let whole = keys::prefix_range(&prefix);
    let Some(term) = terms.pop() else {
        return Ok(whole);
    };
    let range = match &meta.range {
        Some(r) if r.name == term.name() => r,
        _ => {
            return Err(DynError::validation(format!(
                "Query condition missed key schema element: {}",
                meta.range.as_ref().map_or(term.name(), |r| r.name.as_str())
            )));
        }
    };
    let enc = |v: &AttributeValue| -> DynResult<Vec<u8>> {
        if v.type_name() != range.ty {
            return Err(type_err());
        }
        let mut k = prefix.clone();
        encode_value(&mut k, v);
        Ok(k)
    };
    let end = whole.1.clone();
    Ok(match term {
        KeyTerm::Cmp(_, op, v) => {
            let e = enc(&v)?;
            match op {
                CmpOp::Eq => (Bound::Included(e.clone()), Bound::Included(e)),
                CmpOp::Lt => (Bound::Included(prefix.clone()), Bound::Excluded(e)),
                CmpOp::Le => (Bound::Included(prefix.clone()), Bound::Included(e)),
                CmpOp::Gt => (Bound::Excluded(e), end),
                _ => (Bound::Included(e), end),
            }
        }
        KeyTerm::Between(_, lo, hi) => {
            if lo.compare(&hi) == Some(std::cmp::Ordering::Greater) {
                return Err(DynError::validation(format!(
                    "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound: {}, upper bound: {}",
                    lo.to_json(),
                    hi.to_json()
                )));
            }
            (Bound::Included(enc(&lo)?), Bound::Included(enc(&hi)?))
        }
        KeyTerm::BeginsWith(_, p) => {
            let bytes = match &p {
                AttributeValue::S(s) if range.ty == "S" => s.as_bytes().to_vec(),
                AttributeValue::B(b) if range.ty == "B" => b.clone(),
                AttributeValue::S(_) | AttributeValue::B(_) => return Err(type_err()),
                other => {
                    return Err(DynError::validation(format!(
                        "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: {}",
                        other.type_name()
                    )));
                }
            };
            let mut x = prefix.clone();
            encode_prefix(&mut x, &bytes);
            let hi = prefix_end(&x).map_or(Bound::Unbounded, Bound::Excluded);
            (Bound::Included(x), hi)
        }
    })
}
