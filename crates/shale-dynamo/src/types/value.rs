//! `AttributeValue` and its DynamoDB JSON form (`{"S": "x"}`, `{"N": "1"}`, …).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

use crate::error::{DynError, DynResult};
use crate::types::number::Number;

/// Deepest nesting of maps and lists DynamoDB accepts.
pub const MAX_DEPTH: usize = 32;

/// An item: attribute name to value, in name order.
pub type Item = BTreeMap<String, AttributeValue>;

/// One DynamoDB attribute value.
#[derive(Clone, Debug)]
pub enum AttributeValue {
    /// A UTF-8 string.
    S(String),
    /// A number.
    N(Number),
    /// Binary data.
    B(Vec<u8>),
    /// A boolean.
    Bool(bool),
    /// Null.
    Null,
    /// A map of attribute values.
    M(Item),
    /// A list of attribute values.
    L(Vec<AttributeValue>),
    /// A set of strings (no duplicates, not empty).
    Ss(Vec<String>),
    /// A set of numbers.
    Ns(Vec<Number>),
    /// A set of binaries.
    Bs(Vec<Vec<u8>>),
}

impl AttributeValue {
    /// The DynamoDB type name: `S`, `N`, `B`, `BOOL`, `NULL`, `M`, `L`, `SS`, `NS`, `BS`.
    pub fn type_name(&self) -> &'static str {
        match self {
            AttributeValue::S(_) => "S",
            AttributeValue::N(_) => "N",
            AttributeValue::B(_) => "B",
            AttributeValue::Bool(_) => "BOOL",
            AttributeValue::Null => "NULL",
            AttributeValue::M(_) => "M",
            AttributeValue::L(_) => "L",
            AttributeValue::Ss(_) => "SS",
            AttributeValue::Ns(_) => "NS",
            AttributeValue::Bs(_) => "BS",
        }
    }

    /// Parses `{"TYPE": value}`, checking what DynamoDB checks.
    pub fn from_json(v: &Value) -> DynResult<Self> {
        Self::from_json_depth(v, 0)
    }

    fn from_json_depth(v: &Value, depth: usize) -> DynResult<Self> {
        if depth > MAX_DEPTH {
            return Err(DynError::validation(
                "Nesting Levels have exceeded supported limits",
            ));
        }
        let Value::Object(m) = v else {
            return Err(DynError::serialization(
                "Unexpected value type in payload: an AttributeValue must be an object",
            ));
        };
        let mut it = m.iter();
        let Some((ty, inner)) = it.next() else {
            return Err(DynError::validation(
                "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
            ));
        };
        if it.next().is_some() {
            return Err(DynError::validation(
                "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
            ));
        }
        let ser = |what: &str| {
            DynError::serialization(format!(
                "Unexpected value type in payload: {ty} must be {what}"
            ))
        };
        let string = |v: &Value| v.as_str().map(str::to_owned).ok_or_else(|| ser("a string"));
        let binary = |v: &Value| -> DynResult<Vec<u8>> {
            let s = v.as_str().ok_or_else(|| ser("a base64 string"))?;
            B64.decode(s).map_err(|_| {
                DynError::serialization("Base64 encoded length is expected a multiple of 4 bytes but found: invalid base64")
            })
        };
        fn array_of<'v>(v: &'v Value, ty: &str) -> DynResult<&'v Vec<Value>> {
            v.as_array().ok_or_else(|| {
                DynError::serialization(format!(
                    "Unexpected value type in payload: {ty} must be a list"
                ))
            })
        }
        let array = |v| array_of(v, ty);
        Ok(match ty.as_str() {
            "S" => AttributeValue::S(string(inner)?),
            "N" => AttributeValue::N(Number::parse(&string(inner)?)?),
            "B" => AttributeValue::B(binary(inner)?),
            "BOOL" => AttributeValue::Bool(inner.as_bool().ok_or_else(|| ser("a boolean"))?),
            "NULL" => {
                if inner.as_bool() != Some(true) {
                    return Err(DynError::validation(
                        "One or more parameter values were invalid: Null attribute value types must have the value of true",
                    ));
                }
                AttributeValue::Null
            }
            "M" => {
                let o = inner.as_object().ok_or_else(|| ser("a map"))?;
                let mut m = Item::new();
                for (k, v) in o {
                    m.insert(k.clone(), Self::from_json_depth(v, depth + 1)?);
                }
                AttributeValue::M(m)
            }
            "L" => AttributeValue::L(
                array(inner)?
                    .iter()
                    .map(|v| Self::from_json_depth(v, depth + 1))
                    .collect::<DynResult<_>>()?,
            ),
            "SS" => {
                let v: Vec<String> = array(inner)?.iter().map(string).collect::<DynResult<_>>()?;
                check_set(&v, "string", |a, b| a == b, |s| s.clone())?;
                AttributeValue::Ss(v)
            }
            "NS" => {
                let v: Vec<Number> = array(inner)?
                    .iter()
                    .map(|x| Number::parse(&string(x)?))
                    .collect::<DynResult<_>>()?;
                check_set(&v, "number", |a, b| a == b, |n| n.to_string())?;
                AttributeValue::Ns(v)
            }
            "BS" => {
                let v: Vec<Vec<u8>> = array(inner)?.iter().map(binary).collect::<DynResult<_>>()?;
                check_set(&v, "binary", |a, b| a == b, |b| B64.encode(b))?;
                AttributeValue::Bs(v)
            }
            other => {
                return Err(DynError::serialization(format!(
                    "Unknown AttributeValue type: {other}"
                )));
            }
        })
    }

    /// The DynamoDB JSON form.
    pub fn to_json(&self) -> Value {
        match self {
            AttributeValue::S(s) => json!({ "S": s }),
            AttributeValue::N(n) => json!({ "N": n.to_string() }),
            AttributeValue::B(b) => json!({ "B": B64.encode(b) }),
            AttributeValue::Bool(b) => json!({ "BOOL": b }),
            AttributeValue::Null => json!({ "NULL": true }),
            AttributeValue::M(m) => json!({ "M": item_to_json(m) }),
            AttributeValue::L(l) => json!({ "L": l.iter().map(Self::to_json).collect::<Vec<_>>() }),
            AttributeValue::Ss(v) => json!({ "SS": v }),
            AttributeValue::Ns(v) => {
                json!({ "NS": v.iter().map(ToString::to_string).collect::<Vec<_>>() })
            }
            AttributeValue::Bs(v) => {
                json!({ "BS": v.iter().map(|b| B64.encode(b)).collect::<Vec<_>>() })
            }
        }
    }

    /// Approximate stored size in bytes by DynamoDB's rules.
    pub fn size(&self) -> usize {
        match self {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => number_size(n),
            AttributeValue::B(b) => b.len(),
            AttributeValue::Bool(_) | AttributeValue::Null => 1,
            AttributeValue::M(m) => {
                3 + m.iter().map(|(k, v)| k.len() + v.size() + 1).sum::<usize>()
            }
            AttributeValue::L(l) => 3 + l.iter().map(|v| v.size() + 1).sum::<usize>(),
            AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
            AttributeValue::Ns(v) => v.iter().map(number_size).sum(),
            AttributeValue::Bs(v) => v.iter().map(Vec::len).sum(),
        }
    }

    /// Orders two scalars of one type (`N`, `S`, `B`) as DynamoDB compares them;
    /// `None` for other or mismatched types.
    pub fn compare(&self, other: &Self) -> Option<Ordering> {
        match (self, other) {
            (AttributeValue::N(a), AttributeValue::N(b)) => Some(a.cmp(b)),
            (AttributeValue::S(a), AttributeValue::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (AttributeValue::B(a), AttributeValue::B(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

impl PartialEq for AttributeValue {
    /// Deep equality; sets compare without regard to order.
    fn eq(&self, other: &Self) -> bool {
        use AttributeValue as A;
        match (self, other) {
            (A::S(a), A::S(b)) => a == b,
            (A::N(a), A::N(b)) => a == b,
            (A::B(a), A::B(b)) => a == b,
            (A::Bool(a), A::Bool(b)) => a == b,
            (A::Null, A::Null) => true,
            (A::M(a), A::M(b)) => a == b,
            (A::L(a), A::L(b)) => a == b,
            (A::Ss(a), A::Ss(b)) => same_set(a, b),
            (A::Ns(a), A::Ns(b)) => same_set(a, b),
            (A::Bs(a), A::Bs(b)) => same_set(a, b),
            _ => false,
        }
    }
}

fn same_set<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

fn number_size(n: &Number) -> usize {
    n.digits().len().div_ceil(2) + 1
}

fn check_set<T>(
    v: &[T],
    kind: &str,
    eq: impl Fn(&T, &T) -> bool,
    show: impl Fn(&T) -> String,
) -> DynResult<()> {
    if v.is_empty() {
        return Err(DynError::validation(format!(
            "One or more parameter values were invalid: An {kind} set  may not be empty"
        )));
    }
    for (i, a) in v.iter().enumerate() {
        if v.iter().skip(i + 1).any(|b| eq(a, b)) {
            let all: Vec<String> = v.iter().map(&show).collect();
            return Err(DynError::validation(format!(
                "One or more parameter values were invalid: Input collection [{}] contains duplicates.",
                all.join(", ")
            )));
        }
    }
    Ok(())
}

/// Parses a DynamoDB JSON item (`{"name": {"S": "x"}, …}`).
pub fn item_from_json(v: &Value) -> DynResult<Item> {
    let Value::Object(o) = v else {
        return Err(DynError::serialization(
            "Unexpected value type in payload: an item must be a map",
        ));
    };
    let mut item = Item::new();
    for (k, v) in o {
        item.insert(k.clone(), AttributeValue::from_json(v)?);
    }
    Ok(item)
}

/// The DynamoDB JSON form of an item.
pub fn item_to_json(item: &Item) -> Value {
    let mut m = Map::new();
    for (k, v) in item {
        m.insert(k.clone(), v.to_json());
    }
    Value::Object(m)
}

/// The item's size by DynamoDB's rules: names plus values.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + v.size()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_type() {
        let j = json!({
            "s": {"S": "héllo"}, "n": {"N": "-1.5"}, "b": {"B": "AAEC"},
            "t": {"BOOL": true}, "z": {"NULL": true},
            "m": {"M": {"x": {"L": [{"N": "1"}, {"SS": ["a", "b"]}]}}},
            "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": ["AA=="]}, "ss": {"SS": ["q"]}
        });
        let item = item_from_json(&j).unwrap();
        assert_eq!(item_to_json(&item), j);
    }

    #[test]
    fn rejects_bad_values() {
        for bad in [
            json!({}),
            json!({"S": "a", "N": "1"}),
            json!({"NULL": false}),
            json!({"SS": []}),
            json!({"SS": ["a", "a"]}),
            json!({"NS": ["1", "1.0"]}),
            json!({"N": "x"}),
            json!({"S": 5}),
            json!({"B": "!!"}),
            json!({"Q": "x"}),
        ] {
            assert!(AttributeValue::from_json(&bad).is_err(), "{bad}");
        }
    }
}
