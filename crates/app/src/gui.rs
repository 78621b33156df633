//! The desktop app: one [`ThreatmapApp`] struct holds all state (immediate mode); menus,
//! shortcuts, file dialogs, unsaved-changes prompts and crash recovery live here, the canvas in
//! [`crate::canvas`] and the side panels in [`crate::panels`].

use anyhow::Context as _;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use threatmap_core::attr::Kind;
use threatmap_core::engine::{Analysis, Finding, Incremental, Options, Prepared, analyze};
use threatmap_core::file::{self, Problem};
use threatmap_core::model::Model;
use threatmap_core::rules::{RuleSet, packs_for};
use threatmap_core::templates;

use crate::commands::UiCommand;
use threatmap_render::dfd::Badge;

use crate::canvas::CanvasState;
use crate::convert::ImportFormat;
use crate::document::{self, Document};
use crate::files::{Ask, FileDialogs, Purpose, folder_of};

/// The bundled example the app opens first.
pub const EXAMPLE: &str = include_str!("../../../assets/examples/web-app.threatmap.json");

/// How often unsaved work is written to the recovery file.
const AUTOSAVE: Duration = Duration::from_secs(5);

/// Findings of the current revision of the model.
#[derive(Debug, Default)]
pub struct FindingsCache {
    /// The model revision they belong to.
    pub revision: Option<u64>,
    /// Open findings (indices into the model and rule set), in element order.
    pub findings: Vec<Finding>,
    /// Findings excluded by assumptions, in element order.
    pub excluded: Vec<Finding>,
    /// How many findings still need work (open, needs investigation, in progress): what the
    /// badges, `threatmap check` and the report count.
    pub open: usize,
    /// Badge per element index (of the model at `revision`).
    pub badges: Vec<Option<Badge>>,
    /// Model check problems and rule diagnostics.
    pub messages: Vec<String>,
    /// The number each flow is drawn with (`(n) name`), by element index.
    pub numbers: Vec<Option<i64>>,
    /// How long the last run of the rules took.
    pub took: Duration,
}

impl FindingsCache {
    /// The badge of the element at index `i`: its open findings' count and worst severity.
    pub fn badge(&self, i: usize) -> Option<&Badge> {
        self.badges.get(i)?.as_ref()
    }

    /// The badge of the element `id`.
    pub fn badge_of(&self, model: &Model, id: &str) -> Option<&Badge> {
        self.badge(model.index_of(id)?)
    }

    /// The cached findings of the element at index `i` alone (and those assumptions exclude),
    /// over `doc`'s model: what a panel or tooltip about one element reads, without copying
    /// the others.
    pub fn of_element<'a>(&self, doc: &'a Document, rules: &'a RuleSet, incremental: &Incremental, i: u32) -> Analysis<'a> {
        let of = |all: &[Finding]| all[all.partition_point(|f| f.element < i)..all.partition_point(|f| f.element <= i)].to_vec();
        Analysis { prepared: self.prepared(doc, incremental), rules, findings: of(&self.findings), excluded: of(&self.excluded) }
    }

    /// An analysis holding no findings, over `doc`'s model: reads any cached finding's rule,
    /// element, text and decision without copying the findings.
    pub fn facts<'a>(&self, doc: &'a Document, rules: &'a RuleSet, incremental: &Incremental) -> Analysis<'a> {
        Analysis { prepared: self.prepared(doc, incremental), rules, findings: Vec::new(), excluded: Vec::new() }
    }

    /// The model's derived facts: the last run's while these findings are current (no second
    /// preparation of a large model every frame), else prepared afresh.
    fn prepared<'a>(&self, doc: &'a Document, incremental: &Incremental) -> Prepared<'a> {
        let current = self.revision == Some(doc.revision());
        current.then(|| incremental.prepared(&doc.model)).flatten().unwrap_or_else(|| Prepared::new(&doc.model))
    }
}

/// Something waiting for the user to decide about unsaved changes.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    /// Start a new model.
    New,
    /// Start a new model from the bundled template with this name.
    NewFromTemplate(&'static str),
    /// Open a file (chosen already, or ask).
    Open(Option<PathBuf>),
    /// Import a file of another tool (ask which, and where to save the model).
    Import(ImportFormat),
    /// Quit.
    Quit,
}

/// An earlier version of the model whose findings count as known: the rest are new.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// Where it was read from.
    pub path: PathBuf,
    /// The keys of its findings (excluded ones too).
    pub keys: BTreeSet<String>,
}

/// Export formats of the File menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// DFD as PNG.
    Png,
    /// DFD as SVG.
    Svg,
    /// The HTML report.
    Report,
}

/// The application.
pub struct ThreatmapApp {
    /// The open model.
    pub doc: Document,
    /// The rules that run on it.
    pub rules: RuleSet,
    /// What `rules` were loaded from: the model's packs and the folder relative pack files are
    /// read from. When an edit, an undo or a Save As changes either, the rules reload.
    rules_from: RulesSource,
    /// Their findings.
    pub cache: FindingsCache,
    /// The findings per element and what each element's rules read, so that an edit
    /// evaluates only the elements it can affect.
    pub(crate) incremental: Incremental,
    /// Canvas view and interaction state.
    pub canvas: CanvasState,
    /// Selected element ids.
    pub selection: BTreeSet<String>,
    /// The window's size was checked against the screen's.
    pub screen_checked: bool,
    /// What opening or importing the model said (what an import could not carry, a replaced
    /// layout): listed under Messages until another model is opened.
    pub opened_with: Vec<String>,
    /// Findings table filter text.
    pub filter: String,
    /// Search in the properties panel.
    pub property_search: String,
    /// Show the findings table.
    pub show_table: bool,
    /// Dark mode.
    pub dark: bool,
    /// A pending action waiting on the unsaved-changes prompt.
    pub prompt: Option<Pending>,
    /// The action the prompt's Save was answered for, done once the Save As dialog it opened
    /// has saved the model (dropped if that dialog is cancelled).
    after_save: Option<Pending>,
    /// Offer to restore this recovered model.
    pub recovery_offer: Option<(Model, Option<PathBuf>)>,
    /// A message for the status bar.
    pub status: String,
    /// Recently opened files, newest first.
    pub recent: Vec<PathBuf>,
    /// Internal clipboard (also copied to the system clipboard as JSON).
    pub clipboard: Option<String>,
    /// Show the rule packs window.
    pub show_packs: bool,
    /// Tickets: the tracker window and the push or pull running now.
    pub handoff: crate::handoff::Handoff,
    /// Previews of the model's attached images.
    pub previews: crate::attachments::Previews,
    /// The folder of models shown in the portfolio sidebar, if one is open.
    pub portfolio: Option<crate::portfolio::Sidebar>,
    /// Where the last attached file came from (the next Attach starts there).
    pub last_attach_dir: Option<PathBuf>,
    /// A widget had the keyboard at the end of the last frame. egui drops the focus on Escape
    /// before the frame runs, so this tells an Escape that leaves a text field from one that
    /// clears the selection.
    pub keyboard_was_taken: bool,
    /// Findings chosen in the table for a bulk decision (by key), and the row a Shift-click
    /// extends the choice from.
    pub table_selection: BTreeSet<String>,
    pub table_anchor: Option<String>,
    /// Put the keyboard in the inspector's name field on the next frame (Enter on a selection).
    pub focus_name_field: bool,
    /// Put the keyboard in the justification of the finding `focus_finding` opens.
    pub focus_triage: bool,
    /// The element selected alone before the one selected alone now (a keyboard flow starts
    /// there), and the one selected now.
    pub selected_before: Option<String>,
    pub selected_now: Option<String>,
    /// The command palette, while it is open.
    pub palette: Option<crate::commands::Palette>,
    /// Scroll the inspector to the findings of this element (a badge was clicked).
    pub show_findings_of: Option<String>,
    /// Open this finding (by key) in the inspector (a table row was clicked).
    pub focus_finding: Option<String>,
    /// The model findings are compared with ("new since baseline").
    pub baseline: Option<Baseline>,
    /// Set when the app may close (the user answered the prompt).
    allow_close: bool,
    /// The file dialogs (the system's, or Threatmap's own where none can be shown).
    pub files: FileDialogs,
    /// A failure the user has not acknowledged yet: what failed, and why.
    pub failure: Option<(String, String)>,
    /// The window title last sent (sent again only when it changes).
    title_sent: String,
    /// Dark mode as last applied to the style.
    dark_applied: Option<bool>,
    last_autosave: Instant,
    /// The document revision last written to the recovery file.
    autosaved_revision: Option<u64>,
    recovery_path: Option<PathBuf>,
}

