//! SVG writing (with escaping of everything a user can type) and PNG rasterisation through
//! resvg with the bundled font.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::RenderError;
use crate::font::{self, Face};

/// Escapes text for XML/HTML content and attribute values. Characters XML cannot carry at all
/// (NUL and other C0 controls except tab and newlines) are replaced with U+FFFD.
pub fn esc(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| matches!(c, '&' | '<' | '>' | '"' | '\'') || (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(escape_markup(s, true))
}

/// HTML escaping as Python's `html.escape(s, quote)` does it (`&#x27;` for the apostrophe), with
/// C0 controls other than tab and newlines replaced by U+FFFD.
pub fn escape_markup(s: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if quotes => out.push_str("&quot;"),
            '\'' if quotes => out.push_str("&#x27;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Formats a coordinate compactly and deterministically (two decimals, no trailing zeros).
pub fn num(v: f64) -> String {
    let v = if v.is_finite() { (v * 100.0).round() / 100.0 } else { 0.0 };
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_owned() } else { s.to_owned() }
}

/// Text anchor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// Left-aligned at x.
    Start,
    /// Centred on x.
    Middle,
    /// Right-aligned at x.
    End,
}

/// A small SVG builder. Output is a standalone document with no external references.
#[derive(Debug, Default)]
pub struct Svg {
    /// The document text so far.
    pub out: String,
}

impl Svg {
    /// Starts a document of the given size with the given stylesheet.
    pub fn new(width: f64, height: f64, title: &str, style: &str) -> Svg {
        let mut out = String::with_capacity(64 * 1024);
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"{fam}\" role=\"img\">\n<title>{t}</title>\n<style>{style}</style>\n",
            w = num(width.ceil()),
            h = num(height.ceil()),
            fam = esc(font::CSS_FAMILY),
            t = esc(title),
        );
        Svg { out }
    }

    /// Appends raw markup (callers escape their content).
    pub fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    /// Lines of text; the first baseline at `y`, then `line_h` apart.
    #[allow(clippy::too_many_arguments)]
    pub fn text_lines(&mut self, x: f64, y: f64, line_h: f64, lines: &[String], class: &str, anchor: Anchor) {
        let a = match anchor {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        };
        for (k, line) in lines.iter().enumerate() {
            let _ = writeln!(
                self.out,
                "<text x=\"{}\" y=\"{}\" class=\"{class}\" text-anchor=\"{a}\">{}</text>",
                num(x),
                num(y + k as f64 * line_h),
                esc(line)
            );
        }
    }

    /// Finishes the document.
    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

/// Width of the widest line.
pub fn lines_width(lines: &[String], size: f64, face: Face) -> f64 {
    lines.iter().map(|l| font::text_width(l, size, face)).fold(0.0, f64::max)
}

/// PNG background.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Background {
    /// Opaque white.
    #[default]
    White,
    /// Transparent.
    Transparent,
}

/// Largest PNG side in pixels; bigger drawings are scaled down to fit.
pub const MAX_PNG_SIDE: f32 = 16384.0;

fn parse_svg(svg: &str) -> Result<resvg::usvg::Tree, RenderError> {
    let options = resvg::usvg::Options { fontdb: font::fontdb(), font_family: font::FAMILY.to_owned(), ..Default::default() };
    resvg::usvg::Tree::from_str(svg, &options).map_err(|e| RenderError::Svg(e.to_string()))
}

/// Rasterises an SVG document into a `side` × `side` square (scaled to fit, centred, on
/// transparency), for icons: the pixmap, premultiplied RGBA.
fn square_pixmap(svg: &str, side: u32) -> Result<resvg::tiny_skia::Pixmap, RenderError> {
    let tree = parse_svg(svg)?;
    let size = tree.size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(side, side).ok_or(RenderError::TooLarge(side, side))?;
    let scale = side as f32 / size.width().max(size.height());
    let dx = (side as f32 - size.width() * scale) / 2.0;
    let dy = (side as f32 - size.height() * scale) / 2.0;
    resvg::render(&tree, resvg::tiny_skia::Transform::from_scale(scale, scale).post_translate(dx, dy), &mut pixmap.as_mut());
    Ok(pixmap)
}

/// The sizes the application icon is installed at (freedesktop's hicolor theme), in pixels.
pub const ICON_SIDES: &[u32] = &[16, 24, 32, 48, 64, 128, 256, 512];

/// An icon drawn from SVG at `side` pixels square, as straight (not premultiplied) RGBA bytes,
/// row by row: what window systems take as a window icon.
pub fn icon_rgba(svg: &str, side: u32) -> Result<Vec<u8>, RenderError> {
    let pixmap = square_pixmap(svg, side)?;
    Ok(pixmap
        .pixels()
        .iter()
        .flat_map(|p| {
            let c = p.demultiply();
            [c.red(), c.green(), c.blue(), c.alpha()]
        })
        .collect())
}

