//! Splits an expression into tokens.

/// One token of an expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// A bare word: an attribute name, a keyword or a function name.
    Ident(String),
    /// `#name`: an expression attribute name placeholder.
    Name(String),
    /// `:value`: an expression attribute value placeholder.
    Value(String),
    /// A non-negative integer (list index).
    Int(String),
    /// Punctuation or a comparator: `( ) [ ] , . = <> < <= > >= + -`.
    Sym(&'static str),
}

impl Tok {
    /// The token as written, for error messages.
    pub fn text(&self) -> String {
        match self {
            Tok::Ident(s) | Tok::Int(s) => s.clone(),
            Tok::Name(s) => format!("#{s}"),
            Tok::Value(s) => format!(":{s}"),
            Tok::Sym(s) => (*s).to_string(),
        }
    }

    /// True if this is the keyword `kw` (case-insensitive).
    pub fn is_kw(&self, kw: &str) -> bool {
        matches!(self, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }
}

/// A token and the byte offset it starts at.
pub type Spanned = (Tok, usize);

/// Tokenises `s`; on an unexpected character returns it and its offset.
pub fn lex(s: &str) -> Result<Vec<Spanned>, (String, usize)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let word = |i: &mut usize| {
        let start = *i;
        while b
            .get(*i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            *i += 1;
        }
        s.get(start..*i).unwrap_or_default().to_string()
    };
    while let Some(&c) = b.get(i) {
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'#' | b':' => {
                i += 1;
                let w = word(&mut i);
                if w.is_empty() {
                    return Err((char::from(c).to_string(), start));
                }
                out.push((
                    if c == b'#' {
                        Tok::Name(w)
                    } else {
                        Tok::Value(w)
                    },
                    start,
                ));
            }
            b'0'..=b'9' => {
                let w = word(&mut i);
                if w.bytes().all(|c| c.is_ascii_digit()) {
                    out.push((Tok::Int(w), start));
                } else {
                    out.push((Tok::Ident(w), start));
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let w = word(&mut i);
                out.push((Tok::Ident(w), start));
            }
            _ => {
                let two = b.get(i..i + 2);
                let sym: &'static str = match (c, two) {
                    (_, Some(b"<>")) => "<>",
                    (_, Some(b"<=")) => "<=",
                    (_, Some(b">=")) => ">=",
                    (b'(', _) => "(",
                    (b')', _) => ")",
                    (b'[', _) => "[",
                    (b']', _) => "]",
                    (b',', _) => ",",
                    (b'.', _) => ".",
                    (b'=', _) => "=",
                    (b'<', _) => "<",
                    (b'>', _) => ">",
                    (b'+', _) => "+",
                    (b'-', _) => "-",
                    _ => {
                        let ch = s.get(i..).and_then(|r| r.chars().next()).unwrap_or('?');
                        return Err((ch.to_string(), start));
                    }
                };
                i += sym.len();
                out.push((Tok::Sym(sym), start));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let t: Vec<Tok> = lex("#a.b[2] <= :v AND size(x)<>:w")
            .unwrap()
            .into_iter()
            .map(|t| t.0)
            .collect();
        assert_eq!(t.len(), 15);
        assert_eq!(t[0], Tok::Name("a".into()));
        assert_eq!(t[5], Tok::Sym("]"));
        assert_eq!(t[6], Tok::Sym("<="));
        assert!(t[8].is_kw("and"));
        assert_eq!(t[13], Tok::Sym("<>"));
        assert!(lex("a = $").is_err());
    }
}