impl std::fmt::Debug for ThreatmapApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreatmapApp").field("path", &self.doc.path).field("revision", &self.doc.revision()).finish_non_exhaustive()
    }
}

/// A document for a loaded model; elements without a position are placed by the (deterministic)
/// auto-layout as part of opening, so opening a model leaves nothing unsaved. Says which
/// diagrams' stored layout contradicted the model and was replaced, if any.
fn placed_document(mut model: Model, path: Option<PathBuf>) -> (Document, Option<String>) {
    let relaid = document::place_for_opening(&mut model);
    let said = match relaid.as_slice() {
        [] => None,
        _ if model.diagrams.is_empty() => Some(RELAID.to_owned()),
        ds => {
            Some(format!("{} {RELAID}", ds.iter().map(|&d| format!("diagram {:?}", model.diagram_name(d))).collect::<Vec<_>>().join(", ")))
        }
    };
    (Document::new(model, path), said)
}

/// Said after opening a model whose stored layout was replaced.
const RELAID: &str = "laid out afresh: its stored positions put elements outside the boundaries they are in";

/// What a document's rules come from: its packs, the folder of its file (relative pack files
/// are read from there) and the threats written on its elements.
fn rules_source(doc: &Document) -> RulesSource {
    let threats = doc.model.threats().map(|(e, t)| (e.id.clone(), e.kind, t.clone())).collect();
    (packs_for(&doc.model), doc.path.as_deref().and_then(Path::parent).map(Path::to_path_buf), threats)
}

/// See [`rules_source`].
type RulesSource = (Vec<String>, Option<PathBuf>, Vec<(String, Kind, threatmap_core::model::Threat)>);

pub fn rules_for(model: &Model, base: Option<&Path>) -> RuleSet {
    let mut set = RuleSet::new();
    for spec in &packs_for(model) {
        if let Err(d) = set.add_pack(spec, base) {
            set.diagnostics.push(d);
        }
    }
    set.add_model_threats(model);
    set
}

impl ThreatmapApp {
    /// An app showing `model` (saved at `path`, if any). `recovery_path` is where unsaved work
    /// is kept; `None` disables autosave (tests).
    pub fn new(model: Model, path: Option<PathBuf>, recovery_path: Option<PathBuf>) -> ThreatmapApp {
        let (doc, _) = placed_document(model, path);
        let rules_from = rules_source(&doc);
        let rules = rules_for(&doc.model, rules_from.1.as_deref());
        let recovery_offer = recovery_path.as_deref().and_then(read_recovery);
        ThreatmapApp {
            doc,
            rules,
            rules_from,
            cache: FindingsCache::default(),
            incremental: Incremental::new(),
            canvas: CanvasState::default(),
            selection: BTreeSet::new(),
            opened_with: Vec::new(),
            screen_checked: false,
            filter: String::new(),
            property_search: String::new(),
            show_table: true,
            dark: false,
            prompt: None,
            after_save: None,
            recovery_offer,
            status: String::new(),
            recent: Vec::new(),
            clipboard: None,
            show_packs: false,
            handoff: Default::default(),
            previews: Default::default(),
            portfolio: None,
            last_attach_dir: None,
            palette: None,
            selected_before: None,
            selected_now: None,
            focus_name_field: false,
            focus_triage: false,
            table_selection: BTreeSet::new(),
            table_anchor: None,
            keyboard_was_taken: false,
            show_findings_of: None,
            focus_finding: None,
            baseline: None,
            allow_close: false,
            files: FileDialogs::default(),
            failure: None,
            title_sent: String::new(),
            dark_applied: None,
            last_autosave: Instant::now(),
            autosaved_revision: None,
            recovery_path,
        }
    }

    /// The app on the bundled example.
    pub fn with_example(recovery_path: Option<PathBuf>) -> ThreatmapApp {
        let model = file::parse(EXAMPLE, "web-app.threatmap.json").unwrap_or_else(|_| Model::new("Untitled"));
        let mut app = ThreatmapApp::new(model, None, recovery_path);
        app.doc.mark_pristine();
        app.status = "Bundled example: Save As to keep your changes".to_owned();
        app
    }

