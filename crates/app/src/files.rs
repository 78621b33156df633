//! File dialogs. The system's dialog (rfd: the desktop portal, or zenity) runs in a worker
//! thread where one can be shown; where none can (minimal desktops, tiling window managers,
//! containers: rfd then returns at once, without a dialog), Threatmap's own dialog
//! (egui-file-dialog) takes over, and the user is told why. `THREATMAP_FILE_DIALOG=builtin`
//! (or `system`) chooses one for good.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::convert::ImportFormat;

/// What a file is asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Purpose {
    /// A model to open.
    Open,
    /// A file of another tool to import.
    Import(ImportFormat),
    /// Where to save the model imported from this file.
    ImportTarget(ImportFormat, PathBuf),
    /// An earlier version of the model to compare with.
    Baseline,
    /// Where to save the model.
    SaveAs,
    /// Where to write an export.
    Export(crate::gui::ExportKind),
    /// A rule pack to add.
    RulePack,
    /// A file to attach to the model.
    Attach,
    /// A folder of models to open as a portfolio.
    Portfolio,
}

/// One question for a file dialog.
#[derive(Debug, Clone)]
pub struct Ask {
    /// What the answer is for.
    pub purpose: Purpose,
    /// The dialog's title.
    pub title: String,
    /// Ask for a file to write (else one to read).
    pub save: bool,
    /// The file type offered: its name and extensions.
    pub filter: (&'static str, &'static [&'static str]),
    /// The file name proposed when saving.
    pub file_name: Option<String>,
    /// The folder to start in.
    pub directory: Option<PathBuf>,
    /// Ask for a folder, not a file.
    pub folder: bool,
}

/// Which dialog answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    /// The system's, until it turns out that none can be shown.
    System,
    /// Threatmap's own.
    Builtin,
}

/// A system dialog returning sooner than this was never shown (no person cancels that fast).
const NOT_SHOWN: Duration = Duration::from_millis(400);

/// The answer of a system dialog, from its worker thread.
#[derive(Debug)]
struct Answer {
    ask: Ask,
    path: Option<PathBuf>,
    took: Duration,
}

/// The file dialogs of the app: at most one is open at a time.
pub struct FileDialogs {
    backend: Backend,
    answers: (mpsc::Sender<Answer>, mpsc::Receiver<Answer>),
    /// A system dialog is open (its thread has not answered yet).
    system_open: Option<Purpose>,
    builtin: egui_file_dialog::FileDialog,
    builtin_ask: Option<Ask>,
    /// The app is in dark mode (as of the last frame).
    dark: bool,
}

impl std::fmt::Debug for FileDialogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileDialogs").field("backend", &self.backend).field("open", &self.is_open()).finish_non_exhaustive()
    }
}

impl Default for FileDialogs {
    fn default() -> Self {
        let backend = match std::env::var("THREATMAP_FILE_DIALOG").as_deref() {
            Ok("builtin") => Backend::Builtin,
            Ok("system") => Backend::System,
            _ if system_dialog_possible() => Backend::System,
            _ => Backend::Builtin,
        };
        FileDialogs {
            backend,
            answers: mpsc::channel(),
            system_open: None,
            builtin: builtin_dialog(None, false),
            builtin_ask: None,
            dark: false,
        }
    }
}

/// False where rfd certainly cannot show a dialog: on Linux and the BSDs it needs a D-Bus
/// session (for the desktop portal) or zenity.
fn system_dialog_possible() -> bool {
    if !cfg!(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd", target_os = "netbsd")) {
        return true;
    }
    let on_path = |exe: &str| std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(exe).is_file()));
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() || on_path("zenity")
}

