//! Parses condition, update, projection and key condition expressions into trees,
//! resolving `#name` and `:value` placeholders as it goes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::error::{DynError, DynResult};
use crate::expr::lexer::{Spanned, Tok, lex};
use crate::types::value::AttributeValue;

/// One step of a document path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathElem {
    /// A map key (or top-level attribute name).
    Name(String),
    /// A list index.
    Index(usize),
}

/// A document path such as `a.b[2].c`.
pub type Path = Vec<PathElem>;

/// Renders a path for error messages: `[a, b, [2]]`.
pub fn show_path(p: &Path) -> String {
    let parts: Vec<String> = p
        .iter()
        .map(|e| match e {
            PathElem::Name(n) => n.clone(),
            PathElem::Index(i) => format!("[{i}]"),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// A value in a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// An attribute of the item.
    Path(Path),
    /// A literal from `ExpressionAttributeValues`.
    Value(AttributeValue),
    /// `size(path)`.
    Size(Path),
}

/// A comparator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A condition (`ConditionExpression`, `FilterExpression`, `KeyConditionExpression`).
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    /// `a <op> b`
    Cmp(Operand, CmpOp, Operand),
    /// `a BETWEEN lo AND hi`
    Between(Operand, Operand, Operand),
    /// `a IN (b, c, …)`
    In(Operand, Vec<Operand>),
    /// `x AND y`
    And(Box<Cond>, Box<Cond>),
    /// `x OR y`
    Or(Box<Cond>, Box<Cond>),
    /// `NOT x`
    Not(Box<Cond>),
    /// `attribute_exists(path)`
    Exists(Path),
    /// `attribute_not_exists(path)`
    NotExists(Path),
    /// `attribute_type(path, :t)`
    Type(Path, String),
    /// `begins_with(a, b)`
    BeginsWith(Operand, Operand),
    /// `contains(a, b)`
    Contains(Operand, Operand),
}

/// An operand of a `SET` action.
#[derive(Clone, Debug, PartialEq)]
pub enum SetOperand {
    /// An attribute of the item before the update.
    Path(Path),
    /// A literal.
    Value(AttributeValue),
    /// `if_not_exists(path, operand)`
    IfNotExists(Path, Box<SetOperand>),
    /// `list_append(a, b)`
    ListAppend(Box<SetOperand>, Box<SetOperand>),
}

/// The right-hand side of a `SET` action.
#[derive(Clone, Debug, PartialEq)]
pub enum SetValue {
    /// A single operand.
    One(SetOperand),
    /// `a + b`
    Plus(SetOperand, SetOperand),
    /// `a - b`
    Minus(SetOperand, SetOperand),
}

/// One action of an update expression.
#[derive(Clone, Debug, PartialEq)]
pub enum UpdateAction {
    /// `SET path = value`
    Set(Path, SetValue),
    /// `REMOVE path`
    Remove(Path),
    /// `ADD path :v`
    Add(Path, AttributeValue),
    /// `DELETE path :v`
    Delete(Path, AttributeValue),
}

impl UpdateAction {
    /// The path the action changes.
    pub fn path(&self) -> &Path {
        match self {
            UpdateAction::Set(p, _)
            | UpdateAction::Remove(p)
            | UpdateAction::Add(p, _)
            | UpdateAction::Delete(p, _) => p,
        }
    }
}

/// A request's `ExpressionAttributeNames` and `ExpressionAttributeValues`, with
/// the ones the expressions used (DynamoDB rejects unused ones).
#[derive(Debug, Default)]
pub struct Placeholders {
    names: BTreeMap<String, String>,
    values: BTreeMap<String, AttributeValue>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
    expressions: usize,
}

impl Placeholders {
    /// Reads the placeholders of a request (or of one item of a transaction).
    pub fn from_request(body: &Value) -> DynResult<Self> {
        let mut p = Placeholders::default();
        if let Some(v) = body
            .get("ExpressionAttributeNames")
            .filter(|v| !v.is_null())
        {
            let o = v
                .as_object()
                .ok_or_else(|| DynError::serialization("ExpressionAttributeNames must be a map"))?;
            if o.is_empty() {
                return Err(DynError::validation(
                    "ExpressionAttributeNames must not be empty",
                ));
            }
            for (k, v) in o {
                let name = k.strip_prefix('#').ok_or_else(|| {
                    DynError::validation(format!(
                        "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{k}\""
                    ))
                })?;
                let s = v.as_str().ok_or_else(|| {
                    DynError::serialization("ExpressionAttributeNames values must be strings")
                })?;
                p.names.insert(name.to_string(), s.to_string());
            }
        }
        if let Some(v) = body
            .get("ExpressionAttributeValues")
            .filter(|v| !v.is_null())
        {
            let o = v.as_object().ok_or_else(|| {
                DynError::serialization("ExpressionAttributeValues must be a map")
            })?;
            if o.is_empty() {
                return Err(DynError::validation(
                    "ExpressionAttributeValues must not be empty",
                ));
            }
            for (k, v) in o {
                let name = k.strip_prefix(':').ok_or_else(|| {
                    DynError::validation(format!(
                        "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{k}\""
                    ))
                })?;
                p.values
                    .insert(name.to_string(), AttributeValue::from_json(v)?);
            }
        }
        Ok(p)
    }

    /// Fails if a name or value was given that no expression used.
    pub fn check_unused(&self) -> DynResult<()> {
        if self.expressions == 0 {
            if !self.values.is_empty() {
                return Err(DynError::validation(
                    "ExpressionAttributeValues can only be specified when using expressions",
                ));
            }
            if !self.names.is_empty() {
                return Err(DynError::validation(
                    "ExpressionAttributeNames can only be specified when using expressions",
                ));
            }
        }
        let unused_v: Vec<String> = self
            .values
            .keys()
            .filter(|k| !self.used_values.contains(*k))
            .map(|k| format!(":{k}"))
            .collect();
        if !unused_v.is_empty() {
            return Err(DynError::validation(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                unused_v.join(", ")
            )));
        }
        let unused_n: Vec<String> = self
            .names
            .keys()
            .filter(|k| !self.used_names.contains(*k))
            .map(|k| format!("#{k}"))
            .collect();
        if !unused_n.is_empty() {
            return Err(DynError::validation(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                unused_n.join(", ")
            )));
        }
        Ok(())
    }
}