    /// Runs the rules if the model changed since they last ran. Called before anything reads
    /// findings, so badges update in the same frame as the edit.
    pub fn refresh(&mut self) {
        if self.cache.revision == Some(self.doc.revision()) {
            return;
        }
        if self.rules_from != rules_source(&self.doc) {
            self.reload_rules();
        }
        let t = Instant::now();
        let edited = self.doc.take_edited();
        let a = self.incremental.analyze_edited(&self.doc.model, &self.rules, &Options::default(), edited.as_deref());
        let badges = threatmap_render::dfd::badges(&a);
        let mut messages: Vec<String> = file::check(&self.doc.model).iter().map(problem_text).collect();
        messages.extend(self.rules.diagnostics.iter().map(|d| format!("rule pack: {d}")));
        messages.extend(self.opened_with.iter().cloned());
        // Each flow's number (`(n) name` on the canvas), by element index: the canvas paints
        // right after this refresh, so the indices are the model's.
        let model = &self.doc.model;
        let numbers = (0..model.elements.len() as u32)
            .map(|i| {
                let e = a.prepared.element(i);
                (e.kind == Kind::Dataflow && (model.is_ordered || e.order.is_some()))
                    .then(|| threatmap_render::dfd::flow_number(&a, i))
                    .flatten()
            })
            .collect();
        debug_assert!(a.findings.is_sorted_by_key(|f| f.element) && a.excluded.is_sorted_by_key(|f| f.element));
        // Every open finding is on an element, so the badges count them all.
        let open = badges.iter().flatten().map(|b| b.count).sum();
        debug_assert_eq!(open, a.open_findings().count());
        self.cache = FindingsCache {
            numbers,
            open,
            revision: Some(self.doc.revision()),
            findings: a.findings,
            excluded: a.excluded,
            badges,
            messages,
            took: t.elapsed(),
        };
    }

