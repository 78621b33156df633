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

/// Previews made so far, by SHA-256 (a failed one keeps its reason); the files checked against
/// their hashes (once per model revision, not per frame); and what the system's viewer said
/// about the files it was asked to open.
pub struct Previews(HashMap<String, Result<egui::TextureHandle, String>>, Opened, Option<Checked>);

/// The attachments of one revision of a model, checked: each file's state by name, and the
/// files in the folder that the model does not list.
struct Checked {
    of: (std::path::PathBuf, u64, bool),
    files: HashMap<String, Result<(), String>>,
    strays: Vec<String>,
}

type Opened = (std::sync::mpsc::Sender<(String, Result<(), String>)>, std::sync::mpsc::Receiver<(String, Result<(), String>)>);

impl Default for Previews {
    fn default() -> Previews {
        Previews(HashMap::new(), std::sync::mpsc::channel(), None)
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
    // The files are read and hashed when the model changes, not on every frame.
    let of = (model_path.clone(), app.doc.revision(), app.doc.is_dirty());
    if app.previews.2.as_ref().is_none_or(|c| c.of != of) {
        let mut files = HashMap::new();
        for a in &app.doc.model.artefacts {
            let checked = artefacts::read(&model_path, a).map_err(|e| e.to_string());
            if let Ok(data) = &checked
                && matches!(a.media_type.as_str(), "image/png" | "image/svg+xml")
                && !app.previews.0.contains_key(&a.sha256)
            {
                let preview = threatmap_render::svg::preview(data, &a.media_type, PREVIEW_SIDE)
                    .map(|(w, h, rgba)| {
                        let image = egui::ColorImage::from_rgba_premultiplied([w as usize, h as usize], &rgba);
                        ui.ctx().load_texture(format!("artefact-{}", a.sha256), image, egui::TextureOptions::LINEAR)
                    })
                    .map_err(|e| e.to_string());
                app.previews.0.insert(a.sha256.clone(), preview);
            }
            files.insert(a.name.clone(), checked.map(|_| ()));
        }
        // A file removed since the last save is not a stray: the save takes it away.
        let mut strays = artefacts::strays(&model_path, &app.doc.model.artefacts);
        strays.retain(|n| !app.doc.saved_artefacts().iter().any(|a| &a.name == n));
        app.previews.2 = Some(Checked { of, files, strays });
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
            let state = app.previews.2.as_ref().and_then(|c| c.files.get(&a.name)).cloned().unwrap_or(Ok(()));
            if let Err(e) = &state {
                ui.colored_label(ui.visuals().warn_fg_color, e);
            } else {
                match app.previews.0.get(&a.sha256) {
                    Some(Ok(tex)) => {
                        let size = tex.size_vec2();
                        let scale = (ui.available_width() / size.x).min(1.0);
                        ui.add(egui::Image::new((tex.id(), size * scale)).alt_text(a.name.as_str()));
                    }
                    Some(Err(e)) => {
                        ui.label(RichText::new(format!("No preview: {e}")).weak());
                    }
                    None => {}
                }
            }
            let bytes = state;
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
    let strays = app.previews.2.as_ref().map(|c| c.strays.clone()).unwrap_or_default();
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
