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

/// Python's `textwrap.wrap(text, width)` as pytm uses it for DOT labels, exactly as CPython's
/// `TextWrapper` does with its defaults: tabs expand to 8 columns and every whitespace
/// character becomes a space; the text splits into chunks of whitespace and of words, where a
/// word also ends after a hyphen that follows two letters (or `a-b-`) and precedes a letter,
/// and before an em-dash (`--`) between words; chunks fill lines of at most `width`
/// characters; a chunk longer than a line is broken (after its last hyphen that fits, if
/// any); whitespace at the start and end of each line but the first start is dropped.
pub fn textwrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let chars = munge_whitespace(text);
    let n = chars.len();
    let ws = |i: usize| chars.get(i).is_some_and(|&c| c == ' ');
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let letter = |i: usize| chars.get(i).is_some_and(|&c| word(c) && !c.is_numeric());
    let punct = |i: usize| chars.get(i).is_some_and(|&c| word(c) || "!\"'&.,?".contains(c));
    let hyphen = |i: usize| chars.get(i) == Some(&'-');
    // Where the run of hyphens starting at each index ends, for the em-dash look-ahead.
    let mut run_end = vec![0; n + 1];
    run_end[n] = n;
    for i in (0..n).rev() {
        run_end[i] = if chars[i] == '-' { run_end[i + 1] } else { i };
    }
    // `-{2,}` followed by a word character, at `i`.
    let em_dash_at = |i: usize| run_end[i] >= i + 2 && chars.get(run_end[i]).is_some_and(|&c| word(c));

    let mut chunks: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < n {
        let end = if ws(i) {
            (i..n).find(|&j| !ws(j)).unwrap_or(n)
        } else if i > 0 && punct(i - 1) && em_dash_at(i) {
            run_end[i]
        } else {
            // The shortest run of non-space characters that ends a word.
            let mut e = i + 1;
            loop {
                // A hyphenated word: the hyphen at `e` ends it.
                let after = e + 1;
                let hyphenated = hyphen(e)
                    && !ws(e)
                    && ((e >= 2 && letter(e - 2) && letter(e - 1)) || (e >= 3 && letter(e - 3) && hyphen(e - 2) && letter(e - 1)))
                    && letter(after)
                    && (letter(after + 1) || (hyphen(after + 1) && letter(after + 2)));
                if hyphenated {
                    break after;
                }
                if e >= n || ws(e) || (punct(e - 1) && em_dash_at(e)) {
                    break e;
                }
                e += 1;
            }
        };
        chunks.push((i, end));
        i = end;
    }

    let blank = |c: (usize, usize)| chars[c.0..c.1].iter().all(|c| c.is_whitespace());
    let mut lines: Vec<String> = Vec::new();
    let mut idx = 0;
    while idx < chunks.len() {
        if !lines.is_empty() && blank(chunks[idx]) {
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
        if idx < chunks.len() && chunks[idx].1 - chunks[idx].0 > width {
            let room = width - len;
            let (s0, e0) = chunks[idx];
            let mut cut = room;
            // Break after the last hyphen that fits, if there are non-hyphens before it.
            if let Some(h) = (1..room.min(e0 - s0)).rev().find(|&k| chars[s0 + k] == '-')
                && chars[s0..s0 + h].iter().any(|&c| c != '-')
            {
                cut = h + 1;
            }
            line.push((s0, s0 + cut));
            chunks[idx] = (s0 + cut, e0);
        }
        if line.last().is_some_and(|&c| blank(c)) {
            line.pop();
        }
        if !line.is_empty() {
            lines.push(line.iter().flat_map(|&(a, b)| chars[a..b].iter()).collect());
        }
    }
    lines
}

/// `str.expandtabs()` then every whitespace character as a space, as `TextWrapper` prepares
/// its text.
fn munge_whitespace(text: &str) -> Vec<char> {
    let mut out = Vec::with_capacity(text.len());
    let mut column = 0;
    for c in text.chars() {
        match c {
            '\t' => {
                let spaces = 8 - column % 8;
                out.extend(std::iter::repeat_n(' ', spaces));
                column += spaces;
            }
            '\n' | '\r' => {
                out.push(' ');
                column = 0;
            }
            '\u{b}' | '\u{c}' => {
                out.push(' ');
                column += 1;
            }
            c => {
                out.push(c);
                column += 1;
            }
        }
    }
    out
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
        // (text, width, Python 3.11's textwrap.wrap(text, width)).
        let cases: &[(&str, usize, &[&str])] = &[
            ("Comment Moderation LLM", 18, &["Comment Moderation", "LLM"][..]),
            ("(6) Serverless function periodically cleans DB", 18, &["(6) Serverless", "function", "periodically", "cleans DB"][..]),
            ("Insert query with comments", 18, &["Insert query with", "comments"][..]),
            ("abcdefghijklmnopqrstuvwxyz", 18, &["abcdefghijklmnopqr", "stuvwxyz"][..]),
            ("well-known-long-name server", 18, &["well-known-long-", "name server"][..]),
            ("", 18, &[][..]),
            ("  spaced   out  ", 18, &["  spaced   out"][..]),
            ("ab abcdefghijklmnopqrstuvwxyz", 18, &["ab abcdefghijklmno", "pqrstuvwxyz"][..]),
            ("a-b-c-d-e-f-g-h-i-j-k-l", 10, &["a-b-c-d-e-", "f-g-h-i-j-", "k-l"][..]),
            ("x-ray e-mail re-enter", 8, &["x-ray", "e-mail", "re-enter"][..]),
            ("user--admin flow", 10, &["user--", "admin flow"][..]),
            ("123-456-789 numbers", 8, &["123-456-", "789", "numbers"][..]),
            ("one\ttab\tand\nnewline", 12, &["one     tab", "and newline"][..]),
            ("K8s API-server to etcd-3 store", 10, &["K8s API-", "server to", "etcd-3", "store"][..]),
            ("co-op well-being", 6, &["co-op", "well-", "being"][..]),
            ("Web\u{a0}Server\u{a0}Farm edge", 10, &["Web\u{a0}Server", "\u{a0}Farm edge"][..]),
            ("----- dashes -----", 6, &["-----", "dashes", "-----"][..]),
            ("a--b c--d---e", 4, &["a--b", "c--d", "---e"][..]),
            ("re-re-re-entrant", 7, &["re-re-", "re-", "entrant"][..]),
            ("Über-Größe café-Straße", 9, &["Über-", "Größe", "café-", "Straße"][..]),
            ("x_y-z_w long_name-with_underscores", 10, &["x_y-z_w", "long_name-", "with_under", "scores"][..]),
            ("Hello, world! --- done.", 8, &["Hello,", "world!", "---", "done."][..]),
            ("AWS-Lambda-Function-Name-That-Is-Long", 18, &["AWS-Lambda-", "Function-Name-", "That-Is-Long"][..]),
            ("Private \nEncryption Key", 18, &["Private", "Encryption Key"][..]),
            ("ab-cd", 3, &["ab-", "cd"][..]),
            ("-leading hyphen", 5, &["-lead", "ing h", "yphen"][..]),
        ];
        for (text, width, python) in cases {
            assert_eq!(textwrap(text, *width), *python, "{text:?} at {width}");
        }
        let huge = "y".repeat(1_000_000);
        assert_eq!(textwrap(&huge, 18).len(), 1_000_000 / 18 + 1);
        let dashes = format!("a{}b", "-".repeat(1_000_000));
        assert_eq!(textwrap(&dashes, 18).len(), 1_000_002 / 18 + 1);
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
