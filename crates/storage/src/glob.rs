//! Glob-style matching with Redis's exact rules (KEYS, SCAN MATCH, PSUBSCRIBE,
//! CONFIG GET, ACL patterns).
//!
//! Redis's matcher has quirks clients can observe: an unclosed `[` class acts as
//! if closed at the end of the pattern, ranges may be reversed (`[z-a]`), `\`
//! escapes inside and outside classes, and `*` never matches an empty subject on
//! its own (callers special-case the lone `*` pattern, as Redis does). Deeply
//! nested stars stop matching past 1000 levels, which also bounds the stack.

const MAX_NESTING: usize = 1000;

/// True if `subject` matches `pattern`.
pub fn matches(pattern: &[u8], subject: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_from(pattern, subject, nocase, &mut skip_longer, 0)
}

fn fold(c: u8, nocase: bool) -> u8 {
    if nocase {
        c.to_ascii_lowercase()
    } else {
        c
    }
}

fn match_from(mut p: &[u8], mut s: &[u8], nocase: bool, skip_longer: &mut bool, nesting: usize) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if match_from(&p[1..], s, nocase, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                // The rest of the pattern matches nowhere in the rest of the
                // subject, so no earlier star can help by matching more.
                *skip_longer = true;
                return false;
            }
            b'?' => s = &s[1..],
            b'[' => {
                let (matched, rest) = match_class(&p[1..], s[0], nocase);
                if !matched {
                    return false;
                }
                p = rest;
                s = &s[1..];
            }
            c => {
                let literal = if c == b'\\' && p.len() >= 2 {
                    p = &p[1..];
                    p[0]
                } else {
                    c
                };
                if fold(literal, nocase) != fold(s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
        if s.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

/// Matches one byte against the class starting just after `[`. Returns whether
/// it matched and the pattern positioned on the class's last byte (the caller
/// steps past it).
fn match_class(mut p: &[u8], c: u8, nocase: bool) -> (bool, &[u8]) {
    let negate = p.first() == Some(&b'^');
    if negate {
        p = &p[1..];
    }
    let mut matched = false;
    loop {
        match p {
            [] => {
                // Unclosed class: Redis treats the pattern's end as its close.
                // Hand back an empty-able slice so the caller's step ends the pattern.
                return (matched != negate, &[0][..]);
            }
            [b'\\', escaped, ..] => {
                p = &p[1..];
                if *escaped == c {
                    matched = true;
                }
            }
            [b']', ..] => break,
            [start, b'-', end, ..] => {
                let (mut lo, mut hi) = (*start, *end);
                if lo > hi {
                    std::mem::swap(&mut lo, &mut hi);
                }
                let (lo, hi, c) = (fold(lo, nocase), fold(hi, nocase), fold(c, nocase));
                p = &p[2..];
                if (lo..=hi).contains(&c) {
                    matched = true;
                }
            }
            [x, ..] => {
                if fold(*x, nocase) == fold(c, nocase) {
                    matched = true;
                }
            }
        }
        p = &p[1..];
    }
    (matched != negate, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        matches(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn basics() {
        assert!(m("*", "anything"));
        assert!(!m("*", ""), "a lone star does not match the empty string in Redis");
        assert!(m("h?llo", "hello"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"), "reversed ranges are swapped");
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("a*", "a"));
        assert!(m("*a*b*", "xxaxxbxx"));
        assert!(!m("*a*b*", "xxbxxaxx"));
    }

    #[test]
    fn unclosed_class_closes_at_end() {
        assert!(m("[abc", "b"));
        assert!(!m("[abc", "d"));
        assert!(!m("[", "a"));
        assert!(m("x[a-", "xa"), "a dangling range start is a literal");
    }

    #[test]
    fn nocase() {
        assert!(matches(b"HeLLo", b"hello", true));
        assert!(matches(b"h[A-Z]llo", b"hello", true));
    }
}
