//! Applies an update expression's actions to an item.

use crate::error::{DynError, DynResult};
use crate::expr::eval::get_path;
use crate::expr::parser::{PathElem, SetOperand, SetValue, UpdateAction};
use crate::types::value::{AttributeValue, Item};

fn bad_type() -> DynError {
    DynError::validation("An operand in the update expression has an incorrect data type")
}

fn bad_path() -> DynError {
    DynError::validation(
        "The document path provided in the update expression is invalid for update",
    )
}

/// Applies `actions` to `item` in place. Right-hand sides read the item as it was
/// before the update. Fails (leaving `item` unusable) on a type error.
pub fn apply(item: &mut Item, actions: &[UpdateAction]) -> DynResult<()> {
    let old = item.clone();
    // Evaluate every SET value against the old item first.
    let mut values = Vec::with_capacity(actions.len());
    for a in actions {
        values.push(match a {
            UpdateAction::Set(_, v) => Some(set_value(&old, v)?),
            _ => None,
        });
    }
    let mut root = AttributeValue::M(std::mem::take(item));
    for (a, v) in actions.iter().zip(values) {
        match (a, v) {
            (UpdateAction::Set(p, _), Some(v)) => set_path(&mut root, p, v)?,
            (UpdateAction::Remove(p), _) => remove_path(&mut root, p),
            (UpdateAction::Add(p, v), _) => {
                let new = match (get_in(&root, p), v) {
                    (
                        None,
                        v @ (AttributeValue::N(_)
                        | AttributeValue::Ss(_)
                        | AttributeValue::Ns(_)
                        | AttributeValue::Bs(_)),
                    ) => v.clone(),
                    (Some(AttributeValue::N(a)), AttributeValue::N(b)) => {
                        AttributeValue::N(a.add(b)?)
                    }
                    (Some(AttributeValue::Ss(a)), AttributeValue::Ss(b)) => {
                        AttributeValue::Ss(union(a, b))
                    }
                    (Some(AttributeValue::Ns(a)), AttributeValue::Ns(b)) => {
                        AttributeValue::Ns(union(a, b))
                    }
                    (Some(AttributeValue::Bs(a)), AttributeValue::Bs(b)) => {
                        AttributeValue::Bs(union(a, b))
                    }
                    (None, v) => {
                        return Err(DynError::validation(format!(
                            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: {}",
                            long_type(v)
                        )));
                    }
                    _ => return Err(bad_type()),
                };
                set_path(&mut root, p, new)?;
            }
            (UpdateAction::Delete(p, v), _) => {
                let new = match (get_in(&root, p), v) {
                    (
                        None,
                        AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_),
                    ) => {
                        continue;
                    }
                    (Some(AttributeValue::Ss(a)), AttributeValue::Ss(b)) => {
                        minus(a, b).map(AttributeValue::Ss)
                    }
                    (Some(AttributeValue::Ns(a)), AttributeValue::Ns(b)) => {
                        minus(a, b).map(AttributeValue::Ns)
                    }
                    (Some(AttributeValue::Bs(a)), AttributeValue::Bs(b)) => {
                        minus(a, b).map(AttributeValue::Bs)
                    }
                    (_, AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)) => {
                        return Err(bad_type());
                    }
                    (_, v) => {
                        return Err(DynError::validation(format!(
                            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: {}",
                            long_type(v)
                        )));
                    }
                };
                match new {
                    Some(v) => set_path(&mut root, p, v)?,
                    None => remove_path(&mut root, p),
                }
            }
            (UpdateAction::Set(..), None) => {}
        }
    }
    if let AttributeValue::M(m) = root {
        *item = m;
    }
    Ok(())
}

fn long_type(v: &AttributeValue) -> &'static str {
    match v {
        AttributeValue::S(_) => "STRING",
        AttributeValue::N(_) => "NUMBER",
        AttributeValue::B(_) => "BINARY",
        AttributeValue::Bool(_) => "BOOLEAN",
        AttributeValue::Null => "NULL",
        AttributeValue::M(_) => "MAP",
        AttributeValue::L(_) => "LIST",
        AttributeValue::Ss(_) => "STRING SET",
        AttributeValue::Ns(_) => "NUMBER SET",
        AttributeValue::Bs(_) => "BINARY SET",
    }
}

fn union<T: Clone + PartialEq>(a: &[T], b: &[T]) -> Vec<T> {
    let mut v = a.to_vec();
    for x in b {
        if !v.contains(x) {
            v.push(x.clone());
        }
    }
    v
}

/// `a` without the elements of `b`; `None` when nothing is left.
fn minus<T: Clone + PartialEq>(a: &[T], b: &[T]) -> Option<Vec<T>> {
    let v: Vec<T> = a.iter().filter(|x| !b.contains(x)).cloned().collect();
    (!v.is_empty()).then_some(v)
}

fn get_in<'a>(root: &'a AttributeValue, path: &[PathElem]) -> Option<&'a AttributeValue> {
    match root {
        AttributeValue::M(m) => get_path(m, path),
        _ => None,
    }
}