    /// An analysis view over the cached findings (no rules run).
    pub fn analysis(&self) -> Analysis<'_> {
        let prepared = self.cache.prepared(&self.doc, &self.incremental);
        Analysis { prepared, rules: &self.rules, findings: self.cache.findings.clone(), excluded: self.cache.excluded.clone() }
    }

    /// The cached findings of the element at index `i` alone: see [`FindingsCache::of_element`].
    pub fn element_analysis(&self, i: u32) -> Analysis<'_> {
        self.cache.of_element(&self.doc, &self.rules, &self.incremental, i)
    }

    /// A window larger than the screen (the default size, or one remembered from a larger
    /// screen) hides its status bar and dialog buttons: it is maximized once, on the screen
    /// it is on, as soon as the screen's size is known.
    fn fit_window_to_screen(&mut self, ctx: &egui::Context) {
        if self.screen_checked {
            return;
        }
        let (monitor, outer) = ctx.input(|i| (i.viewport().monitor_size, i.viewport().outer_rect));
        let (Some(monitor), Some(outer)) = (monitor, outer) else { return };
        self.screen_checked = true;
        if outer.width() > monitor.x + 1.0 || outer.height() > monitor.y + 1.0 {
            ctx.send_viewport_cmd(egui::ViewportCommand::Maximized(true));
        }
    }

    /// True while a window must be answered first (a file dialog, the unsaved-changes prompt,
    /// a failure, the recovery offer): the canvas and the shortcuts then take no input.
    pub fn is_blocked(&self) -> bool {
        self.files.is_open() || self.palette.is_some() || self.prompt.is_some() || self.failure.is_some() || self.recovery_offer.is_some()
    }

    /// One frame of the whole UI.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if self.dark_applied.is_none() {
            install_fonts(&ctx);
        }
        if self.dark_applied != Some(self.dark) {
            let mut visuals = if self.dark { egui::Visuals::dark() } else { egui::Visuals::light() };
            // A blinking cursor repaints the window twice a second: a steady one keeps an app
            // waiting in a text field idle.
            visuals.text_cursor.blink = false;
            ctx.set_visuals(visuals);
            self.dark_applied = Some(self.dark);
        }
        self.fit_window_to_screen(&ctx);
        if !self.is_blocked() {
            self.handle_dropped_files(&ctx);
            self.shortcuts(&ctx);
        }
        self.handle_close_request(&ctx);
        self.refresh();

        let width = ctx.content_rect().width();
        egui::Panel::top("menu").show(ui, |ui| self.menu_ui(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_ui(ui));
        if self.portfolio.is_some() {
            egui::Panel::left("portfolio").resizable(false).exact_size(210.0).show(ui, |ui| crate::portfolio::sidebar_ui(ui, self));
        }
        egui::Panel::left("palette").resizable(false).exact_size(150.0).show(ui, crate::panels::palette_ui);
        // The inspector gives way in small windows, so the canvas and the table keep room (its
        // width follows the window's; egui lets a resizable panel's content push it wider).
        egui::Panel::right("inspector")
            .resizable(false)
            .exact_size((width * 0.27).clamp(240.0, 400.0))
            .show(ui, |ui| crate::panels::inspector_ui(ui, self));
        if self.show_table {
            egui::Panel::bottom("findings").resizable(true).default_size(220.0).show(ui, |ui| crate::panels::findings_table_ui(ui, self));
        }
        // An undo can take away the diagram shown.
        self.canvas.diagram = self.canvas.diagram.min(self.doc.model.diagram_count() - 1);
        egui::CentralPanel::no_frame().show(ui, |ui| {
            ui.spacing_mut().item_spacing.y = 0.0;
            egui::Frame::side_top_panel(ui.style()).show(ui, |ui| {
                ui.set_width(ui.available_width());
                crate::panels::diagram_tabs_ui(ui, self);
            });
            crate::canvas::canvas_ui(ui, self);
        });

        self.dialogs_ui(&ctx);
        crate::commands::palette_ui(&ctx, self);
        let update = self.files.update(&ctx);
        if let Some(notice) = update.notice {
            self.status = notice;
        }
        if let Some((purpose, path)) = update.picked {
            self.answered(purpose, path);
            ctx.request_repaint();
        }
        if self.after_save.is_some() && self.files.asking() != Some(&Purpose::SaveAs) {
            self.after_save = None;
        }
        self.autosave(&ctx);
        self.keyboard_was_taken = ctx.memory(|m| m.focused().is_some());
        if let [one] = self.selection.iter().collect::<Vec<_>>()[..]
            && self.selected_now.as_ref() != Some(one)
        {
            self.selected_before = self.selected_now.replace(one.clone());
        }
        let title = self.doc.title();
        if title != self.title_sent {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title_sent = title;
        }
    }

    /// After a save to `p`: say so, forget the recovery file, remember the file.
    fn saved(&mut self, p: &Path) {
        self.status = format!("Saved {}", p.display());
        self.clear_recovery();
        self.remember(p);
        // The sidebar's counts follow the saved file.
        if self.portfolio.is_some() {
            self.refresh_portfolio();
        }
    }

    /// Puts a file at the top of the recent files.
    fn remember(&mut self, p: &Path) {
        self.recent.retain(|r| r != p);
        self.recent.insert(0, p.to_path_buf());
        self.recent.truncate(10);
    }

    fn status_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let c = &self.cache;
            let decided = c.findings.len() - c.open;
            let n = self.doc.model.elements.len();
            ui.label(format!(
                "{n} element{} · {} open findings · {} decided · {} excluded",
                if n == 1 { "" } else { "s" },
                c.open,
                decided,
                c.excluded.len()
            ))
            .on_hover_text("Excluded: findings that an assumption rules out, or on elements out of scope");
            ui.separator();
            ui.label(format!("rules {:.1} ms", self.cache.took.as_secs_f64() * 1e3));
            ui.separator();
            ui.label(format!("zoom {:.0} %", self.canvas.zoom * 100.0));
            if !self.status.is_empty() {
                ui.separator();
                // One line, cut to the window; the whole text on hover.
                ui.add(egui::Label::new(&self.status).truncate()).on_hover_text(&self.status);
            }
        });
    }

    fn menu_ui(&mut self, ui: &mut egui::Ui) {
        use UiCommand::*;
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                self.command_ui(ui, New);
                ui.menu_button("New from Template", |ui| {
                    for t in templates::MODEL_TEMPLATES {
                        self.command_ui(ui, NewFromTemplate(t.name));
                    }
                });
                self.command_ui(ui, Open);
                self.command_ui(ui, OpenPortfolio);
                ui.menu_button("Open Recent", |ui| {
                    if self.recent.is_empty() {
                        ui.label("No recent files");
                    }
                    for p in self.recent.clone() {
                        if ui.button(p.display().to_string()).clicked() {
                            self.request(Pending::Open(Some(p)));
                        }
                    }
                });
                ui.separator();
                self.commands_ui(ui, &[Save, SaveAs]);
                ui.menu_button("Import", |ui| {
                    let imports: Vec<UiCommand> = UiCommand::all().into_iter().filter(|c| matches!(c, ImportPytm | Import(_))).collect();
                    self.commands_ui(ui, &imports);
                });
                ui.menu_button("Baseline", |ui| {
                    self.command_ui(ui, CompareBaseline);
                    self.command_ui(ui, ClearBaseline);
                });
                ui.menu_button("Export", |ui| {
                    self.commands_ui(ui, &[Export(ExportKind::Png), Export(ExportKind::Svg), Export(ExportKind::Report)]);
                });
                ui.separator();
                self.command_ui(ui, Quit);
            });
            ui.menu_button("Edit", |ui| {
                self.commands_ui(ui, &[Undo, Redo]);
                ui.separator();
                self.commands_ui(ui, &[Cut, Copy, Paste, Duplicate, Delete, SelectAll]);
            });
            ui.menu_button("View", |ui| {
                self.commands_ui(ui, &[ZoomIn, ZoomOut, Fit]);
                self.commands_ui(ui, &[ToggleGrid, ToggleTable, ToggleDark]);
                ui.separator();
                self.command_ui(ui, CommandPalette);
            });
            ui.menu_button("Model", |ui| {
                ui.menu_button("Add", |ui| {
                    let adds: Vec<UiCommand> = crate::panels::stencils().map(Add).chain([AddFlow]).collect();
                    self.commands_ui(ui, &adds);
                });
                self.commands_ui(ui, &[AutoLayout, RulePacks, Validate]);
            });
            ui.menu_button("Tickets", |ui| {
                self.commands_ui(ui, &[CreateTickets, SyncTickets]);
                ui.separator();
                self.command_ui(ui, TrackerSettings);
            });
        });
    }

    /// True if closing now would lose work: the model differs from its file (deleting every
    /// element of a saved model counts), or an untitled model has elements.
    pub fn has_unsaved_work(&self) -> bool {
        self.doc.is_dirty() && (self.doc.path.is_some() || !self.doc.model.elements.is_empty())
    }

    /// Asks about unsaved changes before `action`, or does it at once.
    pub fn request(&mut self, action: Pending) {
        if self.has_unsaved_work() {
            self.prompt = Some(action);
        } else {
            self.perform(action);
        }
    }

    fn perform(&mut self, action: Pending) {
        match action {
            Pending::New => {
                self.replace(Model::new("Untitled threat model"), None);
                self.status = "New model: drag stencils onto the canvas".to_owned();
            }
            Pending::NewFromTemplate(name) => match templates::find(name).map(|t| (t, t.model())) {
                Some((t, Ok(model))) => {
                    self.replace(model, None);
                    self.doc.mark_pristine();
                    self.status = format!("New model from the template {}: Save As to keep it", t.title);
                }
                Some((_, Err(e))) => self.fail(format!("Cannot start from the template {name}"), e.to_string()),
                None => self.fail(format!("Cannot start from the template {name}"), "there is no such template".to_owned()),
            },
            Pending::Open(Some(p)) => self.open(&p),
            Pending::Open(None) => self.ask_file(Purpose::Open),
            Pending::Import(format) => self.ask_file(Purpose::Import(format)),
            Pending::Quit => {
                self.allow_close = true;
                self.clear_recovery();
            }
        }
    }

    /// Shows `model` in place of the current one; says so if its stored layout was replaced.
    fn replace(&mut self, model: Model, path: Option<PathBuf>) -> Option<String> {
        let relaid;
        (self.doc, relaid) = placed_document(model, path);
        self.reload_rules();
        self.opened_with = relaid.iter().map(|r| format!("layout: {r}")).collect();
        self.canvas.diagram = 0;
        self.selection.clear();
        // Another model's findings are shown whole: a filter typed for the last one would hide
        // most of them.
        self.filter.clear();
        self.table_selection.clear();
        self.canvas.fit_requested = true;
        self.canvas.fit_for_opening = true;
        self.cache.revision = None;
        relaid
    }

    /// Opens a model file (native, pytm JSON or a pytm script). Another tool's model (TMT, Threat Dragon, OTM)
    /// is imported instead: the user chooses where its native model goes.
    pub fn open(&mut self, path: &Path) {
        let name = path.display().to_string();
        // Read once: the shape decides between opening and importing.
        let limit = threatmap_core::tmt::MAX_TM7_BYTES.max(file::MAX_FILE_BYTES);
        let text = match file::read_text(path, limit) {
            Ok(text) => text,
            Err(p) => return self.fail(format!("Cannot open {name}"), p.display_in(&name).to_string()),
        };
        let found = threatmap_core::shape::sniff(&text);
        if let Some(format) = ImportFormat::for_shape(found).filter(|_| !found.is_model()) {
            self.status = format!("{name} is {}: choose where to save it as a Threatmap model", found.describe());
            self.ask_file(Purpose::ImportTarget(format, path.to_path_buf()));
            return;
        }
        match file::parse_any(&text, &name) {
            Ok(loaded) => {
                let native = loaded.native;
                let relaid = self.replace(loaded.model, native.then(|| path.to_path_buf()));
                self.remember(path);
                self.status = if native {
                    format!("Opened {}", path.display())
                } else {
                    format!("Imported {} (Save As to keep it as a native model)", path.display())
                };
                if let Some(r) = relaid {
                    self.status.push_str(&format!("; {r}"));
                }
                if !loaded.warnings.is_empty() {
                    self.status.push_str("; warnings: see Messages");
                }
                // A native model's warnings are the model's own (Messages lists them already);
                // a pytm model's say what its import could not carry.
                if !native {
                    self.opened_with.extend(loaded.warnings.iter().map(|w| match &w.element {
                        Some(e) => format!("import: {e}: {}", w.message),
                        None => format!("import: {}", w.message),
                    }));
                }
            }
            Err(e) => self.fail(format!("Cannot open {}", path.display()), e.to_string()),
        }
    }

    /// Imports `src` (a TMT, Threat Dragon or OTM file) into a native model saved at `out`,
    /// with the rule pack it brings written beside it, and opens it.
    pub fn import(&mut self, format: ImportFormat, src: &Path, out: &Path) {
        type Written = (Vec<String>, Vec<(PathBuf, String)>);
        let result = (|| -> anyhow::Result<Written> {
            let limit = if format == ImportFormat::Tm7 { threatmap_core::tmt::MAX_TM7_BYTES } else { file::MAX_FILE_BYTES };
            let text = file::read_text(src, limit).map_err(|p| anyhow::anyhow!("{}", p.display_in(&src.display().to_string())))?;
            let imported = crate::convert::import(format, &text, src, out)?;
            for (path, pack) in &imported.packs {
                crate::convert::write_pack(path, pack)?;
            }
            file::save(&imported.model, out).with_context(|| format!("cannot write {}", out.display()))?;
            Ok((imported.warnings, imported.packs))
        })();
        match result {
            Ok((warnings, packs)) => {
                self.open(out);
                if self.doc.path.as_deref() != Some(out) {
                    return; // opening failed, and said so
                }
                self.status = format!("Imported {} as {}", src.display(), out.display());
                if let Some((pack, _)) = packs.first() {
                    self.status.push_str(&format!(
                        " (its threats as the rule pack {})",
                        pack.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                    ));
                }
                if !warnings.is_empty() {
                    self.status.push_str("; what it could not carry: see Messages");
                }
                self.opened_with.extend(warnings.into_iter().map(|w| format!("import: {w}")));
                self.cache.revision = None;
            }
            Err(e) => self.fail(format!("Cannot import {} as {}", src.display(), out.display()), format!("{e:#}")),
        }
    }

    /// Compares findings with an earlier version of the model: findings it did not have are
    /// marked new in the findings table.
    pub fn set_baseline(&mut self, path: &Path) {
        match file::load_any(path) {
            Ok(loaded) => {
                let rules = rules_for(&loaded.model, path.parent());
                let a = analyze(&loaded.model, &rules, &Options::default());
                let keys: BTreeSet<String> = a.findings.iter().chain(a.excluded.iter()).map(|f| a.key(f)).collect();
                self.status = format!("Baseline {}: {} finding(s)", path.display(), keys.len());
                self.baseline = Some(Baseline { path: path.to_path_buf(), keys });
            }
            Err(e) => self.fail(format!("Cannot read the baseline {}", path.display()), e.to_string()),
        }
    }

    /// Saves to the current path, or asks for one.
    pub fn save(&mut self) {
        match self.doc.path.clone() {
            Some(p) => match self.doc.save_to(p.clone()) {
                Ok(()) => self.saved(&p),
                Err(e) => self.fail(format!("Cannot save {}", p.display()), e.to_string()),
            },
            None => self.save_as(),
        }
    }

    fn save_as(&mut self) {
        self.ask_file(Purpose::SaveAs);
    }

    /// Opens the file dialog for `purpose`, with its title, file type, proposed name and folder.
    pub fn ask_file(&mut self, purpose: Purpose) {
        let slug = threatmap_core::model::slug(&self.doc.model.name);
        let here = folder_of(self.doc.path.as_deref()).or_else(|| std::env::current_dir().ok());
        const MODEL: (&str, &[&str]) = ("Threat model (.json)", &["json"]);
        let (title, save, filter, file_name, directory) = match &purpose {
            Purpose::Open => {
                let any = ("Threat model (.json, .tm7, pytm .py)", &["json", "tm7", "py"][..]);
                ("Open a threat model".to_owned(), false, any, None, here)
            }
            Purpose::Baseline => ("Compare with an earlier version of the model".to_owned(), false, MODEL, None, here),
            Purpose::RulePack => {
                ("Add a rule pack".to_owned(), false, ("Rule pack (.toml, threats.json)", &["toml", "json"][..]), None, here)
            }
            Purpose::Attach => {
                ("Attach a file to the model".to_owned(), false, ("Any file", &[][..]), None, self.last_attach_dir.clone().or(here))
            }
            Purpose::Portfolio => ("Open a folder of models as a portfolio".to_owned(), false, ("Folder", &[][..]), None, here),
            Purpose::Import(format) => {
                let filter = match format {
                    ImportFormat::Tm7 => ("Microsoft TMT model (.tm7)", &["tm7"][..]),
                    _ => ("JSON (.json)", &["json"][..]),
                };
                let what = match format {
                    ImportFormat::Pytm => "a pytm model",
                    ImportFormat::Tm7 => "a Microsoft TMT model",
                    ImportFormat::ThreatDragon => "a Threat Dragon model",
                    ImportFormat::Otm => "an Open Threat Model file",
                    ImportFormat::TmBom => "a Threat Model Library (TM-BOM) file",
                };
                (format!("Import {what}"), false, filter, None, here)
            }
            Purpose::ImportTarget(_, src) => {
                let stem = src.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "imported".to_owned());
                // Beside the file it came from, unless that folder cannot be written to (a
                // read-only share, a downloads folder of another user): then where models go.
                let beside = folder_of(Some(src)).filter(|d| writable(d));
                ("Save the imported model as".to_owned(), true, MODEL, Some(format!("{stem}.threatmap.json")), beside.or(here))
            }
            Purpose::SaveAs => {
                // Save As of a saved model proposes its own file name, to change from there.
                let name = self.doc.path.as_deref().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned());
                ("Save the threat model as".to_owned(), true, MODEL, Some(name.unwrap_or_else(|| format!("{slug}.threatmap.json"))), here)
            }
            Purpose::Export(kind) => {
                // A model with several diagrams exports the one shown: its name is in the file's.
                let dfd = match self.doc.model.diagrams.len() {
                    0 | 1 => format!("{slug}-dfd"),
                    _ => format!("{slug}-{}-dfd", threatmap_core::model::slug(self.doc.model.diagram_name(self.canvas.diagram))),
                };
                let (name, filter) = match kind {
                    ExportKind::Png => (format!("{dfd}.png"), ("PNG image (.png)", &["png"][..])),
                    ExportKind::Svg => (format!("{dfd}.svg"), ("SVG image (.svg)", &["svg"][..])),
                    ExportKind::Report => (format!("{slug}-report.html"), ("HTML report (.html)", &["html"][..])),
                };
                ("Export".to_owned(), true, filter, Some(name), here)
            }
        };
        let folder = purpose == Purpose::Portfolio;
        self.files.ask(Ask { purpose, title, save, filter, file_name, directory, folder });
    }

    /// Shows a failure to the user (a window they must acknowledge) and in the status line.
    pub fn fail(&mut self, what: String, why: String) {
        self.status = format!("{what}: {why}");
        self.failure = Some((what, why));
    }

    /// Writes an export to `path`.
    pub fn write_export(&mut self, kind: ExportKind, path: &Path) -> Result<(), String> {
        self.refresh();
        let a = self.analysis();
        // The diagram shown, as drawn on the canvas.
        let opts = threatmap_render::dfd::DfdOptions { badges: true, diagram: Some(self.canvas.diagram), ..Default::default() };
        let bytes = match kind {
            ExportKind::Svg => threatmap_render::dfd::Diagram::new(&a, &opts).to_svg(&a).into_bytes(),
            ExportKind::Png => {
                let svg = threatmap_render::dfd::Diagram::new(&a, &opts).to_svg(&a);
                threatmap_render::svg::to_png(&svg, 2.0, threatmap_render::svg::Background::White).map_err(|e| e.to_string())?
            }
            ExportKind::Report => match self.doc.path.as_deref() {
                Some(model) => threatmap_render::report::html_with(&a, &crate::attachments::for_report(&self.doc.model, model, Some(path)))
                    .into_bytes(),
                None => threatmap_render::report::html(&a).into_bytes(),
            },
        };
        file::write_atomic(path, &bytes).map_err(|e| e.to_string())
    }

    /// Acts on the answer of a file dialog.
    pub fn answered(&mut self, purpose: Purpose, p: PathBuf) {
        match purpose {
            Purpose::Open => self.open(&p),
            Purpose::Import(format) => self.ask_file(Purpose::ImportTarget(format, p)),
            Purpose::ImportTarget(format, src) => self.import(format, &src, &p),
            Purpose::Baseline => self.set_baseline(&p),
            Purpose::SaveAs => {
                if let Err(e) = self.doc.save_to(p.clone()) {
                    self.fail(format!("Cannot save {}", p.display()), e.to_string());
                } else {
                    self.saved(&p);
                    if let Some(action) = self.after_save.take() {
                        self.perform(action);
                    }
                }
            }
            Purpose::Export(kind) => match self.write_export(kind, &p) {
                Ok(()) => self.status = format!("Exported {}", p.display()),
                Err(e) => self.fail(format!("Cannot export {}", p.display()), e),
            },
            Purpose::Attach => self.attach_file(&p),
            Purpose::Portfolio => self.open_portfolio(&p),
            Purpose::RulePack => {
                let spec = p.display().to_string();
                self.doc.edit(|m| {
                    if !m.rule_packs.contains(&spec) {
                        m.rule_packs = packs_for(m);
                        m.rule_packs.push(spec);
                    }
                });
                self.reload_rules();
            }
        }
    }

    /// Reloads the rules from the model's packs (and their files, which may have changed).
    pub fn reload_rules(&mut self) {
        self.rules_from = rules_source(&self.doc);
        self.rules = rules_for(&self.doc.model, self.rules_from.1.as_deref());
        self.cache.revision = None;
    }

    fn handle_dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> =
            ctx.input(|i| i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).filter(|p| !p.as_os_str().is_empty()).collect());
        if let Some(p) = dropped.into_iter().next() {
            self.request(Pending::Open(Some(p)));
        }
    }

    fn handle_close_request(&mut self, ctx: &egui::Context) {
        if ctx.input(|i| i.viewport().close_requested()) && !self.allow_close {
            if self.has_unsaved_work() {
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
                self.prompt = Some(Pending::Quit);
            } else {
                self.clear_recovery();
            }
        }
        if self.allow_close {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }

    fn dialogs_ui(&mut self, ctx: &egui::Context) {
        if let Some(action) = self.prompt.clone() {
            let mut choice = None;
            egui::Modal::new(egui::Id::new("unsaved")).show(ctx, |ui| {
                ui.heading("Unsaved changes");
                ui.label(format!("Save the changes to “{}” first?", self.doc.model.name));
                ui.add_space(8.0);
                ui.horizontal(|ui| {
                    if ui.button("Save").clicked() {
                        choice = Some(0);
                    }
                    if ui.button("Discard").clicked() {
                        choice = Some(1);
                    }
                    if ui.button("Cancel").clicked() {
                        choice = Some(2);
                    }
                });
            });
            match choice {
                Some(0) => {
                    self.prompt = None;
                    self.save();
                    if !self.doc.is_dirty() {
                        self.perform(action);
                    } else if self.files.asking() == Some(&Purpose::SaveAs) {
                        self.after_save = Some(action);
                    }
                }
                Some(1) => {
                    self.prompt = None;
                    self.clear_recovery();
                    self.perform(action);
                }
                Some(_) => self.prompt = None,
                None => {}
            }
        }
        if let Some((model, path)) = self.recovery_offer.take() {
            let mut choice = None;
            egui::Modal::new(egui::Id::new("recover")).show(ctx, |ui| {
                ui.heading("Recover unsaved work?");
                ui.label(format!(
                    "Threatmap did not close normally. Unsaved changes to “{}”{} were kept.",
                    model.name,
                    path.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default()
                ));
                ui.horizontal(|ui| {
                    if ui.button("Restore").clicked() {
                        choice = Some(true);
                    }
                    if ui.button("Discard").clicked() {
                        choice = Some(false);
                    }
                });
            });
            match choice {
                Some(true) => {
                    let saved = path.as_ref().and_then(|p| file::load_any(p).ok()).map(|l| l.model);
                    self.replace(saved.unwrap_or_else(|| Model::new("Recovered")), path);
                    self.doc.edit(|m| *m = model);
                    self.status = "Recovered unsaved work".to_owned();
                }
                Some(false) => self.clear_recovery(),
                None => self.recovery_offer = Some((model, path)),
            }
        }
        if let Some((what, why)) = self.failure.clone() {
            let mut ok = false;
            egui::Modal::new(egui::Id::new("failure")).show(ctx, |ui| {
                ui.set_max_width(560.0);
                ui.heading(&what);
                ui.label(&why);
                ui.add_space(8.0);
                let b = ui.button("OK");
                b.request_focus();
                ok = b.clicked() || ui.input(|i| i.key_pressed(egui::Key::Escape));
            });
            if ok {
                self.failure = None;
            }
        }
        if self.files.system_dialog_open() {
            // The system's dialog is another window; this one waits for it.
            egui::Modal::new(egui::Id::new("system-dialog")).show(ctx, |ui| {
                ui.label("Choose the file in the file dialog window.");
            });
        }
        if self.show_packs {
            let mut open = true;
            egui::Window::new("Rule packs").open(&mut open).show(ctx, |ui| crate::panels::packs_ui(ui, self));
            self.show_packs = open;
        }
        self.handoff_ui(ctx);
        self.attachments_poll();
    }

    /// Asks for a rule pack file to add.
    pub fn add_pack_dialog(&mut self) {
        self.ask_file(Purpose::RulePack);
    }

    /// Writes the recovery file every few seconds while there is unsaved work it lacks; an idle
    /// window wakes up for it (egui paints only on input otherwise).
    fn autosave(&mut self, ctx: &egui::Context) {
        if self.recovery_path.is_none() || self.autosaved_revision == Some(self.doc.revision()) || !self.doc.is_dirty() {
            return;
        }
        let since = self.last_autosave.elapsed();
        if since >= AUTOSAVE {
            self.autosave_now();
        } else {
            ctx.request_repaint_after(AUTOSAVE - since);
        }
    }

    /// Writes unsaved work to the recovery file (done every few seconds while it is dirty).
    pub fn autosave_now(&mut self) {
        let Some(path) = self.recovery_path.clone() else { return };
        self.last_autosave = Instant::now();
        if !self.has_unsaved_work() {
            return;
        }
        self.autosaved_revision = Some(self.doc.revision());
        let wrapper = serde_json::json!({
            "path": self.doc.path.as_ref().map(|p| p.display().to_string()),
            "model": self.doc.model,
        });
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = file::write_atomic(&path, wrapper.to_string().as_bytes()) {
            self.fail(format!("Cannot write the recovery file {}", path.display()), e.to_string());
        }
    }

    fn clear_recovery(&mut self) {
        if let Some(p) = &self.recovery_path {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Shows diagram `d` on the canvas (fitted in view); the selection keeps what it shows.
    pub fn show_diagram(&mut self, d: usize) {
        let d = d.min(self.doc.model.diagram_count() - 1);
        if d == self.canvas.diagram {
            return;
        }
        self.canvas.diagram = d;
        self.canvas.fit_requested = true;
        let shown = self.doc.model.shown_on(d);
        let model = &self.doc.model;
        self.selection.retain(|id| model.elements.iter().zip(&shown).any(|(e, on)| *on && &e.id == id));
    }

    /// Shows element `id` where it is drawn: the current diagram if it is there, else the
    /// first diagram that shows it.
    pub fn reveal(&mut self, id: &str) {
        let model = &self.doc.model;
        let Some(k) = model.elements.iter().position(|e| e.id == id) else { return };
        let on = model.diagram_membership().swap_remove(k);
        if !on.contains(&self.canvas.diagram)
            && let Some(&d) = on.first()
        {
            self.show_diagram(d);
        }
    }

    /// Selects element `id`, shows the diagram that draws it and brings it to the middle of
    /// the view, with its findings in the inspector.
    pub fn go_to(&mut self, id: &str) {
        if !self.doc.model.elements.iter().any(|e| e.id == id) {
            return;
        }
        self.reveal(id);
        self.selection = std::iter::once(id.to_owned()).collect();
        self.canvas.show = Some((id.to_owned(), crate::canvas::Show::Centred));
    }

    pub(crate) fn auto_layout(&mut self) {
        let dg = self.canvas.diagram;
        self.doc.edit(|m| {
            document::auto_layout(m, dg, true);
        });
        self.canvas.fit_requested = true;
    }

    /// Selects every element.
    pub fn select_all(&mut self) {
        self.selection = self.doc.model.elements.iter().map(|e| e.id.clone()).collect();
    }

    /// Deletes the selection from the diagram shown: what is drawn on other diagrams too is
    /// only taken off this one (it stays in the model, with its findings); the rest, and flows,
    /// leave the model. The status line says which.
    pub fn delete_selection(&mut self) {
        if self.selection.is_empty() {
            return;
        }
        let sel = std::mem::take(&mut self.selection);
        let dg = self.canvas.diagram;
        let m = &self.doc.model;
        let membership = m.diagram_membership();
        let (shared, only_here): (BTreeSet<String>, BTreeSet<String>) = sel.into_iter().partition(|id| {
            m.elements.iter().zip(&membership).any(|(e, on)| &e.id == id && e.kind != Kind::Dataflow && on.len() > 1 && on.contains(&dg))
        });
        // Drawn elsewhere too, but its flows here would be drawn nowhere without it: it stays.
        let (shared, stuck): (BTreeSet<String>, BTreeSet<String>) = shared.into_iter().partition(|id| document::removable_from(m, dg, id));
        let names = |ids: &BTreeSet<String>| -> String {
            let list: Vec<String> =
                m.elements.iter().filter(|e| ids.contains(&e.id)).map(|e| threatmap_core::model::one_line(&e.name)).collect();
            match list.as_slice() {
                [one] => one.clone(),
                many => format!("{} elements", many.len()),
            }
        };
        if !shared.is_empty() {
            let elsewhere: BTreeSet<usize> = m
                .elements
                .iter()
                .zip(&membership)
                .filter(|(e, _)| shared.contains(&e.id))
                .flat_map(|(_, on)| on.iter().copied().filter(|&d| d != dg))
                .collect();
            let elsewhere: Vec<&str> = elsewhere.into_iter().map(|d| m.diagram_name(d)).collect();
            self.status = format!(
                "Took {} off this diagram; still on {} (delete it there too to remove it from the model){}",
                names(&shared),
                elsewhere.join(", "),
                if only_here.is_empty() { String::new() } else { format!("; deleted {}", names(&only_here)) }
            );
        } else if !only_here.is_empty() {
            self.status = format!("Deleted {}", names(&only_here));
        }
        if !stuck.is_empty() {
            self.status = format!(
                "{}{} kept on this diagram: {} on other diagrams too, but flows drawn only here connect {}; delete those flows first, or the element on its other diagrams",
                if only_here.is_empty() && shared.is_empty() { String::new() } else { format!("{}; ", self.status) },
                names(&stuck),
                if stuck.len() == 1 { "it is" } else { "they are" },
                if stuck.len() == 1 { "it" } else { "them" },
            );
        }
        self.doc.edit(|m| {
            document::remove_from_diagram(m, dg, &shared);
            document::delete(m, dg, &only_here);
        });
    }

    /// The selection as clipboard JSON (elements and their positions).
    fn selection_json(&self) -> String {
        let m = &self.doc.model;
        let elements: Vec<_> = m.elements.iter().filter(|e| self.selection.contains(&e.id)).collect();
        let layout: HashMap<&String, _> = m.layout_of(self.canvas.diagram).iter().filter(|(k, _)| self.selection.contains(*k)).collect();
        serde_json::json!({ "threatmapClipboard": 1, "elements": elements, "layout": layout }).to_string()
    }

    pub(crate) fn copy(&mut self, ctx: &egui::Context) {
        if self.selection.is_empty() {
            return;
        }
        let text = self.selection_json();
        ctx.copy_text(text.clone());
        self.clipboard = Some(text);
    }

    /// Pastes elements copied from Threatmap, offset so they do not cover the originals.
    pub fn paste(&mut self, text: &str) {
        #[derive(serde::Deserialize)]
        struct Clip {
            #[serde(rename = "threatmapClipboard")]
            _v: u32,
            elements: Vec<threatmap_core::model::Element>,
            layout: std::collections::BTreeMap<String, threatmap_core::model::Placement>,
        }
        let Ok(clip) = serde_json::from_str::<Clip>(text) else { return };
        let mut new_ids = BTreeSet::new();
        let dg = self.canvas.diagram;
        self.doc.edit(|m| {
            let mut rename: HashMap<String, String> = HashMap::new();
            for e in &clip.elements {
                let id = threatmap_core::model::unique_id(&e.name, |id| {
                    m.elements.iter().any(|x| x.id == id) || rename.values().any(|v| v == id) || m.layouts().any(|l| l.contains_key(id))
                });
                rename.insert(e.id.clone(), id);
            }
            for e in clip.elements {
                let mut e = e;
                let old = std::mem::take(&mut e.id);
                e.id = rename[&old].clone();
                let map = |r: &mut Option<String>, keep_outside: bool| {
                    if let Some(x) = r.as_ref() {
                        match rename.get(x) {
                            Some(n) => *r = Some(n.clone()),
                            None if keep_outside => {}
                            None => *r = None,
                        }
                    }
                };
                map(&mut e.source, true);
                map(&mut e.sink, true);
                map(&mut e.response_to, false);
                map(&mut e.in_boundary, true);
                if e.kind == Kind::Dataflow {
                    let ok = |x: &Option<String>| {
                        x.as_ref().is_some_and(|s| m.elements.iter().any(|y| &y.id == s) || rename.values().any(|v| v == s))
                    };
                    if !ok(&e.source) || !ok(&e.sink) {
                        continue;
                    }
                }
                if let Some(p) = clip.layout.get(&old) {
                    let mut p = p.clone();
                    p.x += 30.0;
                    p.y += 30.0;
                    m.layout_of_mut(dg).insert(e.id.clone(), p);
                }
                new_ids.insert(e.id.clone());
                m.elements.push(e);
            }
            document::sync_membership(m, dg);
        });
        self.selection = new_ids;
    }

    pub(crate) fn duplicate(&mut self) {
        if self.selection.is_empty() {
            return;
        }
        let text = self.selection_json();
        self.paste(&text);
    }

    /// State to persist between runs (recent files, view options).
    pub fn persisted(&self) -> Persisted {
        Persisted { recent: self.recent.clone(), dark: self.dark, grid: self.canvas.grid, last: self.doc.path.clone() }
    }
}

/// What the app remembers between runs.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Persisted {
    /// Recent files, newest first.
    pub recent: Vec<PathBuf>,
    /// Dark mode.
    pub dark: bool,
    /// Grid and snapping.
    pub grid: bool,
    /// The file open at exit.
    pub last: Option<PathBuf>,
}

/// Adds the bundled DejaVu Sans after egui's own fonts, so arrows, symbols and the scripts
/// egui's fonts lack are drawn (as in exported diagrams) instead of empty boxes.
fn install_fonts(ctx: &egui::Context) {
    let mut fonts = egui::FontDefinitions::default();
    fonts.font_data.insert("dejavu".to_owned(), std::sync::Arc::new(egui::FontData::from_static(threatmap_render::font::regular_bytes())));
    for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
        fonts.families.entry(family).or_default().push("dejavu".to_owned());
    }
    ctx.set_fonts(fonts);
}