fn builtin_dialog(ask: Option<&Ask>, dark: bool) -> egui_file_dialog::FileDialog {
    let mut d = egui_file_dialog::FileDialog::new()
        .as_modal(true)
        // Centred and smaller than the smallest window, so its buttons are always on screen.
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .default_size([680.0, 420.0])
        .min_size([420.0, 300.0])
        // egui-file-dialog paints its search field black whatever the theme, so in light mode
        // typed text would not show: there the folder is searched by its path bar only.
        .show_search(dark)
        .show_devices(false)
        .show_removable_devices(false);
    if let Some(ask) = ask {
        d = d.title(&ask.title).id(egui::Id::new(("threatmap-file-dialog", ask.title.as_str())));
        let (name, exts) = ask.filter;
        let exts: Vec<&'static str> = exts.to_vec();
        if ask.save {
            if let Some(ext) = exts.first() {
                d = d.add_save_extension(name, ext).default_save_extension(name);
            }
        } else if !exts.is_empty() {
            d = d.add_file_filter_extensions(name, exts).default_file_filter(name);
        }
        if let Some(f) = &ask.file_name {
            d = d.default_file_name(f);
        }
        if let Some(dir) = &ask.directory {
            d = d.initial_directory(dir.clone());
        }
    }
    d
}

/// What happened in the dialogs this frame.
#[derive(Debug, Default)]
pub struct Update {
    /// A dialog answered: what for, and the file.
    pub picked: Option<(Purpose, PathBuf)>,
    /// Something the user should be told.
    pub notice: Option<String>,
}

impl FileDialogs {
    /// Opens a dialog for `ask`, unless one is open already (the request is then ignored).
    pub fn ask(&mut self, ask: Ask) {
        if self.is_open() {
            return;
        }
        match self.backend {
            Backend::Builtin => self.open_builtin(ask),
            Backend::System => {
                self.system_open = Some(ask.purpose.clone());
                let tx = self.answers.0.clone();
                std::thread::spawn(move || {
                    let t = Instant::now();
                    let path = system_dialog(&ask);
                    let _ = tx.send(Answer { ask, path, took: t.elapsed() });
                });
            }
        }
    }

    fn open_builtin(&mut self, ask: Ask) {
        self.builtin = builtin_dialog(Some(&ask), self.dark);
        if ask.folder {
            self.builtin.pick_directory();
        } else if ask.save {
            self.builtin.save_file();
        } else {
            self.builtin.pick_file();
        }
        self.builtin_ask = Some(ask);
    }

    /// True while a dialog is open: the rest of the window then takes no input.
    pub fn is_open(&self) -> bool {
        self.system_open.is_some() || self.builtin_ask.is_some()
    }

    /// What the open dialog asks for, if one is open.
    pub fn asking(&self) -> Option<&Purpose> {
        self.system_open.as_ref().or(self.builtin_ask.as_ref().map(|a| &a.purpose))
    }

    /// True while the system's dialog (another window) is open.
    pub fn system_dialog_open(&self) -> bool {
        self.system_open.is_some()
    }

    /// Shows the built-in dialog if open and collects the answers of either.
    pub fn update(&mut self, ctx: &egui::Context) -> Update {
        self.dark = ctx.global_style().visuals.dark_mode;
        let mut out = Update::default();
        while let Ok(a) = self.answers.1.try_recv() {
            self.system_open = None;
            match a.path {
                Some(p) => out.picked = Some((a.ask.purpose, p)),
                None if a.took < NOT_SHOWN => {
                    // No dialog was shown: use ours from now on, starting with this question.
                    self.backend = Backend::Builtin;
                    out.notice = Some(
                        "No system file dialog could be shown (no desktop portal or zenity): using Threatmap's own file dialog".to_owned(),
                    );
                    self.open_builtin(a.ask);
                }
                None => {}
            }
        }
        if self.builtin_ask.is_some() {
            self.builtin.update(ctx);
            match self.builtin.state() {
                egui_file_dialog::DialogState::Open => {}
                egui_file_dialog::DialogState::Picked(p) => {
                    let p = p.clone();
                    if let Some(ask) = self.builtin_ask.take() {
                        out.picked = Some((ask.purpose.clone(), with_extension(p, &ask)));
                    }
                }
                _ => self.builtin_ask = None,
            }
        }
        out
    }
}

