//! The bundled font (DejaVu Sans, in `assets/fonts`): text measurement for layout, and the font
//! database that resvg renders with, so text looks the same on every machine whether or not
//! any system fonts are installed.

use std::sync::{Arc, OnceLock};

use skrifa::MetadataProvider;
use skrifa::instance::{LocationRef, Size};

/// The family name written into SVG output. Browsers without it fall back to similar fonts.
pub const FAMILY: &str = "DejaVu Sans";
/// The CSS `font-family` value used in SVG and HTML.
pub const CSS_FAMILY: &str = "'DejaVu Sans', Verdana, 'Segoe UI', Arial, sans-serif";

static REGULAR: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf");
static OBLIQUE: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-Oblique.ttf");

/// The bundled DejaVu Sans (regular), for user interfaces that want the same glyphs (arrows,
/// symbols, most scripts) as the drawings.
pub fn regular_bytes() -> &'static [u8] {
    REGULAR
}

/// Font weight/style used for measuring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Face {
    /// Regular.
    Regular,
    /// Bold.
    Bold,
}

struct Metrics {
    ascii: [f32; 128],
    data: &'static [u8],
}

fn metrics(face: Face) -> &'static Metrics {
    static REG: OnceLock<Metrics> = OnceLock::new();
    static BLD: OnceLock<Metrics> = OnceLock::new();
    let (cell, data) = match face {
        Face::Regular => (&REG, REGULAR),
        Face::Bold => (&BLD, BOLD),
    };
    cell.get_or_init(|| {
        let mut ascii = [0.6f32; 128];
        for (c, slot) in ascii.iter_mut().enumerate() {
            if let Some(w) = advance(data, char::from(c as u8)) {
                *slot = w;
            }
        }
        Metrics { ascii, data }
    })
}

/// Advance width of one character in em, or `None` if the font lacks it.
fn advance(data: &[u8], c: char) -> Option<f32> {
    let font = skrifa::FontRef::new(data).ok()?;
    let glyph = font.charmap().map(c)?;
    font.glyph_metrics(Size::new(1.0), LocationRef::default()).advance_width(glyph)
}

/// Width of `text` in pixels at `size` px.
pub fn text_width(text: &str, size: f64, face: Face) -> f64 {
    let m = metrics(face);
    let mut em = 0.0f64;
    for c in text.chars() {
        let w = if (c as u32) < 128 { m.ascii[c as usize] } else { advance(m.data, c).unwrap_or(0.6) };
        em += f64::from(w);
    }
    em * size
}

/// Longest text shown in a diagram label; longer text is cut with an ellipsis (reports show it
/// in full).
pub const MAX_LABEL_CHARS: usize = 300;

/// Wraps text into lines of at most `width` pixels, breaking at spaces, and inside words only
/// when a single word is wider than the line. Linear in the length of the text; text longer than
/// [`MAX_LABEL_CHARS`] is cut with an ellipsis.
pub fn wrap(text: &str, width: f64, size: f64, face: Face) -> Vec<String> {
    let text: std::borrow::Cow<'_, str> = match text.char_indices().nth(MAX_LABEL_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]).into(),
        None => text.into(),
    };
    let space = text_width(" ", size, face);
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let (mut line, mut line_w) = (String::new(), 0.0);
        for word in para.split_whitespace() {
            let word_w = text_width(word, size, face);
            if !line.is_empty() && line_w + space + word_w <= width {
                line.push(' ');
                line.push_str(word);
                line_w += space + word_w;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if word_w <= width {
                line = word.to_owned();
                line_w = word_w;
                continue;
            }
            // A word wider than the line: break it between characters.
            line_w = 0.0;
            for c in word.chars() {
                let cw = text_width(c.encode_utf8(&mut [0; 4]), size, face);
                if line_w + cw > width && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    line_w = 0.0;
                }
                line.push(c);
                line_w += cw;
            }
        }
        lines.push(line);
    }
    lines
}