fn operand(old: &Item, o: &SetOperand) -> DynResult<AttributeValue> {
    match o {
        SetOperand::Value(v) => Ok(v.clone()),
        SetOperand::Path(p) => get_path(old, p).cloned().ok_or_else(|| {
            DynError::validation(
                "The provided expression refers to an attribute that does not exist in the item",
            )
        }),
        SetOperand::IfNotExists(p, d) => match get_path(old, p) {
            Some(v) => Ok(v.clone()),
            None => operand(old, d),
        },
        SetOperand::ListAppend(a, b) => match (operand(old, a)?, operand(old, b)?) {
            (AttributeValue::L(mut a), AttributeValue::L(b)) => {
                a.extend(b);
                Ok(AttributeValue::L(a))
            }
            _ => Err(bad_type()),
        },
    }
}

fn set_value(old: &Item, v: &SetValue) -> DynResult<AttributeValue> {
    match v {
        SetValue::One(o) => operand(old, o),
        SetValue::Plus(a, b) | SetValue::Minus(a, b) => {
            match (operand(old, a)?, operand(old, b)?) {
                (AttributeValue::N(x), AttributeValue::N(y)) => {
                    Ok(AttributeValue::N(if matches!(v, SetValue::Plus(..)) {
                        x.add(&y)?
                    } else {
                        x.sub(&y)?
                    }))
                }
                _ => Err(bad_type()),
            }
        }
    }
}

fn child_mut<'a>(v: &'a mut AttributeValue, e: &PathElem) -> Option<&'a mut AttributeValue> {
    match (v, e) {
        (AttributeValue::M(m), PathElem::Name(n)) => m.get_mut(n),
        (AttributeValue::L(l), PathElem::Index(i)) => l.get_mut(*i),
        _ => None,
    }
}

fn parent_mut<'a>(
    root: &'a mut AttributeValue,
    path: &[PathElem],
) -> Option<&'a mut AttributeValue> {
    let mut v = root;
    for e in path {
        v = child_mut(v, e)?;
    }
    Some(v)
}

fn set_path(root: &mut AttributeValue, path: &[PathElem], value: AttributeValue) -> DynResult<()> {
    let Some((last, parents)) = path.split_last() else {
        return Err(bad_path());
    };
    let parent = parent_mut(root, parents).ok_or_else(bad_path)?;
    match (parent, last) {
        (AttributeValue::M(m), PathElem::Name(n)) => {
            m.insert(n.clone(), value);
        }
        (AttributeValue::L(l), PathElem::Index(i)) => match l.get_mut(*i) {
            Some(slot) => *slot = value,
            None => l.push(value),
        },
        _ => return Err(bad_path()),
    }
    Ok(())
}

fn remove_path(root: &mut AttributeValue, path: &[PathElem]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let Some(parent) = parent_mut(root, parents) else {
        return;
    };
    match (parent, last) {
        (AttributeValue::M(m), PathElem::Name(n)) => {
            m.remove(n);
        }
        (AttributeValue::L(l), PathElem::Index(i)) if *i < l.len() => {
            l.remove(*i);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::parser::{Placeholders, parse_update};
    use crate::types::value::{item_from_json, item_to_json};
    use serde_json::{Value, json};

    fn run(start: Value, expr: &str) -> DynResult<Value> {
        let mut item = item_from_json(&start).unwrap();
        let mut ph = Placeholders::from_request(&json!({
            "ExpressionAttributeValues": {
                ":one": {"N": "1"}, ":half": {"N": "0.5"}, ":l": {"L": [{"S": "z"}]},
                ":ss": {"SS": ["b", "c"]}, ":s": {"S": "x"}
            }
        }))
        .unwrap();
        let actions = parse_update(expr, &mut ph)?;
        apply(&mut item, &actions)?;
        Ok(item_to_json(&item))
    }

    #[test]
    fn set_add_remove_delete() {
        let out = run(
            json!({"n": {"N": "1"}, "l": {"L": [{"S": "a"}, {"S": "b"}]}, "tags": {"SS": ["a", "b"]}, "gone": {"S": "x"}}),
            "SET n = n + :half, c = if_not_exists(c, :one), l = list_append(l, :l), m = :s \
             REMOVE gone ADD cnt :one, tags :ss DELETE tags :ss",
        );
        // tags: ADD makes {a,b,c}; DELETE then removes {b,c}: paths overlap, so rejected.
        assert!(out.is_err());
        let out = run(
            json!({"n": {"N": "1"}, "l": {"L": [{"S": "a"}]}, "tags": {"SS": ["a", "b"]}, "gone": {"S": "x"}}),
            "SET n = n + :half, c = if_not_exists(c, :one), l = list_append(l, :l) REMOVE gone ADD cnt :one DELETE tags :ss",
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"n": {"N": "1.5"}, "c": {"N": "1"}, "l": {"L": [{"S": "a"}, {"S": "z"}]}, "cnt": {"N": "1"}, "tags": {"SS": ["a"]}})
        );
    }

    #[test]
    fn nested_paths() {
        let out = run(
            json!({"m": {"M": {"l": {"L": [{"N": "1"}, {"N": "2"}]}}}}),
            "SET m.l[5] = :s, m.k = :one REMOVE m.l[0]",
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"m": {"M": {"l": {"L": [{"N": "2"}, {"S": "x"}]}, "k": {"N": "1"}}}})
        );
        assert!(run(json!({}), "SET a.b = :one").is_err());
    }

    #[test]
    fn type_errors() {
        assert!(run(json!({"s": {"S": "x"}}), "SET s = s + :one").is_err());
        assert!(run(json!({}), "SET s = nope + :one").is_err());
        assert!(run(json!({"s": {"S": "x"}}), "ADD s :one").is_err());
        assert!(run(json!({}), "ADD s :s").is_err());
    }
}