/// Parses a condition expression; `kind` names it in errors (`ConditionExpression`).
pub fn parse_condition(src: &str, kind: &'static str, ph: &mut Placeholders) -> DynResult<Cond> {
    let mut p = Parser::new(src, kind, ph)?;
    if p.toks.is_empty() {
        return Err(DynError::validation(format!(
            "Invalid {kind}: The expression can not be empty;"
        )));
    }
    let c = p.or()?;
    p.end()?;
    Ok(c)
}

/// Parses an update expression into its actions.
pub fn parse_update(src: &str, ph: &mut Placeholders) -> DynResult<Vec<UpdateAction>> {
    let kind = "UpdateExpression";
    let mut p = Parser::new(src, kind, ph)?;
    if p.toks.is_empty() {
        return Err(DynError::validation(
            "Invalid UpdateExpression: The expression can not be empty;",
        ));
    }
    let mut actions = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    while !p.at_end() {
        let clause = match p.peek() {
            Some(Tok::Ident(w)) => w.to_ascii_uppercase(),
            _ => return Err(p.syntax()),
        };
        if !["SET", "REMOVE", "ADD", "DELETE"].contains(&clause.as_str()) {
            return Err(p.syntax());
        }
        if !seen.insert(clause.clone()) {
            return Err(DynError::validation(format!(
                "Invalid UpdateExpression: The \"{clause}\" section can only be used once in an update expression;"
            )));
        }
        p.pos += 1;
        loop {
            let path = p.path()?;
            let action = match clause.as_str() {
                "SET" => {
                    p.expect_sym("=")?;
                    let a = p.set_operand()?;
                    let v = if p.eat_sym("+") {
                        SetValue::Plus(a, p.set_operand()?)
                    } else if p.eat_sym("-") {
                        SetValue::Minus(a, p.set_operand()?)
                    } else {
                        SetValue::One(a)
                    };
                    UpdateAction::Set(path, v)
                }
                "REMOVE" => UpdateAction::Remove(path),
                "ADD" => UpdateAction::Add(path, p.value()?),
                _ => UpdateAction::Delete(path, p.value()?),
            };
            actions.push(action);
            if !p.eat_sym(",") {
                break;
            }
        }
    }
    let paths: Vec<&Path> = actions.iter().map(UpdateAction::path).collect();
    check_overlap(&paths, kind)?;
    Ok(actions)
}