/// Python's `textwrap.wrap(text, width)` as pytm uses it for DOT labels: words are split at
/// whitespace and after hyphens, over-long words are broken, whitespace is collapsed.
pub fn textwrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    // Chunks (ranges into `chars`): words, split after hyphens between letters, and single
    // spaces. A range is shortened in place when a long word is broken, so this is linear.
    let chars: Vec<char> = text.split_whitespace().collect::<Vec<_>>().join(" ").chars().collect();
    let mut chunks: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    for i in 0..chars.len() {
        let c = chars[i];
        if c == ' ' {
            if start < i {
                chunks.push((start, i));
            }
            chunks.push((i, i + 1));
            start = i + 1;
        } else if c == '-' && i > start && chars[i - 1].is_alphanumeric() && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric()) {
            chunks.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < chars.len() {
        chunks.push((start, chars.len()));
    }
    let is_space = |c: (usize, usize)| c.1 == c.0 + 1 && chars[c.0] == ' ';
    let mut lines: Vec<String> = Vec::new();
    let mut idx = 0;
    while idx < chunks.len() {
        // Leading whitespace is dropped on every line but the first.
        if !lines.is_empty() && is_space(chunks[idx]) {
            idx += 1;
            continue;
        }
        let mut line: Vec<(usize, usize)> = Vec::new();
        let mut len = 0;
        while idx < chunks.len() && len + (chunks[idx].1 - chunks[idx].0) <= width {
            len += chunks[idx].1 - chunks[idx].0;
            line.push(chunks[idx]);
            idx += 1;
        }
        if idx < chunks.len() && chunks[idx].1 - chunks[idx].0 > width && (line.is_empty() || len < width) {
            let room = width.saturating_sub(len).max(1);
            let (s0, e0) = chunks[idx];
            line.push((s0, s0 + room));
            chunks[idx] = (s0 + room, e0);
        }
        while line.last().is_some_and(|&c| is_space(c)) {
            line.pop();
        }
        if !line.is_empty() {
            lines.push(line.iter().flat_map(|&(a, b)| chars[a..b].iter()).collect());
        }
    }
    lines
}

/// The font database resvg renders with: the bundled faces only, with every generic family
/// mapped to DejaVu Sans.
pub fn fontdb() -> Arc<resvg::usvg::fontdb::Database> {
    static DB: OnceLock<Arc<resvg::usvg::fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = resvg::usvg::fontdb::Database::new();
        for data in [REGULAR, BOLD, OBLIQUE] {
            db.load_font_data(data.to_vec());
        }
        db.set_sans_serif_family(FAMILY);
        db.set_serif_family(FAMILY);
        db.set_monospace_family(FAMILY);
        db.set_cursive_family(FAMILY);
        db.set_fantasy_family(FAMILY);
        Arc::new(db)
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textwrap_matches_python() {
        // Values from Python 3's textwrap.wrap(s, 18).
        assert_eq!(textwrap("Comment Moderation LLM", 18), ["Comment Moderation", "LLM"]);
        assert_eq!(
            textwrap("(6) Serverless function periodically cleans DB", 18),
            ["(6) Serverless", "function", "periodically", "cleans DB"]
        );
        assert_eq!(textwrap("Insert query with comments", 18), ["Insert query with", "comments"]);
        assert_eq!(textwrap("abcdefghijklmnopqrstuvwxyz", 18), ["abcdefghijklmnopqr", "stuvwxyz"]);
        assert_eq!(textwrap("well-known-long-name server", 18), ["well-known-long-", "name server"]);
        assert!(textwrap("", 18).is_empty());
        // Whitespace runs collapse (Python would keep them: names with runs of spaces differ).
        assert_eq!(textwrap("  spaced   out  ", 18), ["spaced out"]);
        assert_eq!(textwrap("ab abcdefghijklmnopqrstuvwxyz", 18), ["ab abcdefghijklmno", "pqrstuvwxyz"]);
        let huge = "y".repeat(1_000_000);
        assert_eq!(textwrap(&huge, 18).len(), 1_000_000 / 18 + 1);
    }

    #[test]
    fn measures_and_wraps() {
        let w = text_width("Web Server", 12.0, Face::Regular);
        assert!(w > 50.0 && w < 80.0, "{w}");
        assert!(text_width("W", 12.0, Face::Bold) > text_width("i", 12.0, Face::Bold));
        let lines = wrap("one two three four five six", 60.0, 12.0, Face::Regular);
        assert!(lines.len() > 1 && lines.iter().all(|l| text_width(l, 12.0, Face::Regular) <= 60.0 + 1e-9));
        assert_eq!(lines.join(" "), "one two three four five six");
        let long = "x".repeat(100);
        let lines = wrap(&long, 60.0, 12.0, Face::Regular);
        assert!(lines.len() > 1 && lines.concat() == long);
        // Huge text is cut, and wrapping it stays fast.
        let huge = "word ".repeat(200_000);
        let lines = wrap(&huge, 140.0, 13.0, Face::Regular);
        assert!(lines.concat().chars().count() < MAX_LABEL_CHARS + 10 && lines.last().is_some_and(|l| l.ends_with('…')));
    }
}
