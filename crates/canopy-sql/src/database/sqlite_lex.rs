//! Counts the statements in SQLite text, following SQLite's own tokenizer rules for strings,
//! quoted identifiers and comments. SQLite would run every statement of a batch; the server
//! runs exactly one, inside a transaction, so a batch cannot end that transaction early.

/// Returns how many non-empty statements `sql` holds.
pub(crate) fn statement_count(sql: &str) -> usize {
    let mut count = 0;
    let mut current_has_token = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' | '`' => {
                current_has_token = true;
                // Quotes end at the same quote; a doubled quote is an escaped one.
                loop {
                    match chars.next() {
                        None => break,
                        Some(q) if q == c => {
                            if chars.peek() == Some(&c) {
                                chars.next();
                            } else {
                                break;
                            }
                        }
                        Some(_) => {}
                    }
                }
            }
            '[' => {
                current_has_token = true;
                for q in chars.by_ref() {
                    if q == ']' {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                for q in chars.by_ref() {
                    if q == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for q in chars.by_ref() {
                    if prev == '*' && q == '/' {
                        break;
                    }
                    prev = q;
                }
            }
            ';' => {
                if current_has_token {
                    count += 1;
                }
                current_has_token = false;
            }
            c if c.is_whitespace() => {}
            _ => current_has_token = true,
        }
    }
    if current_has_token {
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::statement_count;

    #[test]
    fn counts_statements_like_sqlite() {
        assert_eq!(statement_count("SELECT 1"), 1);
        assert_eq!(statement_count("SELECT 1;  -- done\n"), 1);
        assert_eq!(
            statement_count("SELECT ';' , \"a;b\", [c;d], `e;f` /* ; */"),
            1
        );
        assert_eq!(statement_count("SELECT 'it''s; fine'"), 1);
        assert_eq!(
            statement_count("SELECT 1; ROLLBACK; VACUUM INTO '/tmp/x'"),
            3
        );
        assert_eq!(statement_count("SELECT 1;;"), 1);
        assert_eq!(statement_count(""), 0);
        assert_eq!(statement_count("-- only a comment"), 0);
    }
}