fn problem_text(p: &Problem) -> String {
    let who = p.element.as_deref().map(|e| format!("{e}: ")).unwrap_or_default();
    let level = match p.level {
        file::Level::Error => "error",
        file::Level::Warning => "warning",
    };
    format!("{level}: {who}{}", p.message)
}

/// Reads a recovery file: the unsaved model and the path it belongs to.
fn read_recovery(path: &Path) -> Option<(Model, Option<PathBuf>)> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let model: Model = serde_json::from_value(v.get("model")?.clone()).ok()?;
    let p = v.get("path").and_then(|p| p.as_str()).map(PathBuf::from);
    Some((model, p))
}

/// The eframe wrapper: persistence and the frame loop. With `THREATMAP_TRACE_FRAMES=1` every
/// frame is counted on standard error, so a test can tell that an idle window paints nothing.
struct EframeApp {
    app: ThreatmapApp,
    trace_frames: bool,
    frames: u64,
}

impl eframe::App for EframeApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.app.ui(ui);
        if self.trace_frames {
            self.frames += 1;
            eprintln!("threatmap: frame {}", self.frames);
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, "threatmap", &self.app.persisted());
    }
}

/// Opens the window: on `file` if given, else on the last file, else on the bundled example.
/// The application icon, drawn from the bundled SVG at the size window systems use most.
/// Without it (it cannot fail with the bundled file) the window gets the system's default.
fn window_icon() -> std::sync::Arc<egui::IconData> {
    const SIDE: u32 = 256;
    let rgba = threatmap_render::svg::icon_rgba(include_str!("../../../assets/icons/threatmap.svg"), SIDE).unwrap_or_default();
    let (width, height) = if rgba.is_empty() { (0, 0) } else { (SIDE, SIDE) };
    std::sync::Arc::new(egui::IconData { rgba, width, height })
}

