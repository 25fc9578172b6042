//! Evaluates conditions against an item and projects items onto paths.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::expr::parser::{CmpOp, Cond, Operand, Path, PathElem};
use crate::types::number::Number;
use crate::types::value::{AttributeValue, Item};

/// The value at `path` in `item`, if there is one.
pub fn get_path<'a>(item: &'a Item, path: &[PathElem]) -> Option<&'a AttributeValue> {
    let (first, rest) = path.split_first()?;
    let PathElem::Name(n) = first else {
        return None;
    };
    let mut v = item.get(n)?;
    for e in rest {
        v = match (v, e) {
            (AttributeValue::M(m), PathElem::Name(n)) => m.get(n)?,
            (AttributeValue::L(l), PathElem::Index(i)) => l.get(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

fn operand<'a>(item: &'a Item, o: &'a Operand) -> Option<Cow<'a, AttributeValue>> {
    match o {
        Operand::Path(p) => get_path(item, p).map(Cow::Borrowed),
        Operand::Value(v) => Some(Cow::Borrowed(v)),
        Operand::Size(p) => {
            let n = match get_path(item, p)? {
                AttributeValue::S(s) => s.chars().count(),
                AttributeValue::B(b) => b.len(),
                AttributeValue::M(m) => m.len(),
                AttributeValue::L(l) => l.len(),
                AttributeValue::Ss(v) => v.len(),
                AttributeValue::Ns(v) => v.len(),
                AttributeValue::Bs(v) => v.len(),
                _ => return None,
            };
            Number::parse(&n.to_string())
                .ok()
                .map(|n| Cow::Owned(AttributeValue::N(n)))
        }
    }
}

/// True if `item` (`None`: no item) satisfies `cond`.
pub fn eval(item: Option<&Item>, cond: &Cond) -> bool {
    let empty = Item::new();
    eval_item(item.unwrap_or(&empty), cond)
}

fn eval_item(item: &Item, cond: &Cond) -> bool {
    match cond {
        Cond::And(a, b) => eval_item(item, a) && eval_item(item, b),
        Cond::Or(a, b) => eval_item(item, a) || eval_item(item, b),
        Cond::Not(a) => !eval_item(item, a),
        Cond::Exists(p) => get_path(item, p).is_some(),
        Cond::NotExists(p) => get_path(item, p).is_none(),
        Cond::Type(p, t) => get_path(item, p).is_some_and(|v| v.type_name() == t),
        Cond::Cmp(a, op, b) => {
            let (Some(a), Some(b)) = (operand(item, a), operand(item, b)) else {
                // A missing attribute differs from every value.
                return *op == CmpOp::Ne;
            };
            compare(&a, *op, &b)
        }
        Cond::Between(x, lo, hi) => {
            let (Some(x), Some(lo), Some(hi)) =
                (operand(item, x), operand(item, lo), operand(item, hi))
            else {
                return false;
            };
            compare(&x, CmpOp::Ge, &lo) && compare(&x, CmpOp::Le, &hi)
        }
        Cond::In(x, list) => {
            let Some(x) = operand(item, x) else {
                return false;
            };
            list.iter()
                .any(|o| operand(item, o).is_some_and(|v| *v == *x))
        }
        Cond::BeginsWith(a, b) => match (operand(item, a), operand(item, b)) {
            (Some(a), Some(b)) => begins_with(&a, &b),
            _ => false,
        },
        Cond::Contains(a, b) => match (operand(item, a), operand(item, b)) {
            (Some(a), Some(b)) => contains(&a, &b),
            _ => false,
        },
    }
}

/// Every document path `cond` reads.
pub fn cond_paths(cond: &Cond) -> Vec<&Path> {
    fn op<'a>(o: &'a Operand, out: &mut Vec<&'a Path>) {
        match o {
            Operand::Path(p) | Operand::Size(p) => out.push(p),
            Operand::Value(_) => {}
        }
    }
    fn walk<'a>(c: &'a Cond, out: &mut Vec<&'a Path>) {
        match c {
            Cond::And(a, b) | Cond::Or(a, b) => {
                walk(a, out);
                walk(b, out);
            }
            Cond::Not(a) => walk(a, out),
            Cond::Exists(p) | Cond::NotExists(p) | Cond::Type(p, _) => out.push(p),
            Cond::Cmp(a, _, b) | Cond::BeginsWith(a, b) | Cond::Contains(a, b) => {
                op(a, out);
                op(b, out);
            }
            Cond::Between(a, b, c) => {
                op(a, out);
                op(b, out);
                op(c, out);
            }
            Cond::In(a, list) => {
                op(a, out);
                for o in list {
                    op(o, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(cond, &mut out);
    out
}

/// `a <op> b` by DynamoDB's rules: `=`/`<>` for any types, ordering only between
/// two `N`, two `S` or two `B`.
pub fn compare(a: &AttributeValue, op: CmpOp, b: &AttributeValue) -> bool {
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        _ => match a.compare(b) {
            Some(o) => match op {
                CmpOp::Lt => o == Ordering::Less,
                CmpOp::Le => o != Ordering::Greater,
                CmpOp::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            },
            None => false,
        },
    }
}

/// `begins_with(a, b)` for strings and binaries.
pub fn begins_with(a: &AttributeValue, b: &AttributeValue) -> bool {
    match (a, b) {
        (AttributeValue::S(a), AttributeValue::S(b)) => a.starts_with(b.as_str()),
        (AttributeValue::B(a), AttributeValue::B(b)) => a.starts_with(b),
        _ => false,
    }
}

fn contains(a: &AttributeValue, b: &AttributeValue) -> bool {
    match (a, b) {
        (AttributeValue::S(a), AttributeValue::S(b)) => a.contains(b.as_str()),
        (AttributeValue::B(a), AttributeValue::B(b)) => {
            b.is_empty() || a.windows(b.len()).any(|w| w == b.as_slice())
        }
        (AttributeValue::Ss(a), AttributeValue::S(b)) => a.contains(b),
        (AttributeValue::Ns(a), AttributeValue::N(b)) => a.contains(b),
        (AttributeValue::Bs(a), AttributeValue::B(b)) => a.contains(b),
        (AttributeValue::L(a), b) => a.contains(b),
        _ => false,
    }
}

/// The parts of `item` at `paths`, nested as in the item (list elements keep
/// their order but are packed together).
pub fn project(item: &Item, paths: &[Path]) -> Item {
    #[derive(Default)]
    struct Node {
        leaf: Option<AttributeValue>,
        names: BTreeMap<String, Node>,
        indexes: BTreeMap<usize, Node>,
    }
    fn build(n: Node) -> Option<AttributeValue> {
        if let Some(v) = n.leaf {
            return Some(v);
        }
        if !n.indexes.is_empty() {
            let l: Vec<AttributeValue> = n.indexes.into_values().filter_map(build).collect();
            return Some(AttributeValue::L(l));
        }
        let m: Item = n
            .names
            .into_iter()
            .filter_map(|(k, c)| build(c).map(|v| (k, v)))
            .collect();
        Some(AttributeValue::M(m))
    }
    let mut root = Node::default();
    for p in paths {
        let Some(v) = get_path(item, p) else {
            continue;
        };
        let mut node = &mut root;
        for e in p {
            node = match e {
                PathElem::Name(n) => node.names.entry(n.clone()).or_default(),
                PathElem::Index(i) => node.indexes.entry(*i).or_default(),
            };
        }
        node.leaf = Some(v.clone());
    }
    root.names
        .into_iter()
        .filter_map(|(k, c)| build(c).map(|v| (k, v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::parser::{Placeholders, parse_condition, parse_projection};
    use crate::types::value::{item_from_json, item_to_json};
    use serde_json::json;

    fn item() -> Item {
        item_from_json(&json!({
            "id": {"S": "k"}, "n": {"N": "5"}, "s": {"S": "hello"},
            "tags": {"SS": ["a", "b"]}, "l": {"L": [{"N": "1"}, {"M": {"x": {"S": "y"}}}]},
            "m": {"M": {"a": {"M": {"b": {"N": "2"}}}}}
        }))
        .unwrap()
    }

    fn check(expr: &str) -> bool {
        let mut ph = Placeholders::from_request(&json!({
            "ExpressionAttributeValues": {
                ":five": {"N": "5"}, ":four": {"N": "4.0"}, ":he": {"S": "he"},
                ":a": {"S": "a"}, ":two": {"N": "2"}, ":y": {"S": "y"}, ":t": {"S": "SS"}
            }
        }))
        .unwrap();
        let c = parse_condition(expr, "ConditionExpression", &mut ph).unwrap();
        eval(Some(&item()), &c)
    }

    #[test]
    fn evaluates() {
        assert!(check("n = :five"));
        assert!(check("n > :four AND n >= :five AND n <= :five"));
        assert!(!check("n < :four"));
        assert!(check("n BETWEEN :four AND :five"));
        assert!(check("n IN (:four, :five)"));
        assert!(check("begins_with(s, :he)"));
        assert!(check("contains(tags, :a) AND contains(s, :he)"));
        assert!(check("m.a.b = :two AND l[1].x = :y"));
        assert!(check("size(tags) = :two AND size(l) = :two"));
        assert!(check("attribute_type(tags, :t)"));
        assert!(check("attribute_exists(m.a) AND attribute_not_exists(m.z)"));
        assert!(check("NOT (n = :four) OR n = :four"));
        assert!(!check("missing = :five"));
        assert!(!check("s > :five"));
        assert!(check("missing <> :five"));
    }

    #[test]
    fn projects_nested_paths() {
        let mut ph = Placeholders::default();
        let paths = parse_projection("id, m.a.b, l[1].x, nope", &mut ph).unwrap();
        let p = project(&item(), &paths);
        assert_eq!(
            item_to_json(&p),
            json!({
                "id": {"S": "k"},
                "m": {"M": {"a": {"M": {"b": {"N": "2"}}}}},
                "l": {"L": [{"M": {"x": {"S": "y"}}}]}
            })
        );
    }
}
