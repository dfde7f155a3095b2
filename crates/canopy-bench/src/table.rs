//! The summary table `canopy bench` prints, and `benches/routing.rs` after criterion's run.

/// A Markdown table, each column as wide as its widest cell (header included, counted in
/// characters): the header line, the rule, then one line per row, each ending with a
/// newline. A row has a cell per column of the header (cells past the header's are left
/// out).
pub fn markdown<S: AsRef<str>>(header: &[&str], rows: &[Vec<S>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.as_ref().chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let padded: Vec<String> = cells
            .zip(&widths)
            .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(&mut header.iter().copied());
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
    out.push_str(&format!("|{}|\n", rule.join("|")));
    for row in rows {
        out.push_str(&line(&mut row.iter().map(AsRef::as_ref)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::markdown;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let rows = vec![vec!["a", "1.2 µs"], vec!["longer name", "3 ns"]];
        assert_eq!(
            markdown(&["scenario", "p50"], &rows),
            "| scenario    | p50    |\n\
             |-------------|--------|\n\
             | a           | 1.2 µs |\n\
             | longer name | 3 ns   |\n"
        );
    }

    #[test]
    fn no_rows_is_the_header_and_the_rule() {
        let rows: Vec<Vec<String>> = Vec::new();
        assert_eq!(markdown(&["x", "yz"], &rows), "| x | yz |\n|---|----|\n");
    }
}