/// Parses a projection expression into its paths.
pub fn parse_projection(src: &str, ph: &mut Placeholders) -> DynResult<Vec<Path>> {
    let kind = "ProjectionExpression";
    let mut p = Parser::new(src, kind, ph)?;
    if p.toks.is_empty() {
        return Err(DynError::validation(
            "Invalid ProjectionExpression: The expression can not be empty;",
        ));
    }
    let mut paths = vec![p.path()?];
    while p.eat_sym(",") {
        paths.push(p.path()?);
    }
    p.end()?;
    check_overlap(&paths.iter().collect::<Vec<_>>(), kind)?;
    Ok(paths)
}

fn check_overlap(paths: &[&Path], kind: &str) -> DynResult<()> {
    for (i, a) in paths.iter().enumerate() {
        for b in paths.iter().skip(i + 1) {
            let n = a.len().min(b.len());
            if a.get(..n) == b.get(..n) {
                let msg = "Two document paths overlap with each other; must remove or rewrite one of these paths";
                return Err(DynError::validation(format!(
                    "Invalid {kind}: {msg}; path one: {}, path two: {}",
                    show_path(a),
                    show_path(b)
                )));
            }
        }
    }
    Ok(())
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Spanned>,
    pos: usize,
    kind: &'static str,
    ph: &'a mut Placeholders,
    depth: usize,
}

/// Longest expression DynamoDB accepts (4 KB).
const MAX_EXPRESSION_BYTES: usize = 4096;
/// Deepest nesting of parentheses, `NOT`s and functions the parser follows.
const MAX_NESTING: usize = 64;

const COND_FUNCS: [&str; 5] = [
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
];

impl<'a> Parser<'a> {
    fn new(src: &'a str, kind: &'static str, ph: &'a mut Placeholders) -> DynResult<Self> {
        if src.len() > MAX_EXPRESSION_BYTES {
            return Err(DynError::validation(format!(
                "Invalid {kind}: Expression size has exceeded the maximum allowed size; expression size: {}",
                src.len()
            )));
        }
        ph.expressions += 1;
        let toks = lex(src).map_err(|(t, at)| {
            DynError::validation(format!(
                "Invalid {kind}: Syntax error; token: \"{t}\", near: \"{}\"",
                near(src, at)
            ))
        })?;
        Ok(Parser {
            src,
            toks,
            pos: 0,
            kind,
            ph,
            depth: 0,
        })
    }

