//! Reading order from positions: spans on one baseline make a line; a vertical
//! gutter that no line crosses splits the page into columns, read one after
//! the other (full-width lines, such as a title, between them); a wide gap
//! between lines ends a paragraph.

use pdf_oxide::layout::TextSpan;

/// Columns within columns, at most this deep.
const MAX_COLUMN_DEPTH: usize = 3;
/// The narrowest gutter, in multiples of the text height.
const MIN_GUTTER: f32 = 1.0;
/// Lines on each side of a gutter, at least, and characters per line on
/// average: two columns of prose, not a table or a label beside a figure.
const MIN_COLUMN_LINES: usize = 3;
const MIN_COLUMN_LINE_CHARS: usize = 20;
/// Pieces at most this share of the text's width can be a column's.
const COLUMN_WIDTH: f32 = 0.6;
/// Lines beside a gutter must outnumber lines across it this many times.
const MAX_CROSSING_SHARE: usize = 3;
/// A gap between lines wider than this many line heights ends a paragraph.
const PARAGRAPH_GAP: f32 = 1.6;
/// Lines whose heights differ by more than this factor are different kinds of text.
const HEADING_RATIO: f32 = 1.25;

/// A span of text where it sits on the page (PDF space: `y` grows upwards).
#[derive(Debug, Clone)]
struct Piece {
    left: f32,
    right: f32,
    bottom: f32,
    top: f32,
    text: String,
}

/// Pieces on one baseline, left to right.
#[derive(Debug, Clone)]
struct Line {
    pieces: Vec<Piece>,
}

impl Line {
    fn left(&self) -> f32 {
        self.pieces.iter().map(|p| p.left).fold(f32::INFINITY, f32::min)
    }
    fn right(&self) -> f32 {
        self.pieces.iter().map(|p| p.right).fold(f32::NEG_INFINITY, f32::max)
    }
    fn bottom(&self) -> f32 {
        self.pieces.iter().map(|p| p.bottom).fold(f32::INFINITY, f32::min)
    }
    fn top(&self) -> f32 {
        self.pieces.iter().map(|p| p.top).fold(f32::NEG_INFINITY, f32::max)
    }
    fn height(&self) -> f32 {
        self.top() - self.bottom()
    }

