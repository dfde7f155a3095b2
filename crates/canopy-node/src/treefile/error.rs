//! The one error a tree file can fail with: where (file, line, column, key) and what.

use std::fmt;

/// A load error that names the file, the line (1-based) and the key (a dotted path such as
/// `children[1].command`), and says what is wrong and how to fix it.
///
/// Displayed as `{file}:{line}:{column}: {key}: {message}`, leaving out the parts that are
/// `None`, e.g. `hub.toml:7:1: children[0].comand: unknown key 'comand' (expected one of: …)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", Rendered(self))]
#[non_exhaustive]
pub struct TreeFileError {
    /// The file, as the caller named it (its path for [`load`](super::load), the `origin`
    /// given to [`parse`](super::parse)).
    pub file: String,
    /// The 1-based line the error points at, when it points into the file.
    pub line: Option<usize>,
    /// The 1-based column (in characters) on that line.
    pub column: Option<usize>,
    /// The dotted path of the key at fault, e.g. `children[1].headers.Authorization`.
    pub key: Option<String>,
    /// What is wrong, and how to fix it.
    pub message: String,
}

impl TreeFileError {
    /// An error about the file as a whole (it cannot be read, say).
    pub(crate) fn file(file: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line: None,
            column: None,
            key: None,
            message: message.into(),
        }
    }

    /// Points the error at a line and column.
    pub(crate) fn at(mut self, position: Option<(usize, usize)>) -> Self {
        if let Some((line, column)) = position {
            self.line = Some(line);
            self.column = Some(column);
        }
        self
    }

    /// Names the key at fault.
    pub(crate) fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }
}

/// Formats the error without the derive's field bindings getting in the way.
struct Rendered<'a>(&'a TreeFileError);

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let error = self.0;
        f.write_str(&error.file)?;
        if let Some(line) = error.line {
            write!(f, ":{line}")?;
            if let Some(column) = error.column {
                write!(f, ":{column}")?;
            }
        }
        f.write_str(": ")?;
        if let Some(key) = &error.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&error.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_leaves_out_what_is_unknown() {
        let full = TreeFileError::file("hub.toml", "unknown key 'comand'")
            .at(Some((7, 1)))
            .key("children[0].comand");
        assert_eq!(
            full.to_string(),
            "hub.toml:7:1: children[0].comand: unknown key 'comand'"
        );
        let bare = TreeFileError::file("hub.toml", "cannot read the tree file: gone");
        assert_eq!(
            bare.to_string(),
            "hub.toml: cannot read the tree file: gone"
        );
        let no_key = TreeFileError::file("hub.toml", "invalid TOML").at(Some((2, 8)));
        assert_eq!(no_key.to_string(), "hub.toml:2:8: invalid TOML");
    }
}
