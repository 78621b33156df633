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

/// Previews made so far, by SHA-256 (a failed one keeps its reason), and what the system's
/// viewer said about the files it was asked to open.
pub struct Previews(HashMap<String, Result<egui::TextureHandle, String>>, Opened);

type Opened = (std::sync::mpsc::Sender<(String, Result<(), String>)>, std::sync::mpsc::Receiver<(String, Result<(), String>)>);

impl Default for Previews {
    fn default() -> Previews {
        Previews(HashMap::new(), std::sync::mpsc::channel())
    }
}

impl std::fmt::Debug for Previews {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Previews({})", self.0.len())
    }
}

impl Previews {
    /// Opens a file with the system's viewer, on a thread of its own (the viewer's launcher
    /// can take a while); its answer comes back through [`ThreatmapApp::attachments_poll`].
    fn open(&self, path: std::path::PathBuf, name: String, ctx: &egui::Context) {
        let (tx, ctx) = (self.1.0.clone(), ctx.clone());
        std::thread::spawn(move || {
            let result = open::that(&path).map_err(|e| format!("{e} (the file is {})", path.display()));
            let _ = tx.send((name, result));
            ctx.request_repaint();
        });
    }
}

/// Longer side of a preview, in pixels.
const PREVIEW_SIDE: u32 = 240;

/// The attachments of `m` for a report about the model at `model`, written to `report` (None:
/// standard output, read beside the model): their checked bytes, and links to the files,
/// relative when the report sits beside the model, else absolute `file:` URLs. Each path segment
/// is escaped, so a name can never start a scheme.
pub fn for_report<'a>(m: &'a Model, model: &Path, report: Option<&Path>) -> Vec<Attached<'a>> {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    let seg = |s: &str| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string();
    let folder = artefacts::folder_of(model);
    let dir_of = |p: &Path| p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")).canonicalize().ok();
    let beside = report.is_none_or(|r| dir_of(r).is_some() && dir_of(r) == dir_of(model));
    let base = if beside {
        seg(&folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
    } else {
        let abs = folder.canonicalize().unwrap_or_else(|_| std::path::absolute(&folder).unwrap_or(folder.clone()));
        let parts: Vec<String> = abs
            .components()
            .filter_map(|c| match c {
                std::path::Component::Normal(s) => Some(seg(&s.to_string_lossy())),
                _ => None,
            })
            .collect();
        format!("file:///{}", parts.join("/"))
    };
    m.artefacts
        .iter()
        .map(|a| Attached {
            artefact: a,
            href: format!("{base}/{}", seg(&a.name)),
            bytes: artefacts::read(model, a).map_err(|e| e.to_string()),
        })
        .collect()
}

impl ThreatmapApp {
    /// Says what the system's viewer made of the files it was asked to open.
    pub fn attachments_poll(&mut self) {
        while let Ok((name, result)) = self.previews.1.1.try_recv() {
            match result {
                Ok(()) => self.status = format!("Opened {name} with the system's viewer"),
                Err(e) => self.fail(format!("Cannot open {name}"), format!("No application opened it: {e}")),
            }
        }
    }

    /// Attaches a file to the open model (copied into its artefacts folder at once; listed in
    /// the model, to be saved).
    pub fn attach_file(&mut self, file: &Path) {
        self.last_attach_dir = file.parent().map(Path::to_path_buf);
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
                if a.title.is_empty() {
                    ui.label(RichText::new(&a.name).strong());
                    ui.label(RichText::new(artefacts::size_text(a.size)).weak());
                } else {
                    ui.label(RichText::new(&a.title).strong());
                    ui.label(RichText::new(format!("{} · {}", a.name, artefacts::size_text(a.size))).weak());
                }
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
                    app.previews.open(path, a.name.clone(), ui.ctx());
                }
                if ui.button("Remove").on_hover_text("Take it off the model; its file leaves the folder when the model is saved").clicked()
                {
                    remove = Some(a.name.clone());
                }
            });
        });
    }
    let strays = artefacts::strays(&model_path, &app.doc.model.artefacts);
    if !strays.is_empty() {
        ui.label(
            RichText::new(format!(
                "Also in {}: {} (not listed in the model)",
                artefacts::folder_of(&model_path).display(),
                strays.join(", ")
            ))
            .weak(),
        );
    }
    if ui.button("Attach a file…").clicked() {
        app.ask_file(crate::files::Purpose::Attach);
    }
    if let Some(name) = remove {
        app.doc.edit(|m| m.artefacts.retain(|a| a.name != name));
        app.status = format!("Removed {name} from the model");
    }
}