/// A file to save gets the filter's extension if it has none. A model gets `.threatmap.json`
/// when a new name was typed over the proposed one (the dialog keeps the proposal's last
/// extension only, so `orders` typed over `web-app.threatmap.json` reads `orders.json`); a file
/// picked to be overwritten keeps its name.
fn with_extension(p: PathBuf, ask: &Ask) -> PathBuf {
    const MODEL: &str = ".threatmap.json";
    let model = matches!(ask.purpose, Purpose::SaveAs | Purpose::ImportTarget(..));
    let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if model && !name.ends_with(MODEL) && !p.exists() {
        let stem = name.strip_suffix(".json").unwrap_or(&name);
        let renamed = p.with_file_name(format!("{stem}{MODEL}"));
        if !stem.is_empty() && !renamed.exists() {
            return renamed;
        }
    }
    match ask.filter.1.first() {
        Some(ext) if ask.save && p.extension().is_none() => p.with_extension(ext),
        _ => p,
    }
}

fn system_dialog(ask: &Ask) -> Option<PathBuf> {
    let (name, exts) = ask.filter;
    let mut d = rfd::FileDialog::new().set_title(&ask.title);
    if !exts.is_empty() {
        d = d.add_filter(name, exts);
    }
    if let Some(dir) = ask.directory.as_deref().filter(|d| d.is_dir()) {
        d = d.set_directory(dir);
    }
    if ask.folder {
        return d.pick_folder();
    }
    if ask.save {
        if let Some(f) = &ask.file_name {
            d = d.set_file_name(f);
        }
        d.save_file()
    } else {
        d.pick_file()
    }
}

/// The folder of a file, for starting a dialog next to it.
pub fn folder_of(p: Option<&Path>) -> Option<PathBuf> {
    p.and_then(Path::parent).filter(|d| !d.as_os_str().is_empty()).map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(purpose: Purpose) -> Ask {
        Ask {
            purpose,
            title: String::new(),
            save: true,
            filter: ("Threat model (.json)", &["json"]),
            file_name: Some("web-app.threatmap.json".to_owned()),
            directory: None,
            folder: false,
        }
    }

    #[test]
    fn a_model_saved_under_a_typed_name_is_a_threatmap_file_and_an_overwrite_keeps_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let save = ask(Purpose::SaveAs);
        for typed in ["orders.json", "orders", "orders.threatmap.json"] {
            assert_eq!(with_extension(dir.path().join(typed), &save), dir.path().join("orders.threatmap.json"), "{typed}");
        }
        let import = ask(Purpose::ImportTarget(ImportFormat::Otm, dir.path().join("shop.otm.json")));
        assert_eq!(with_extension(dir.path().join("shop.json"), &import), dir.path().join("shop.threatmap.json"));
        // A file chosen to be overwritten is the one written, and so is a name whose model
        // file exists already (that one is never overwritten without being asked).
        std::fs::write(dir.path().join("legacy.json"), "{}").unwrap();
        assert_eq!(with_extension(dir.path().join("legacy.json"), &save), dir.path().join("legacy.json"));
        std::fs::write(dir.path().join("taken.threatmap.json"), "{}").unwrap();
        assert_eq!(with_extension(dir.path().join("taken.json"), &save), dir.path().join("taken.json"));
        // Other files keep theirs, and get the filter's when they have none.
        let mut export = ask(Purpose::Export(crate::gui::ExportKind::Png));
        export.filter = ("PNG image (.png)", &["png"]);
        assert_eq!(with_extension(dir.path().join("dfd"), &export), dir.path().join("dfd.png"));
        assert_eq!(with_extension(dir.path().join("dfd.json"), &export), dir.path().join("dfd.json"));
    }
}
