//! Table metadata, stored durably in the `dynamo:catalog` keyspace.

use serde::{Deserialize, Serialize};
use shaledb::{Db, Keyspace};

use crate::error::{DynError, DynResult};
use crate::keys;
use crate::types::value::{AttributeValue, Item};

/// The keyspace holding one record per table.
pub const CATALOG_KEYSPACE: &str = "dynamo:catalog";
/// Prefix of each table's item keyspace (`dynamo.<table>`).
pub const TABLE_KEYSPACE_PREFIX: &str = "dynamo.";
/// Version byte in front of each catalog record.
const CATALOG_VERSION: u8 = 1;

/// One key attribute: its name and scalar type (`S`, `N` or `B`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct KeyAttr {
    /// Attribute name.
    pub name: String,
    /// `S`, `N` or `B`.
    pub ty: String,
}

/// What the catalog stores about a table.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TableMeta {
    /// The table name.
    pub name: String,
    /// The partition (HASH) key.
    pub hash: KeyAttr,
    /// The sort (RANGE) key, if any.
    pub range: Option<KeyAttr>,
    /// `PAY_PER_REQUEST` or `PROVISIONED`.
    pub billing_mode: String,
    /// Provisioned read capacity (reported only).
    pub rcu: u64,
    /// Provisioned write capacity (reported only).
    pub wcu: u64,
    /// Creation time, ms since the epoch by the Db clock.
    pub created_ms: u64,
    /// A unique id reported as `TableId`.
    pub table_id: String,
    /// The TTL attribute, when TTL has been configured.
    #[serde(default)]
    pub ttl_attr: Option<String>,
    /// Whether TTL is enabled.
    #[serde(default)]
    pub ttl_enabled: bool,
}

impl TableMeta {
    /// The keyspace holding this table's items.
    /// Names too long for a keyspace (over 248 bytes) keep 200 bytes and a hash.
    pub fn keyspace_name(&self) -> String {
        if self.name.len() + TABLE_KEYSPACE_PREFIX.len() <= shaledb::MAX_KEYSPACE_NAME_LEN {
            return format!("{TABLE_KEYSPACE_PREFIX}{}", self.name);
        }
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.name.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let head = self.name.get(..200).unwrap_or(&self.name);
        format!("{TABLE_KEYSPACE_PREFIX}{head}.{h:016x}")
    }

    /// The key attributes, partition key first.
    pub fn key_attrs(&self) -> impl Iterator<Item = &KeyAttr> {
        std::iter::once(&self.hash).chain(self.range.as_ref())
    }

    /// Checks a key given on its own (`GetItem`'s `Key`): exactly the key
    /// attributes with the right types. Returns the engine key.
    pub fn key_of_key(&self, key: &Item) -> DynResult<Vec<u8>> {
        let schema = || DynError::validation("The provided key element does not match the schema");
        if key.len() != self.key_attrs().count() {
            return Err(schema());
        }
        for ka in self.key_attrs() {
            let v = key.get(&ka.name).ok_or_else(schema)?;
            if v.type_name() != ka.ty {
                return Err(schema());
            }
            check_key_value(&ka.name, v, self.is_sort(ka))?;
        }
        self.engine_key(key)
    }

    /// Checks the key attributes of a whole item (`PutItem`'s `Item`). Returns the
    /// engine key.
    pub fn key_of_item(&self, item: &Item) -> DynResult<Vec<u8>> {
        for ka in self.key_attrs() {
            let v = item.get(&ka.name).ok_or_else(|| {
                DynError::validation(format!(
                    "One or more parameter values were invalid: Missing the key {} in the item",
                    ka.name
                ))
            })?;
            if v.type_name() != ka.ty {
                return Err(DynError::validation(format!(
                    "One or more parameter values were invalid: Type mismatch for key {} expected: {} actual: {}",
                    ka.name,
                    ka.ty,
                    v.type_name()
                )));
            }
            check_key_value(&ka.name, v, self.is_sort(ka))?;
        }
        self.engine_key(item)
    }

