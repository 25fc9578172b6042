//! Redis's glob matcher (`stringmatchlen`): `*`, `?`, `[a-z]`, `[^x]`, `\x`.

/// True if `s` matches `pattern` (case-sensitive).
pub fn matches(pattern: &[u8], s: &[u8]) -> bool {
    match_at(pattern, s, 0)
}

fn match_at(p: &[u8], s: &[u8], depth: usize) -> bool {
    // Deep star nesting is bounded like Redis (which caps recursion at 1000).
    if depth > 1000 {
        return false;
    }
    let (mut pi, mut si) = (0usize, 0usize);
    while let Some(&pc) = p.get(pi) {
        match pc {
            b'*' => {
                while p.get(pi + 1) == Some(&b'*') {
                    pi += 1;
                }
                if pi + 1 == p.len() {
                    return true;
                }
                let rest = p.get(pi + 1..).unwrap_or(&[]);
                for start in si..=s.len() {
                    if match_at(rest, s.get(start..).unwrap_or(&[]), depth + 1) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => {
                if si >= s.len() {
                    return false;
                }
                si += 1;
            }
            b'[' => {
                let Some(&c) = s.get(si) else {
                    return false;
                };
                pi += 1;
                let not = p.get(pi) == Some(&b'^');
                if not {
                    pi += 1;
                }
                let mut matched = false;
                loop {
                    match p.get(pi) {
                        Some(b'\\') if pi + 2 <= p.len() => {
                            pi += 1;
                            if p.get(pi) == Some(&c) {
                                matched = true;
                            }
                        }
                        Some(b']') => break,
                        None => {
                            pi = pi.saturating_sub(1);
                            break;
                        }
                        Some(&lo) if p.get(pi + 1) == Some(&b'-') && pi + 3 <= p.len() => {
                            let hi = p.get(pi + 2).copied().unwrap_or(lo);
                            let (lo, hi) = if lo > hi { (hi, lo) } else { (lo, hi) };
                            pi += 2;
                            if c >= lo && c <= hi {
                                matched = true;
                            }
                        }
                        Some(&x) => {
                            if x == c {
                                matched = true;
                            }
                        }
                    }
                    pi += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                si += 1;
            }
            b'\\' if pi + 1 < p.len() => {
                pi += 1;
                if s.get(si) != p.get(pi) {
                    return false;
                }
                si += 1;
            }
            _ => {
                if s.get(si) != Some(&pc) {
                    return false;
                }
                si += 1;
            }
        }
        pi += 1;
    }
    si == s.len()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs() {
        assert!(matches(b"*", b""));
        assert!(matches(b"h?llo", b"hello"));
        assert!(matches(b"h*llo", b"heeeello"));
        assert!(matches(b"h[ae]llo", b"hallo"));
        assert!(!matches(b"h[^e]llo", b"hello"));
        assert!(matches(b"h[a-b]llo", b"hbllo"));
        assert!(matches(b"a\\*b", b"a*b"));
        assert!(!matches(b"a\\*b", b"axb"));
        assert!(matches(b"user:*:x", b"user:1:x"));
        assert!(!matches(b"abc", b"abcd"));
    }
}