/// An icon drawn from SVG at `side` pixels square, as PNG.
pub fn icon_png(svg: &str, side: u32) -> Result<Vec<u8>, RenderError> {
    square_pixmap(svg, side)?.encode_png().map_err(|e| RenderError::Png(e.to_string()))
}

/// Rasterises an SVG document to PNG at `scale` (1.0 = 100 %), with the bundled font.
pub fn to_png(svg: &str, scale: f32, background: Background) -> Result<Vec<u8>, RenderError> {
    let tree = parse_svg(svg)?;
    let size = tree.size();
    let mut scale = if scale.is_finite() && scale > 0.0 { scale } else { 1.0 };
    let longest = size.width().max(size.height()) * scale;
    if longest > MAX_PNG_SIDE {
        scale *= MAX_PNG_SIDE / longest;
    }
    let w = (size.width() * scale).ceil().max(1.0) as u32;
    let h = (size.height() * scale).ceil().max(1.0) as u32;
    let mut pixmap = resvg::tiny_skia::Pixmap::new(w, h).ok_or(RenderError::TooLarge(w, h))?;
    if background == Background::White {
        pixmap.fill(resvg::tiny_skia::Color::WHITE);
    }
    resvg::render(&tree, resvg::tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| RenderError::Png(e.to_string()))
}

/// A preview of an attached image, at most `max_side` pixels on its longer side: premultiplied
/// RGBA rows, with its width and height. PNG and SVG (drawn as an image: nothing in an SVG
/// runs, and it loads no files); other formats are not previewed.
pub fn preview(bytes: &[u8], media_type: &str, max_side: u32) -> Result<(u32, u32, Vec<u8>), RenderError> {
    use resvg::tiny_skia::{Pixmap, PixmapPaint, Transform};
    let max_side = max_side.max(1) as f32;
    let out = match media_type {
        "image/png" => {
            let src = Pixmap::decode_png(bytes).map_err(|e| RenderError::Png(e.to_string()))?;
            let scale = (max_side / src.width().max(src.height()) as f32).min(1.0);
            let (w, h) = (((src.width() as f32) * scale).ceil().max(1.0) as u32, ((src.height() as f32) * scale).ceil().max(1.0) as u32);
            let mut dst = Pixmap::new(w, h).ok_or(RenderError::TooLarge(w, h))?;
            dst.draw_pixmap(0, 0, src.as_ref(), &PixmapPaint::default(), Transform::from_scale(scale, scale), None);
            dst
        }
        "image/svg+xml" => {
            let options = resvg::usvg::Options { fontdb: font::fontdb(), font_family: font::FAMILY.to_owned(), ..Default::default() };
            let tree = resvg::usvg::Tree::from_data(bytes, &options).map_err(|e| RenderError::Svg(e.to_string()))?;
            let size = tree.size();
            let scale = max_side / size.width().max(size.height()).max(1.0);
            let (w, h) = ((size.width() * scale).ceil().max(1.0) as u32, (size.height() * scale).ceil().max(1.0) as u32);
            let mut dst = Pixmap::new(w, h).ok_or(RenderError::TooLarge(w, h))?;
            resvg::render(&tree, Transform::from_scale(scale, scale), &mut dst.as_mut());
            dst
        }
        other => return Err(RenderError::Svg(format!("{other} is not previewed"))),
    };
    Ok((out.width(), out.height(), out.take()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_fit_the_box() {
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" width="400" height="100"><rect width="400" height="100" fill="red"/></svg>"#;
        let (w, h, px) = preview(svg, "image/svg+xml", 200).unwrap();
        assert_eq!((w, h), (200, 50));
        assert_eq!(&px[..4], &[255, 0, 0, 255]);
        let png = to_png(std::str::from_utf8(svg).unwrap(), 1.0, Background::Transparent).unwrap();
        let (w, h, _) = preview(&png, "image/png", 100).unwrap();
        assert_eq!((w, h), (100, 25));
        assert!(preview(b"x", "image/jpeg", 100).is_err());
    }

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(esc("<img src=x onerror=alert(1)>"), "&lt;img src=x onerror=alert(1)&gt;");
        assert_eq!(esc("a\"b'c&d"), "a&quot;b&#x27;c&amp;d");
        assert_eq!(esc("nul\u{0}x"), "nul\u{FFFD}x");
        assert!(matches!(esc("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn numbers_are_compact() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(1.256), "1.26");
        assert_eq!(num(-0.001), "0");
        assert_eq!(num(f64::NAN), "0");
    }
}