    fn is_sort(&self, ka: &KeyAttr) -> bool {
        self.range.as_ref().is_some_and(|r| r.name == ka.name)
    }

    fn engine_key(&self, item: &Item) -> DynResult<Vec<u8>> {
        let pk = item.get(&self.hash.name).ok_or_else(|| {
            DynError::validation("The provided key element does not match the schema")
        })?;
        let sk = match &self.range {
            Some(r) => Some(item.get(&r.name).ok_or_else(|| {
                DynError::validation("The provided key element does not match the schema")
            })?),
            None => None,
        };
        Ok(keys::item_key(pk, sk))
    }

    /// The key attributes of `item` (for `LastEvaluatedKey`).
    pub fn key_item(&self, item: &Item) -> Item {
        self.key_attrs()
            .filter_map(|ka| item.get(&ka.name).map(|v| (ka.name.clone(), v.clone())))
            .collect()
    }
}

/// Key values: no empty strings or binaries, partition keys ≤ 2048 bytes, sort keys ≤ 1024.
fn check_key_value(name: &str, v: &AttributeValue, sort: bool) -> DynResult<()> {
    let len = match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::B(b) => b.len(),
        _ => return Ok(()),
    };
    if len == 0 {
        return Err(DynError::validation(format!(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {} value. Key: {name}",
            if matches!(v, AttributeValue::S(_)) {
                "string"
            } else {
                "binary"
            }
        )));
    }
    if !sort && len > 2048 {
        return Err(DynError::validation(
            "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes",
        ));
    }
    if sort && len > 1024 {
        return Err(DynError::validation(
            "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes",
        ));
    }
    Ok(())
}

/// Handle on the catalog keyspace.
#[derive(Clone, Debug)]
pub struct Catalog {
    ks: Keyspace,
}

impl Catalog {
    /// Opens (creating if needed) the catalog of `db`.
    pub fn open(db: &Db) -> DynResult<Self> {
        Ok(Catalog {
            ks: db.keyspace(CATALOG_KEYSPACE)?,
        })
    }

    /// The table named `name`, if it exists.
    pub fn get(&self, name: &str) -> DynResult<Option<TableMeta>> {
        match self.ks.get(name)? {
            Some(v) => decode(&v).map(Some),
            None => Ok(None),
        }
    }

    /// The table named `name` or `ResourceNotFoundException`.
    pub fn require(&self, name: &str) -> DynResult<TableMeta> {
        self.get(name)?.ok_or_else(DynError::not_found)
    }

    /// Stores `meta` durably.
    pub fn put(&self, meta: &TableMeta, wo: &shaledb::WriteOptions) -> DynResult<()> {
        let mut v = vec![CATALOG_VERSION];
        v.extend(serde_json::to_vec(meta).map_err(DynError::internal)?);
        self.ks.put_opt(&meta.name, v, wo)?;
        Ok(())
    }

    /// Removes the record of table `name`.
    pub fn delete(&self, name: &str, wo: &shaledb::WriteOptions) -> DynResult<()> {
        self.ks.delete_opt(name, wo)?;
        Ok(())
    }

    /// Table names after `start` (exclusive), in name order.
    pub fn names_after(&self, start: Option<&str>) -> impl Iterator<Item = DynResult<String>> {
        let lower = match start {
            Some(s) => std::ops::Bound::Excluded(s.as_bytes().to_vec()),
            None => std::ops::Bound::Unbounded,
        };
        self.ks
            .keys((lower, std::ops::Bound::<Vec<u8>>::Unbounded))
            .map(|k| {
                let k = k?;
                String::from_utf8(k.to_vec()).map_err(DynError::internal)
            })
    }
}

fn decode(v: &[u8]) -> DynResult<TableMeta> {
    match v.split_first() {
        Some((&CATALOG_VERSION, rest)) => serde_json::from_slice(rest).map_err(DynError::internal),
        _ => Err(DynError::internal("unknown catalog record version")),
    }
}
