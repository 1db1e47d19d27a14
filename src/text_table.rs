//! Aligned plain-text tables for the reports people read on a terminal.

/// A header, a rule, then the rows; columns marked in `right` are right-aligned. With
/// `total_row`, a rule stands before the last row.
pub fn render(header: &[&str], rows: &[Vec<String>], right: &[bool], total_row: bool) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, (c, w)) in cells.zip(&widths).enumerate() {
            let pad = " ".repeat(w - c.chars().count());
            if right.get(i).copied().unwrap_or(false) {
                l.push_str(&pad);
                l.push_str(c);
            } else {
                l.push_str(c);
                l.push_str(&pad);
            }
            l.push_str("  ");
        }
        l.trim_end().to_string() + "\n"
    };
    let rule = widths
        .iter()
        .map(|w| "-".repeat(*w))
        .collect::<Vec<_>>()
        .join("  ")
        + "\n";
    let mut out = line(&mut header.iter().copied());
    out.push_str(&rule);
    for (i, r) in rows.iter().enumerate() {
        if total_row && i + 1 == rows.len() {
            out.push_str(&rule);
        }
        out.push_str(&line(&mut r.iter().map(String::as_str)));
    }
    out
}
