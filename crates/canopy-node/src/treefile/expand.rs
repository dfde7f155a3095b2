//! `${VAR}` expansion in the string values of a tree file.
//!
//! `${NAME}` is replaced by the variable's value, `$${` stands for a literal `${`, and any
//! other `$` is kept as it is. An unset variable is an error, never an empty string: a
//! missing token should stop the load, not send `Bearer ` to a server.

use std::fmt;

/// Why a string could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ExpandError {
    /// `${NAME}` names a variable that is not set.
    Unset(String),
    /// `${` with no closing `}`.
    Unclosed,
    /// `${…}` holds something that is not a variable name (nested `${`, spaces, `:-`…).
    InvalidName(String),
}

impl fmt::Display for ExpandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unset(name) => write!(
                f,
                "environment variable '{name}' is not set (set it, or write $${{{name}}} for \
                 the literal text ${{{name}}})"
            ),
            Self::Unclosed => {
                f.write_str("unclosed '${' (close it with '}', or write '$${' for a literal '${')")
            }
            Self::InvalidName(name) => write!(
                f,
                "invalid variable name '{name}' in '${{{name}}}' (a name is letters, digits \
                 and '_', not starting with a digit; nesting and defaults are not supported)"
            ),
        }
    }
}

/// Expands every `${NAME}` in `input` with `env`; `$${` gives a literal `${`.
pub(super) fn expand(
    input: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let end = tail.find('}').ok_or(ExpandError::Unclosed)?;
            let name = &tail[..end];
            if !is_variable_name(name) {
                return Err(ExpandError::InvalidName(name.to_owned()));
            }
            let value = env(name).ok_or_else(|| ExpandError::Unset(name.to_owned()))?;
            out.push_str(&value);
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("secret".into()),
            "PORT" => Some("3001".into()),
            "EMPTY" => Some(String::new()),
            "DOLLAR" => Some("${TOKEN}".into()),
            _ => None,
        }
    }

    fn run(input: &str) -> Result<String, ExpandError> {
        expand(input, &env)
    }

    #[test]
    fn variables_are_replaced_by_their_values() {
        assert_eq!(run("Bearer ${TOKEN}").as_deref(), Ok("Bearer secret"));
        assert_eq!(
            run("http://127.0.0.1:${PORT}/mcp?t=${TOKEN}").as_deref(),
            Ok("http://127.0.0.1:3001/mcp?t=secret")
        );
        assert_eq!(run("[${EMPTY}]").as_deref(), Ok("[]"));
        assert_eq!(run("no variables").as_deref(), Ok("no variables"));
        assert_eq!(run("").as_deref(), Ok(""));
    }

    #[test]
    fn values_are_not_expanded_again() {
        assert_eq!(run("${DOLLAR}").as_deref(), Ok("${TOKEN}"));
    }

    #[test]
    fn double_dollar_brace_is_a_literal() {
        assert_eq!(run("$${TOKEN}").as_deref(), Ok("${TOKEN}"));
        assert_eq!(run("a $${ b").as_deref(), Ok("a ${ b"));
        assert_eq!(run("$$${TOKEN}").as_deref(), Ok("$${TOKEN}"));
    }

    #[test]
    fn other_dollars_are_kept() {
        assert_eq!(
            run("costs $5, $HOME, $$").as_deref(),
            Ok("costs $5, $HOME, $$")
        );
        assert_eq!(run("ends with $").as_deref(), Ok("ends with $"));
        assert_eq!(run("${TOKEN}}").as_deref(), Ok("secret}"));
    }

    #[test]
    fn an_unset_variable_is_an_error_naming_it() {
        assert_eq!(run("x ${NOPE} y"), Err(ExpandError::Unset("NOPE".into())));
        assert_eq!(
            ExpandError::Unset("NOPE".into()).to_string(),
            "environment variable 'NOPE' is not set (set it, or write $${NOPE} for the \
             literal text ${NOPE})"
        );
    }

    #[test]
    fn nested_braces_are_rejected() {
        assert_eq!(
            run("${A${TOKEN}}"),
            Err(ExpandError::InvalidName("A${TOKEN".into()))
        );
        assert_eq!(
            run("${TOKEN:-x}"),
            Err(ExpandError::InvalidName("TOKEN:-x".into()))
        );
        assert_eq!(run("${}"), Err(ExpandError::InvalidName(String::new())));
        assert_eq!(run("${1ST}"), Err(ExpandError::InvalidName("1ST".into())));
    }

    #[test]
    fn an_unclosed_brace_is_an_error() {
        assert_eq!(run("Bearer ${TOKEN"), Err(ExpandError::Unclosed));
        assert_eq!(run("${"), Err(ExpandError::Unclosed));
    }
}