    /// The pieces joined: a space where they stand apart, none where they
    /// touch (a kerned "V" + "alley", a full stop drawn on its own).
    fn text(&self) -> String {
        let mut text = String::new();
        let mut previous_right: Option<f32> = None;
        for piece in &self.pieces {
            if let Some(right) = previous_right {
                let apart = piece.left - right > 0.15 * (piece.top - piece.bottom);
                if apart && !text.ends_with(char::is_whitespace) && !piece.text.starts_with(char::is_whitespace) {
                    text.push(' ');
                }
            }
            text.push_str(&piece.text);
            previous_right = Some(piece.right);
        }
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// A page's lines in reading order, a blank line between paragraphs.
pub fn page_lines(spans: &[TextSpan]) -> Vec<String> {
    let pieces: Vec<Piece> = spans
        .iter()
        .filter(|s| !s.text.trim().is_empty() && s.bbox.height > 0.0)
        .map(|s| Piece { left: s.bbox.x, right: s.bbox.x + s.bbox.width, bottom: s.bbox.y, top: s.bbox.y + s.bbox.height, text: s.text.clone() })
        .collect();
    let ordered = order(lines_of(pieces), 0);
    let mut out: Vec<String> = Vec::new();
    for (i, group) in ordered.iter().enumerate() {
        if i > 0 && out.last().is_some_and(|l| !l.is_empty()) {
            out.push(String::new());
        }
        for (j, line) in group.iter().enumerate() {
            if j > 0 {
                let above = &group[j - 1];
                let gap = above.bottom() - line.bottom();
                // A change of type size (a heading and its text) ends one too.
                let resized = (above.height() / line.height()).max(line.height() / above.height()) > HEADING_RATIO;
                if gap > PARAGRAPH_GAP * above.height().max(line.height()) || gap < 0.0 || resized {
                    out.push(String::new());
                }
            }
            out.push(line.text());
        }
    }
    out
}

/// Pieces grouped into lines: a piece joins a line when their heights overlap
/// by half the smaller one (a raised footnote mark stays on its line).
fn lines_of(mut pieces: Vec<Piece>) -> Vec<Line> {
    pieces.sort_by(|a, b| b.top.total_cmp(&a.top).then(a.left.total_cmp(&b.left)));
    let mut lines: Vec<Line> = Vec::new();
    for piece in pieces {
        let joins = lines.iter_mut().rev().take(3).find(|line| {
            let overlap = line.top().min(piece.top) - line.bottom().max(piece.bottom);
            overlap >= 0.5 * line.height().min(piece.top - piece.bottom)
        });
        match joins {
            Some(line) => line.pieces.push(piece),
            None => lines.push(Line { pieces: vec![piece] }),
        }
    }
    for line in &mut lines {
        line.pieces.sort_by(|a, b| a.left.total_cmp(&b.left));
    }
    lines.sort_by(|a, b| b.top().total_cmp(&a.top()));
    lines
}

/// The lines in reading order, as groups read one after the other (a column,
/// a full-width line): top to bottom, and left column before right column
/// wherever a gutter splits the page.
fn order(lines: Vec<Line>, depth: usize) -> Vec<Vec<Line>> {
    let Some(gutter) = (depth < MAX_COLUMN_DEPTH).then(|| find_gutter(&lines)).flatten() else {
        return if lines.is_empty() { Vec::new() } else { vec![lines] };
    };
    let mut groups = Vec::new();
    let mut band: Vec<Line> = Vec::new();
    let flush = |band: &mut Vec<Line>, groups: &mut Vec<Vec<Line>>| {
        let (left, right): (Vec<Line>, Vec<Line>) = std::mem::take(band).into_iter().flat_map(|line| split_line(line, gutter)).partition(|line| line.right() <= gutter);
        groups.extend(order(left, depth + 1));
        groups.extend(order(right, depth + 1));
    };
    for line in lines {
        if line.pieces.iter().any(|p| p.left < gutter && p.right > gutter) {
            flush(&mut band, &mut groups);
            groups.push(vec![line]);
        } else {
            band.push(line);
        }
    }
    flush(&mut band, &mut groups);
    groups
}

/// A line's pieces on each side of the gutter, as separate lines.
fn split_line(line: Line, gutter: f32) -> Vec<Line> {
    let (left, right): (Vec<Piece>, Vec<Piece>) = line.pieces.into_iter().partition(|p| p.right <= gutter);
    [left, right].into_iter().filter(|pieces| !pieces.is_empty()).map(|pieces| Line { pieces }).collect()
}

/// The middle of the widest vertical strip that no line crosses, with enough
/// prose on both sides to be two columns.
fn find_gutter(lines: &[Line]) -> Option<f32> {
    if lines.len() < MIN_COLUMN_LINES {
        return None;
    }
    let left = lines.iter().map(Line::left).fold(f32::INFINITY, f32::min);
    let right = lines.iter().map(Line::right).fold(f32::NEG_INFINITY, f32::max);
    let mut heights: Vec<f32> = lines.iter().map(Line::height).collect();
    heights.sort_by(f32::total_cmp);
    let height = heights[heights.len() / 2];
    // Stretches of x that column-wide pieces cover, merged; the gaps between
    // them are candidates. Wider pieces (a title or an abstract across both
    // columns) may cross a gutter, as long as they are few.
    let mut covered: Vec<(f32, f32)> = lines
        .iter()
        .flat_map(|l| l.pieces.iter())
        .filter(|p| p.right - p.left <= COLUMN_WIDTH * (right - left))
        .map(|p| (p.left, p.right))
        .collect();
    covered.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f32, f32)> = Vec::new();
    for (start, end) in covered {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
        .windows(2)
        .map(|pair| (pair[0].1, pair[1].0))
        .filter(|(start, end)| end - start >= MIN_GUTTER * height)
        // Near the middle of the text, not a margin note.
        .filter(|(start, end)| {
            let middle = (start + end) / 2.0;
            middle > left + 0.2 * (right - left) && middle < right - 0.2 * (right - left)
        })
        .map(|(start, end)| (end - start, (start + end) / 2.0))
        .filter(|&(_, middle)| is_prose_on_both_sides(lines, middle) && few_cross(lines, middle))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, middle)| middle)
}