    /// Enters one level of nesting; deep nesting is refused rather than recursed.
    fn enter(&mut self) -> DynResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(DynError::validation(format!(
                "Invalid {}: The expression is nested too deeply",
                self.kind
            )));
        }
        Ok(())
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }

    fn peek2(&self) -> Option<&Tok> {
        self.toks.get(self.pos + 1).map(|t| &t.0)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    fn syntax(&self) -> DynError {
        match self.toks.get(self.pos) {
            Some((t, at)) => DynError::validation(format!(
                "Invalid {}: Syntax error; token: \"{}\", near: \"{}\"",
                self.kind,
                t.text(),
                near(self.src, *at)
            )),
            None => DynError::validation(format!(
                "Invalid {}: Syntax error; token: <EOF>, near: \"{}\"",
                self.kind,
                near(self.src, self.src.len().saturating_sub(8))
            )),
        }
    }

    fn end(&self) -> DynResult<()> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.syntax())
        }
    }

    fn eat_sym(&mut self, s: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(x)) if *x == s) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, s: &str) -> DynResult<()> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(self.syntax())
        }
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.peek().is_some_and(|t| t.is_kw(kw)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> DynResult<Cond> {
        let mut l = self.and()?;
        while self.eat_kw("OR") {
            let r = self.and()?;
            l = Cond::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn and(&mut self) -> DynResult<Cond> {
        let mut l = self.not()?;
        while self.eat_kw("AND") {
            let r = self.not()?;
            l = Cond::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn not(&mut self) -> DynResult<Cond> {
        self.enter()?;
        let r = if self.eat_kw("NOT") {
            self.not().map(|c| Cond::Not(Box::new(c)))
        } else {
            self.primary()
        };
        self.depth -= 1;
        r
    }

    fn primary(&mut self) -> DynResult<Cond> {
        if self.eat_sym("(") {
            let c = self.or()?;
            self.expect_sym(")")?;
            return Ok(c);
        }
        if let (Some(Tok::Ident(f)), Some(Tok::Sym("("))) = (self.peek(), self.peek2()) {
            let f = f.clone();
            if COND_FUNCS.contains(&f.as_str()) {
                return self.cond_function(&f);
            }
        }
        let lhs = self.operand()?;
        let op = match self.peek() {
            Some(Tok::Sym("=")) => Some(CmpOp::Eq),
            Some(Tok::Sym("<>")) => Some(CmpOp::Ne),
            Some(Tok::Sym("<")) => Some(CmpOp::Lt),
            Some(Tok::Sym("<=")) => Some(CmpOp::Le),
            Some(Tok::Sym(">")) => Some(CmpOp::Gt),
            Some(Tok::Sym(">=")) => Some(CmpOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.pos += 1;
            let rhs = self.operand()?;
            return Ok(Cond::Cmp(lhs, op, rhs));
        }
        if self.eat_kw("BETWEEN") {
            let lo = self.operand()?;
            if !self.eat_kw("AND") {
                return Err(self.syntax());
            }
            let hi = self.operand()?;
            return Ok(Cond::Between(lhs, lo, hi));
        }
        if self.eat_kw("IN") {
            self.expect_sym("(")?;
            let mut list = vec![self.operand()?];
            while self.eat_sym(",") {
                list.push(self.operand()?);
            }
            self.expect_sym(")")?;
            if list.len() > 100 {
                return Err(DynError::validation(format!(
                    "Invalid {}: The IN operator is provided with too many operands; number of operands: {}",
                    self.kind,
                    list.len()
                )));
            }
            return Ok(Cond::In(lhs, list));
        }
        Err(self.syntax())
    }

    fn cond_function(&mut self, f: &str) -> DynResult<Cond> {
        self.pos += 2; // name and "("
        let mut args = vec![self.operand()?];
        while self.eat_sym(",") {
            args.push(self.operand()?);
        }
        self.expect_sym(")")?;
        let want = match f {
            "attribute_exists" | "attribute_not_exists" => 1,
            _ => 2,
        };
        if args.len() != want {
            return Err(DynError::validation(format!(
                "Invalid {}: Incorrect number of operands for operator or function; operator or function: {f}, number of operands: {}",
                self.kind,
                args.len()
            )));
        }
        let mut it = args.into_iter();
        let (a, b) = (it.next(), it.next());
        let path_arg = |o: Option<Operand>, kind: &str| match o {
            Some(Operand::Path(p)) => Ok(p),
            _ => Err(DynError::validation(format!(
                "Invalid {kind}: Operator or function requires a document path; operator or function: {f}"
            ))),
        };
        let both = |a: Option<Operand>, b: Option<Operand>| match (a, b) {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => Err(DynError::validation("Invalid expression")),
        };
        Ok(match f {
            "attribute_exists" => Cond::Exists(path_arg(a, self.kind)?),
            "attribute_not_exists" => Cond::NotExists(path_arg(a, self.kind)?),
            "attribute_type" => {
                let p = path_arg(a, self.kind)?;
                let t = match b {
                    Some(Operand::Value(AttributeValue::S(t))) => t,
                    _ => {
                        return Err(DynError::validation(format!(
                            "Invalid {}: Incorrect operand type for operator or function; operator or function: attribute_type, operand type: not S",
                            self.kind
                        )));
                    }
                };
                const TYPES: [&str; 10] =
                    ["S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M"];
                if !TYPES.contains(&t.as_str()) {
                    return Err(DynError::validation(format!(
                        "Invalid {}: Invalid attribute type name found; type: {t}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}",
                        self.kind
                    )));
                }
                Cond::Type(p, t)
            }
            "begins_with" => {
                let (a, b) = both(a, b)?;
                Cond::BeginsWith(a, b)
            }
            _ => {
                let (a, b) = both(a, b)?;
                Cond::Contains(a, b)
            }
        })
    }

    fn operand(&mut self) -> DynResult<Operand> {
        match self.peek() {
            Some(Tok::Value(_)) => Ok(Operand::Value(self.value()?)),
            Some(Tok::Ident(f)) if self.peek2() == Some(&Tok::Sym("(")) => {
                let f = f.clone();
                if f == "size" {
                    self.pos += 2;
                    let p = self.path()?;
                    self.expect_sym(")")?;
                    Ok(Operand::Size(p))
                } else if COND_FUNCS.contains(&f.as_str()) {
                    Err(DynError::validation(format!(
                        "Invalid {}: The function is not allowed to be used this way in an expression; function: {f}",
                        self.kind
                    )))
                } else {
                    Err(DynError::validation(format!(
                        "Invalid {}: Invalid function name; function: {f}",
                        self.kind
                    )))
                }
            }
            _ => Ok(Operand::Path(self.path()?)),
        }
    }

    fn set_operand(&mut self) -> DynResult<SetOperand> {
        self.enter()?;
        let r = self.set_operand_inner();
        self.depth -= 1;
        r
    }

    fn set_operand_inner(&mut self) -> DynResult<SetOperand> {
        match self.peek() {
            Some(Tok::Value(_)) => Ok(SetOperand::Value(self.value()?)),
            Some(Tok::Ident(f)) if self.peek2() == Some(&Tok::Sym("(")) => {
                let f = f.clone();
                self.pos += 2;
                let r = match f.as_str() {
                    "if_not_exists" => {
                        let p = self.path()?;
                        self.expect_sym(",")?;
                        let d = self.set_operand()?;
                        SetOperand::IfNotExists(p, Box::new(d))
                    }
                    "list_append" => {
                        let a = self.set_operand()?;
                        self.expect_sym(",")?;
                        let b = self.set_operand()?;
                        SetOperand::ListAppend(Box::new(a), Box::new(b))
                    }
                    _ => {
                        return Err(DynError::validation(format!(
                            "Invalid UpdateExpression: Invalid function name; function: {f}"
                        )));
                    }
                };
                self.expect_sym(")")?;
                Ok(r)
            }
            _ => Ok(SetOperand::Path(self.path()?)),
        }
    }

    fn value(&mut self) -> DynResult<AttributeValue> {
        let Some(Tok::Value(v)) = self.peek() else {
            return Err(self.syntax());
        };
        let v = v.clone();
        self.pos += 1;
        let av = self.ph.values.get(&v).cloned().ok_or_else(|| {
            DynError::validation(format!(
                "Invalid {}: An expression attribute value used in expression is not defined; attribute value: :{v}",
                self.kind
            ))
        })?;
        self.ph.used_values.insert(v);
        Ok(av)
    }

    fn name(&mut self) -> DynResult<String> {
        match self.peek().cloned() {
            Some(Tok::Ident(n)) => {
                self.pos += 1;
                Ok(n)
            }
            Some(Tok::Name(n)) => {
                self.pos += 1;
                let real = self.ph.names.get(&n).cloned().ok_or_else(|| {
                    DynError::validation(format!(
                        "Invalid {}: An expression attribute name used in the document path is not defined; attribute name: #{n}",
                        self.kind
                    ))
                })?;
                self.ph.used_names.insert(n);
                Ok(real)
            }
            _ => Err(self.syntax()),
        }
    }

    fn path(&mut self) -> DynResult<Path> {
        let mut p = vec![PathElem::Name(self.name()?)];
        loop {
            if self.eat_sym(".") {
                p.push(PathElem::Name(self.name()?));
            } else if self.eat_sym("[") {
                let Some(Tok::Int(i)) = self.peek() else {
                    return Err(self.syntax());
                };
                let i: usize = i.parse().map_err(|_| self.syntax())?;
                self.pos += 1;
                self.expect_sym("]")?;
                p.push(PathElem::Index(i));
            } else {
                return Ok(p);
            }
        }
    }
}

/// A few characters of `src` from byte `at`, for error messages.
fn near(src: &str, at: usize) -> String {
    let mut start = at.min(src.len());
    while !src.is_char_boundary(start) {
        start -= 1;
    }
    src.get(start..)
        .unwrap_or_default()
        .chars()
        .take(16)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ph() -> Placeholders {
        Placeholders::from_request(&json!({
            "ExpressionAttributeNames": {"#n": "name"},
            "ExpressionAttributeValues": {":v": {"N": "1"}, ":s": {"S": "x"}}
        }))
        .unwrap()
    }

    #[test]
    fn parses_conditions() {
        let mut p = ph();
        let c = parse_condition(
            "#n.a[2] = :v AND NOT (b BETWEEN :v AND :v OR c IN (:v, :s)) AND attribute_exists(d) AND size(e) > :v",
            "ConditionExpression",
            &mut p,
        )
        .unwrap();
        assert!(matches!(c, Cond::And(..)));
        p.check_unused().unwrap();
    }

    #[test]
    fn syntax_errors_name_the_token() {
        let mut p = ph();
        let e = parse_condition("a = = :v", "ConditionExpression", &mut p).unwrap_err();
        assert_eq!(e.name, "ValidationException");
        assert!(
            e.message
                .starts_with("Invalid ConditionExpression: Syntax error; token: \"=\""),
            "{}",
            e.message
        );
        let e = parse_condition("a = :nope", "ConditionExpression", &mut p).unwrap_err();
        assert!(e.message.contains("attribute value: :nope"));
        let e = parse_condition("a = ", "ConditionExpression", &mut p).unwrap_err();
        assert!(e.message.contains("<EOF>"), "{}", e.message);
    }

    #[test]
    fn unused_values_are_rejected() {
        let mut p = ph();
        parse_condition("#n = :v", "ConditionExpression", &mut p).unwrap();
        let e = p.check_unused().unwrap_err();
        assert_eq!(
            e.message,
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:s}"
        );
    }

    #[test]
    fn deep_nesting_and_long_expressions_are_refused() {
        let mut p = ph();
        let deep = format!("{}#n = :v{}", "(".repeat(1000), ")".repeat(1000));
        let e = parse_condition(&deep, "ConditionExpression", &mut p).unwrap_err();
        assert!(
            e.message.contains("Expression size") || e.message.contains("nested"),
            "{}",
            e.message
        );
        let deep = format!("{}#n = :v{}", "(".repeat(500), ")".repeat(500));
        let e = parse_condition(&deep, "ConditionExpression", &mut p).unwrap_err();
        assert!(e.message.contains("nested too deeply"), "{}", e.message);
        let nots = format!("{}#n = :v", "NOT ".repeat(500));
        assert!(parse_condition(&nots, "ConditionExpression", &mut p).is_err());
        let ok = format!("{}#n = :v{}", "(".repeat(20), ")".repeat(20));
        parse_condition(&ok, "ConditionExpression", &mut p).unwrap();
    }

    #[test]
    fn parses_updates() {
        let mut p = ph();
        let a = parse_update(
            "SET a = a + :v, b = if_not_exists(b, :v), c = list_append(c, :s) REMOVE d[1] ADD e :v DELETE f :s",
            &mut p,
        )
        .unwrap();
        assert_eq!(a.len(), 6);
        let e = parse_update("SET a = :v SET b = :v", &mut p).unwrap_err();
        assert!(e.message.contains("can only be used once"));
        let e = parse_update("SET a = :v, a.b = :v", &mut p).unwrap_err();
        assert!(e.message.contains("overlap"), "{}", e.message);
    }
}