pub fn run(file: Option<PathBuf>) -> anyhow::Result<()> {
    let recovery = eframe::storage_dir("threatmap").map(|d| d.join("recovery.threatmap.json"));
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Threatmap")
            .with_inner_size([1280.0, 760.0])
            .with_min_inner_size([800.0, 500.0])
            .with_app_id("threatmap")
            .with_icon(window_icon()),
        ..Default::default()
    };
    eframe::run_native(
        "threatmap",
        options,
        Box::new(move |cc| {
            let persisted: Persisted = cc.storage.and_then(|s| eframe::get_value(s, "threatmap")).unwrap_or_default();
            let start = file.or_else(|| persisted.last.clone().filter(|p| p.is_file()));
            let mut app = ThreatmapApp::with_example(recovery);
            if let Some(p) = start {
                app.open(&p);
            }
            app.recent = persisted.recent;
            app.dark = persisted.dark;
            app.canvas.grid = persisted.grid;
            let trace_frames = std::env::var_os("THREATMAP_TRACE_FRAMES").is_some_and(|v| v == "1");
            Ok(Box::new(EframeApp { app, trace_frames, frames: 0 }))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

/// True if files can be made in `dir` (its permission bits allow it; so does a root user's
/// access, which is not asked: a folder marked read-only is taken as the owner meant it).
fn writable(dir: &Path) -> bool {
    std::fs::metadata(dir).is_ok_and(|m| m.is_dir() && !m.permissions().readonly())
}