/// Lines across the gutter are the exception (headings, a title), not the rule
/// (a page of full-width lines with a wide space in a few of them).
fn few_cross(lines: &[Line], gutter: f32) -> bool {
    let crossing = lines.iter().filter(|l| l.pieces.iter().any(|p| p.left < gutter && p.right > gutter)).count();
    let left = lines.iter().filter(|l| l.pieces.iter().any(|p| p.right <= gutter)).count();
    let right = lines.iter().filter(|l| l.pieces.iter().any(|p| p.left >= gutter)).count();
    let beside = left + right;
    crossing * MAX_CROSSING_SHARE < beside
}

fn is_prose_on_both_sides(lines: &[Line], gutter: f32) -> bool {
    let side = |keep: &dyn Fn(&Piece) -> bool| {
        let texts: Vec<usize> = lines
            .iter()
            .map(|l| l.pieces.iter().filter(|p| keep(p)).map(|p| p.text.chars().count()).sum::<usize>())
            .filter(|&chars| chars > 0)
            .collect();
        texts.len() >= MIN_COLUMN_LINES && texts.iter().sum::<usize>() >= MIN_COLUMN_LINE_CHARS * texts.len()
    };
    side(&|p: &Piece| p.right <= gutter) && side(&|p: &Piece| p.left >= gutter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(left: f32, bottom: f32, text: &str) -> Piece {
        let width = text.chars().count() as f32 * 5.0;
        Piece { left, right: left + width, bottom, top: bottom + 10.0, text: text.into() }
    }

    fn read(pieces: Vec<Piece>) -> Vec<String> {
        let ordered = order(lines_of(pieces), 0);
        ordered.iter().map(|group| group.iter().map(Line::text).collect::<Vec<_>>().join(" / ")).collect()
    }

    #[test]
    fn two_columns_drawn_line_across_line_read_column_by_column() {
        let mut pieces = vec![piece(50.0, 700.0, "A title across the whole page, far wider than one of its columns")];
        for (i, y) in [680.0, 668.0, 656.0].into_iter().enumerate() {
            pieces.push(piece(50.0, y, &format!("left column line number {i} of the text")));
            pieces.push(piece(330.0, y, &format!("right column line number {i} of the text")));
        }
        let groups = read(pieces);
        assert_eq!(groups[0], "A title across the whole page, far wider than one of its columns");
        assert!(groups[1].starts_with("left column line number 0") && groups[1].ends_with("number 2 of the text"), "{groups:?}");
        assert!(groups[2].starts_with("right column line number 0"), "{groups:?}");
    }

    #[test]
    fn a_wide_space_inside_full_width_lines_is_no_gutter() {
        // The first line's two spans stand apart; every other line crosses the gap.
        let mut pieces = vec![piece(50.0, 700.0, "Hello, here is some text."), piece(190.0, 700.0, "This text should show")];
        for y in [688.0, 676.0, 664.0, 652.0, 640.0, 628.0] {
            pieces.push(piece(50.0, y, "printed text will look like at this place, across."));
        }
        let groups = read(pieces);
        assert_eq!(groups.len(), 1, "{groups:?}");
        assert!(groups[0].starts_with("Hello, here is some text. This text should show / printed"), "{groups:?}");
    }

    #[test]
    fn touching_pieces_join_without_a_space_and_raised_marks_stay_on_their_line() {
        let v = Piece { left: 10.0, right: 18.0, bottom: 100.0, top: 110.0, text: "The V".into() };
        let alley = Piece { left: 17.5, right: 40.0, bottom: 100.0, top: 110.0, text: "alley".into() };
        let mark = Piece { left: 40.5, right: 43.0, bottom: 104.0, top: 110.0, text: "1".into() };
        let after = Piece { left: 46.0, right: 60.0, bottom: 100.0, top: 110.0, text: "runs".into() };
        let lines = lines_of(vec![after, mark, alley, v]);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].text(), "The Valley1 runs");
    }
}
