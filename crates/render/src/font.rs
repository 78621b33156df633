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

/// Wraps text into lines of at most `width` pixels, breaking at spaces, and inside words only
/// when a single word is wider than the line.
pub fn wrap(text: &str, width: f64, size: f64, face: Face) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split_whitespace() {
            let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
            if text_width(&candidate, size, face) <= width || line.is_empty() && text_width(word, size, face) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if text_width(word, size, face) <= width {
                line = word.to_owned();
            } else {
                for c in word.chars() {
                    line.push(c);
                    if text_width(&line, size, face) > width && line.chars().count() > 1 {
                        let last = line.pop().unwrap_or(' ');
                        lines.push(std::mem::take(&mut line));
                        line.push(last);
                    }
                }
            }
        }
        lines.push(line);
    }
    lines
}

/// Python's `textwrap.wrap(text, width)` as pytm uses it for DOT labels: words are split at
/// whitespace and after hyphens, over-long words are broken, whitespace is collapsed.
pub fn textwrap(text: &str, width: usize) -> Vec<String> {
    // Chunks: words (split after hyphens between letters) and single spaces.
    let mut chunks: Vec<String> = Vec::new();
    for (k, word) in text.split_whitespace().enumerate() {
        if k > 0 {
            chunks.push(" ".to_owned());
        }
        let chars: Vec<char> = word.chars().collect();
        let mut cur = String::new();
        for (i, &c) in chars.iter().enumerate() {
            cur.push(c);
            let hyphen_break = c == '-' && i > 0 && chars[i - 1].is_alphanumeric() && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
            if hyphen_break {
                chunks.push(std::mem::take(&mut cur));
            }
        }
        if !cur.is_empty() {
            chunks.push(cur);
        }
    }
    let mut lines: Vec<String> = Vec::new();
    let mut idx = 0;
    while idx < chunks.len() {
        let mut line: Vec<String> = Vec::new();
        let mut len = 0;
        if lines.is_empty() || chunks[idx] != " " {
        } else {
            idx += 1;
        }
        while idx < chunks.len() {
            let l = chunks[idx].chars().count();
            if len + l <= width {
                len += l;
                line.push(chunks[idx].clone());
                idx += 1;
            } else {
                break;
            }
        }
        if idx < chunks.len() && chunks[idx].chars().count() > width && (line.is_empty() || len < width) {
            let room = if width > len { width - len } else { 1 };
            let head: String = chunks[idx].chars().take(room).collect();
            let tail: String = chunks[idx].chars().skip(room).collect();
            line.push(head);
            chunks[idx] = tail;
        }
        while line.last().is_some_and(|s| s == " ") {
            line.pop();
        }
        if !line.is_empty() {
            lines.push(line.concat());
        } else if idx < chunks.len() && chunks[idx] == " " {
            idx += 1;
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
    }

    #[test]
    fn measures_and_wraps() {
        let w = text_width("Web Server", 12.0, Face::Regular);
        assert!(w > 50.0 && w < 80.0, "{w}");
        assert!(text_width("W", 12.0, Face::Bold) > text_width("i", 12.0, Face::Bold));
        let lines = wrap("one two three four five six", 60.0, 12.0, Face::Regular);
        assert!(lines.len() > 1 && lines.iter().all(|l| text_width(l, 12.0, Face::Regular) <= 60.0));
    }
}
