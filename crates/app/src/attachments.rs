//! A model's attachments in the app: the list in the model's inspector (PNG and SVG previewed,
//! other files opened with the system's viewer), attaching and removing them, and what the HTML
//! report takes in (shared with the command line).

use std::collections::HashMap;
use std::path::Path;

use egui::RichText;
use threatmap_core::artefacts::{self, Artefact};
use threatmap_core::model::Model;
use threatmap_render::report::Attached;

use crate::gui::ThreatmapApp;

/// Previews made so far, by SHA-256 (a failed one keeps its reason).
#[derive(Default)]
pub struct Previews(HashMap<String, Result<egui::TextureHandle, String>>);

impl std::fmt::Debug for Previews {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Previews({})", self.0.len())
    }
}

/// Longer side of a preview, in pixels.
const PREVIEW_SIDE: u32 = 240;

/// The attachments of `m` for a report written beside the model at `model`: their checked
/// bytes, and links relative to the model's folder (each segment escaped, so a name can never
/// start a scheme).
pub fn for_report<'a>(m: &'a Model, model: &Path) -> Vec<Attached<'a>> {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    let folder = artefacts::folder_of(model);
    let folder_name = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let seg = |s: &str| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string();
    m.artefacts
        .iter()
        .map(|a| Attached {
            artefact: a,
            href: format!("{}/{}", seg(&folder_name), seg(&a.name)),
            bytes: artefacts::read(model, a).map_err(|e| e.to_string()),
        })
        .collect()
}

impl ThreatmapApp {
    /// Attaches a file to the open model (copied into its artefacts folder at once; listed in
    /// the model, to be saved).
    pub fn attach_file(&mut self, file: &Path) {
        let Some(model_path) = self.doc.path.clone() else {
            self.fail("Cannot attach yet".to_owned(), "Save the model first: attachments are kept in a folder beside its file.".to_owned());
            return;
        };
        match artefacts::attach(&model_path, file, "", &self.doc.model.artefacts) {
            Ok(a) if self.doc.model.artefacts.iter().any(|x| x.sha256 == a.sha256) => {
                self.status = format!("{} is attached already, as {}", file.display(), a.name);
            }
            Ok(a) => {
                self.status = format!("Attached {} ({} bytes)", a.name, a.size);
                self.doc.edit(|m| m.artefacts.push(a));
            }
            Err(e) => self.fail(format!("Cannot attach {}", file.display()), e.to_string()),
        }
    }
}

/// The Attachments section of the model's inspector.
pub fn attachments_ui(ui: &mut egui::Ui, app: &mut ThreatmapApp) {
    ui.add_space(8.0);
    ui.label(RichText::new("Attachments").strong());
    let Some(model_path) = app.doc.path.clone() else {
        ui.label(RichText::new("Save the model to attach photos and documents to it.").weak());
        return;
    };
    if app.doc.model.artefacts.is_empty() {
        ui.label(RichText::new("Whiteboard photos, design documents, the file the model came from.").weak());
    }
    let mut remove = None;
    let list: Vec<Artefact> = app.doc.model.artefacts.clone();
    for a in &list {
        ui.group(|ui| {
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new(if a.title.is_empty() { &a.name } else { &a.title }).strong());
                ui.label(RichText::new(format!("{} · {}", a.name, size_text(a.size))).weak());
            });
            let bytes = artefacts::read(&model_path, a);
            match &bytes {
                Err(e) => {
                    ui.colored_label(ui.visuals().warn_fg_color, e.to_string());
                }
                Ok(data) if matches!(a.media_type.as_str(), "image/png" | "image/svg+xml") => {
                    let entry = app.previews.0.entry(a.sha256.clone()).or_insert_with(|| {
                        threatmap_render::svg::preview(data, &a.media_type, PREVIEW_SIDE)
                            .map(|(w, h, rgba)| {
                                let image = egui::ColorImage::from_rgba_premultiplied([w as usize, h as usize], &rgba);
                                ui.ctx().load_texture(format!("artefact-{}", a.sha256), image, egui::TextureOptions::LINEAR)
                            })
                            .map_err(|e| e.to_string())
                    });
                    match entry {
                        Ok(tex) => {
                            let size = tex.size_vec2();
                            let scale = (ui.available_width() / size.x).min(1.0);
                            ui.add(egui::Image::new((tex.id(), size * scale)).alt_text(a.name.as_str()));
                        }
                        Err(e) => {
                            ui.label(RichText::new(format!("No preview: {e}")).weak());
                        }
                    }
                }
                Ok(_) => {}
            }
            ui.horizontal(|ui| {
                if bytes.is_ok() && ui.button("Open").on_hover_text("Open with the system's viewer").clicked() {
                    let path = artefacts::folder_of(&model_path).join(&a.name);
                    if let Err(e) = open::that_detached(&path) {
                        app.fail(format!("Cannot open {}", a.name), format!("{e} (the file is {})", path.display()));
                    }
                }
                if ui.button("Remove").on_hover_text("Take it off the model (the file stays in the folder until you remove it)").clicked() {
                    remove = Some(a.name.clone());
                }
            });
        });
    }
    if ui.button("Attach files…").clicked() {
        app.ask_file(crate::files::Purpose::Attach);
    }
    if let Some(name) = remove {
        app.doc.edit(|m| m.artefacts.retain(|a| a.name != name));
        app.status = format!("Removed {name} from the model");
    }
}

fn size_text(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / f64::from(1 << 20)),
        n if n >= 1 << 10 => format!("{:.0} kB", n as f64 / 1024.0),
        n => format!("{n} bytes"),
    }
}
