//! Byte offsets (what the TOML parser reports) to the 1-based line and column a person
//! looks for in an editor.

/// The start of every line of a source, for turning offsets into line and column.
#[derive(Debug)]
pub(super) struct LineIndex<'a> {
    source: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(super) fn new(source: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        Self {
            source,
            line_starts,
        }
    }

    /// The 1-based line and 1-based column (counted in characters) of byte `offset`. An
    /// offset past the end, or inside a character, is clamped to a valid position.
    pub(super) fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.source.len());
        while !self.source.is_char_boundary(offset) {
            offset -= 1;
        }
        // `line_starts[0]` is 0, so at least one start is <= offset.
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts[line - 1];
        let column = self.source[start..offset].chars().count() + 1;
        (line, column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_one_based_lines_and_columns() {
        let index = LineIndex::new("name = \"hub\"\n\n[[children]]\r\nname = \"db\"\n");
        assert_eq!(index.position(0), (1, 1));
        assert_eq!(index.position(7), (1, 8));
        assert_eq!(index.position(12), (1, 13)); // the newline itself
        assert_eq!(index.position(13), (2, 1)); // the empty line
        assert_eq!(index.position(14), (3, 1));
        assert_eq!(index.position(28), (4, 1)); // after "\r\n"
        assert_eq!(index.position(35), (4, 8));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let index = LineIndex::new("description = \"café\" # ok\nx");
        // 'é' is two bytes; the '"' after it is the 20th character.
        assert_eq!(index.position(20), (1, 20));
        assert_eq!(index.position(19), (1, 19)); // inside 'é': clamped to its start
    }

    #[test]
    fn offsets_past_the_end_are_clamped() {
        let index = LineIndex::new("a\nbc");
        assert_eq!(index.position(99), (2, 3));
        assert_eq!(LineIndex::new("").position(5), (1, 1));
    }
}
