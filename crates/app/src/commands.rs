//! Every action of the app in one list. The menus, the keyboard shortcuts and the command
//! palette (Ctrl+K) all read [`UiCommand`]: a command has one label, one set of shortcuts and
//! one rule for when it can run, wherever it is started from.

use egui::{Key, KeyboardShortcut, Modifiers};
use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
use threatmap_core::attr::Kind;
use threatmap_core::templates;

use crate::convert::ImportFormat;
use crate::files::Purpose;
use crate::gui::{ExportKind, Pending, ThreatmapApp};
use threatmap_render::dfd::Badge;

/// An action the user can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UiCommand {
    /// Start an empty model.
    New,
    /// Start a model from the bundled template with this name.
    NewFromTemplate(&'static str),
    /// Open a model file.
    Open,
    /// Save to the model's file (ask where if it has none).
    Save,
    /// Save to a file chosen now.
    SaveAs,
    /// Import a pytm model (script or JSON).
    ImportPytm,
    /// Import another tool's file.
    Import(ImportFormat),
    /// Compare findings with an earlier version of the model.
    CompareBaseline,
    /// Stop comparing with the baseline.
    ClearBaseline,
    /// Export the diagram shown, or the report.
    Export(ExportKind),
    /// Quit (asking about unsaved work).
    Quit,
    /// Undo the last edit.
    Undo,
    /// Redo the last undone edit.
    Redo,
    /// Copy the selection and delete it.
    Cut,
    /// Copy the selection.
    Copy,
    /// Paste what was copied.
    Paste,
    /// Copy and paste the selection at once.
    Duplicate,
    /// Delete the selection (from the diagram shown).
    Delete,
    /// Select every element.
    SelectAll,
    /// Select nothing.
    SelectNone,
    /// Zoom in.
    ZoomIn,
    /// Zoom out.
    ZoomOut,
    /// Fit the drawing into the view.
    Fit,
    /// Show the grid and snap to it, or not.
    ToggleGrid,
    /// Show the findings table, or not.
    ToggleTable,
    /// Dark mode, or light.
    ToggleDark,
    /// Lay the diagram shown out afresh.
    AutoLayout,
    /// Choose the rule packs.
    RulePacks,
    /// Check the model and list what is wrong.
    Validate,
    /// Search every command and element.
    CommandPalette,
    /// Move the selection on the canvas: by a grid step, or by one unit when `fine`.
    Nudge {
        /// Left (-1) or right (1).
        dx: i8,
        /// Up (-1) or down (1).
        dy: i8,
        /// One unit instead of a grid step.
        fine: bool,
    },
    /// Select the next element of the diagram shown, in model order.
    NextElement,
    /// Select the previous element of the diagram shown.
    PreviousElement,
    /// Put the keyboard in the selected element's name field in the inspector.
    EditSelection,
    /// Add an element of this kind in the middle of the view, selected and ready to name.
    Add(Kind),
    /// Add a dataflow from the element selected before to the one selected now.
    AddFlow,
    /// Open a folder of models as the portfolio sidebar.
    OpenPortfolio,
    /// Name the tracker findings are handed to.
    TrackerSettings,
    /// Create (or update) tickets for the findings chosen in the table.
    CreateTickets,
    /// Read the recorded tickets' states and move the decisions.
    SyncTickets,
}

const CMD: Modifiers = Modifiers::COMMAND;
const CMD_SHIFT: Modifiers = Modifiers { shift: true, ..Modifiers::COMMAND };
const fn sc(modifiers: Modifiers, key: Key) -> KeyboardShortcut {
    KeyboardShortcut::new(modifiers, key)
}

impl UiCommand {
    /// Every command, in menu order (one per template and import format).
    pub fn all() -> Vec<UiCommand> {
        use UiCommand::*;
        let mut v = vec![New];
        v.extend(templates::MODEL_TEMPLATES.iter().map(|t| NewFromTemplate(t.name)));
        v.extend([Open, OpenPortfolio, Save, SaveAs, ImportPytm]);
        v.extend(IMPORTS.iter().map(|(_, f)| Import(*f)));
        v.extend([CompareBaseline, ClearBaseline, Export(ExportKind::Png), Export(ExportKind::Svg), Export(ExportKind::Report), Quit]);
        v.extend([Undo, Redo, Cut, Copy, Paste, Duplicate, Delete, SelectAll, SelectNone]);
        v.extend([ZoomIn, ZoomOut, Fit, ToggleGrid, ToggleTable, ToggleDark]);
        v.extend([AutoLayout, RulePacks, Validate, CommandPalette, CreateTickets, SyncTickets, TrackerSettings]);
        v.extend(crate::panels::stencils().map(Add));
        v.extend([AddFlow, NextElement, PreviousElement, EditSelection]);
        for fine in [false, true] {
            v.extend([(-1, 0), (1, 0), (0, -1), (0, 1)].map(|(dx, dy)| Nudge { dx, dy, fine }));
        }
        v
    }

    /// The label in menus (an ellipsis where a dialog follows).
    pub fn label(self) -> String {
        use UiCommand::*;
        match self {
            New => "New".into(),
            NewFromTemplate(name) => templates::find(name).map_or(name, |t| t.title).to_owned(),
            Open => "Open…".into(),
            Save => "Save".into(),
            SaveAs => "Save As…".into(),
            ImportPytm => "pytm (JSON or tm.py)…".into(),
            Import(f) => IMPORTS.iter().find(|(_, x)| *x == f).map_or("Import…", |(l, _)| l).to_owned(),
            CompareBaseline => "Compare with baseline…".into(),
            ClearBaseline => "Clear baseline".into(),
            Export(ExportKind::Png) => "Diagram as PNG…".into(),
            Export(ExportKind::Svg) => "Diagram as SVG…".into(),
            Export(ExportKind::Report) => "HTML report…".into(),
            Quit => "Quit".into(),
            Undo => "Undo".into(),
            Redo => "Redo".into(),
            Cut => "Cut".into(),
            Copy => "Copy".into(),
            Paste => "Paste".into(),
            Duplicate => "Duplicate".into(),
            Delete => "Delete".into(),
            SelectAll => "Select All".into(),
            SelectNone => "Select None".into(),
            ZoomIn => "Zoom In".into(),
            ZoomOut => "Zoom Out".into(),
            Fit => "Fit".into(),
            ToggleGrid => "Grid and snapping".into(),
            ToggleTable => "Findings table".into(),
            ToggleDark => "Dark mode".into(),
            AutoLayout => "Auto-layout".into(),
            RulePacks => "Rule packs…".into(),
            Validate => "Validate".into(),
            CommandPalette => "Command palette…".into(),
            Nudge { dx, dy, fine } => {
                let way = match (dx, dy) {
                    (-1, _) => "left",
                    (1, _) => "right",
                    (_, -1) => "up",
                    _ => "down",
                };
                format!("Move selection {way}{}", if fine { " by one unit" } else { "" })
            }
            NextElement => "Select next element".into(),
            PreviousElement => "Select previous element".into(),
            EditSelection => "Edit selected element".into(),
            Add(kind) => format!("Add {}", kind.label()),
            AddFlow => "Add flow from the element selected before".into(),
            OpenPortfolio => "Open Folder as Portfolio…".into(),
            TrackerSettings => "Tracker…".into(),
            CreateTickets => "Create tickets for chosen findings".into(),
            SyncTickets => "Sync tickets".into(),
        }
    }

    /// The text the command palette shows and searches: the label with where it lives.
    pub fn palette_text(self) -> String {
        let label = self.label().trim_end_matches('…').to_owned();
        match self {
            UiCommand::NewFromTemplate(_) => format!("New from template: {label}"),
            UiCommand::ImportPytm | UiCommand::Import(_) => format!("Import {label}"),
            UiCommand::Export(_) => format!("Export {label}"),
            UiCommand::ToggleGrid | UiCommand::ToggleTable | UiCommand::ToggleDark => format!("Toggle {}", label.to_lowercase()),
            UiCommand::TrackerSettings => "Tickets: tracker settings".to_owned(),
            _ => label,
        }
    }

    /// Its keyboard shortcuts, the one menus show first. Copy, Cut and Paste arrive as the
    /// system's clipboard events, so they are listed for the menus only.
    pub fn shortcuts(self) -> &'static [KeyboardShortcut] {
        use UiCommand::*;
        match self {
            New => const { &[sc(CMD, Key::N)] },
            Open => const { &[sc(CMD, Key::O)] },
            Save => const { &[sc(CMD, Key::S)] },
            SaveAs => const { &[sc(CMD_SHIFT, Key::S)] },
            Quit => const { &[sc(CMD, Key::Q)] },
            Undo => const { &[sc(CMD, Key::Z)] },
            Redo => const { &[sc(CMD_SHIFT, Key::Z), sc(CMD, Key::Y)] },
            Cut => const { &[sc(CMD, Key::X)] },
            Copy => const { &[sc(CMD, Key::C)] },
            Paste => const { &[sc(CMD, Key::V)] },
            Duplicate => const { &[sc(CMD, Key::D)] },
            Delete => const { &[sc(Modifiers::NONE, Key::Delete), sc(Modifiers::NONE, Key::Backspace)] },
            SelectAll => const { &[sc(CMD, Key::A)] },
            SelectNone => const { &[sc(Modifiers::NONE, Key::Escape)] },
            ZoomIn => const { &[sc(CMD, Key::Equals), sc(CMD, Key::Plus)] },
            ZoomOut => const { &[sc(CMD, Key::Minus)] },
            Fit => const { &[sc(CMD, Key::Num0)] },
            AutoLayout => const { &[sc(CMD, Key::L)] },
            CommandPalette => const { &[sc(CMD, Key::K), sc(CMD_SHIFT, Key::P)] },
            NextElement => const { &[sc(Modifiers::NONE, Key::Tab)] },
            PreviousElement => const { &[sc(Modifiers::SHIFT, Key::Tab)] },
            EditSelection => const { &[sc(Modifiers::NONE, Key::Enter)] },
            Nudge { dx: -1, fine: false, .. } => const { &[sc(Modifiers::NONE, Key::ArrowLeft)] },
            Nudge { dx: 1, fine: false, .. } => const { &[sc(Modifiers::NONE, Key::ArrowRight)] },
            Nudge { dy: -1, fine: false, .. } => const { &[sc(Modifiers::NONE, Key::ArrowUp)] },
            Nudge { dy: 1, fine: false, .. } => const { &[sc(Modifiers::NONE, Key::ArrowDown)] },
            Nudge { dx: -1, fine: true, .. } => const { &[sc(Modifiers::SHIFT, Key::ArrowLeft)] },
            Nudge { dx: 1, fine: true, .. } => const { &[sc(Modifiers::SHIFT, Key::ArrowRight)] },
            Nudge { dy: -1, fine: true, .. } => const { &[sc(Modifiers::SHIFT, Key::ArrowUp)] },
            Nudge { dy: 1, fine: true, .. } => const { &[sc(Modifiers::SHIFT, Key::ArrowDown)] },
            _ => &[],
        }
    }

    /// True for shortcuts that act even while a text field has the keyboard; the others
    /// (undo, select all, delete) belong to the text field then.
    fn acts_while_typing(self) -> bool {
        use UiCommand::*;
        matches!(self, New | Open | Save | SaveAs | Quit | ZoomIn | ZoomOut | Fit | AutoLayout | CommandPalette)
    }

    /// True for the View menu's switches (shown as check boxes).
    fn is_toggle(self) -> bool {
        matches!(self, UiCommand::ToggleGrid | UiCommand::ToggleTable | UiCommand::ToggleDark)
    }
}

/// The import formats of File → Import, with their labels.
const IMPORTS: &[(&str, ImportFormat)] = &[
    ("Microsoft TMT (.tm7)…", ImportFormat::Tm7),
    ("Threat Dragon JSON…", ImportFormat::ThreatDragon),
    ("Open Threat Model (OTM)…", ImportFormat::Otm),
    ("Threat Model Library (TM-BOM)…", ImportFormat::TmBom),
];

impl ThreatmapApp {
    /// True if `cmd` can run now (menus grey it out, the palette leaves it out otherwise).
    pub fn can_run(&self, cmd: UiCommand) -> bool {
        use UiCommand::*;
        match cmd {
            Undo => self.doc.can_undo(),
            Redo => self.doc.can_redo(),
            Cut | Copy | Duplicate | Delete | SelectNone | Nudge { .. } | EditSelection => !self.selection.is_empty(),
            Paste => self.clipboard.is_some(),
            ClearBaseline => self.baseline.is_some(),
            AddFlow => self.flow_ends().is_some(),
            CreateTickets => {
                self.has_tracker() && self.handoff.job.is_none() && (!self.table_selection.is_empty() || self.focus_finding.is_some())
            }
            SyncTickets => self.has_tracker() && self.handoff.job.is_none() && self.has_tickets(),
            _ => true,
        }
    }

    /// The state of a switch command.
    fn is_on(&self, cmd: UiCommand) -> bool {
        match cmd {
            UiCommand::ToggleGrid => self.canvas.grid,
            UiCommand::ToggleTable => self.show_table,
            UiCommand::ToggleDark => self.dark,
            _ => false,
        }
    }

    /// Runs `cmd` (if it can run now).
    pub fn run(&mut self, cmd: UiCommand, ctx: &egui::Context) {
        use UiCommand::*;
        if !self.can_run(cmd) {
            return;
        }
        match cmd {
            New => self.request(Pending::New),
            NewFromTemplate(name) => self.request(Pending::NewFromTemplate(name)),
            Open | ImportPytm => self.request(Pending::Open(None)),
            Save => self.save(),
            SaveAs => self.ask_file(Purpose::SaveAs),
            Import(format) => self.request(Pending::Import(format)),
            CompareBaseline => self.ask_file(Purpose::Baseline),
            ClearBaseline => self.baseline = None,
            Export(kind) => self.ask_file(Purpose::Export(kind)),
            Quit => self.request(Pending::Quit),
            Undo => {
                self.doc.undo();
                self.status = "Undone".to_owned();
            }
            Redo => {
                self.doc.redo();
                self.status = "Redone".to_owned();
            }
            Cut => {
                self.copy(ctx);
                self.delete_selection();
            }
            Copy => self.copy(ctx),
            Paste => {
                if let Some(text) = self.clipboard.clone() {
                    self.paste(&text);
                }
            }
            Duplicate => self.duplicate(),
            Delete => self.delete_selection(),
            SelectAll => self.select_all(),
            SelectNone => self.selection.clear(),
            ZoomIn => self.canvas.zoom_by(1.25),
            ZoomOut => self.canvas.zoom_by(0.8),
            Fit => self.canvas.fit_requested = true,
            ToggleGrid => self.canvas.grid = !self.canvas.grid,
            ToggleTable => self.show_table = !self.show_table,
            ToggleDark => self.dark = !self.dark,
            AutoLayout => self.auto_layout(),
            RulePacks => self.show_packs = true,
            Validate => {
                self.refresh();
                self.status = if self.cache.messages.is_empty() {
                    "The model is valid".to_owned()
                } else {
                    format!("{} message(s): see Messages", self.cache.messages.len())
                };
                self.show_table = true;
            }
            CommandPalette => self.palette = Some(Palette::default()),
            OpenPortfolio => self.ask_file(Purpose::Portfolio),
            TrackerSettings => self.handoff.show_settings = true,
            CreateTickets => self.create_tickets(ctx),
            SyncTickets => self.sync_tickets(ctx),
            Nudge { dx, dy, fine } => {
                let step = if fine { 1.0 } else { crate::canvas::GRID };
                let (d, selection) = (self.canvas.diagram, self.selection.clone());
                let delta = egui::vec2(f32::from(dx) * step, f32::from(dy) * step);
                self.doc.edit(|m| crate::document::move_by(m, d, &selection, delta));
            }
            NextElement => self.step_selection(1),
            PreviousElement => self.step_selection(-1),
            EditSelection => self.focus_name_field = true,
            Add(kind) => {
                let d = self.canvas.diagram;
                let centre = self.canvas.canvas_from_screen(self.canvas.screen_rect.center());
                let at = crate::document::spot_near(&self.doc.model, d, centre, crate::document::default_size(kind));
                let mut id = String::new();
                self.doc.edit(|m| id = crate::document::add_element(m, d, kind, at));
                self.select_new(id);
            }
            AddFlow => {
                if let Some((source, sink)) = self.flow_ends() {
                    let mut id = String::new();
                    self.doc.edit(|m| id = crate::document::add_flow(m, &source, &sink));
                    self.select_new(id);
                }
            }
        }
    }

    /// The ends of the flow [`UiCommand::AddFlow`] would draw: the node selected before, and
    /// the one selected now.
    fn flow_ends(&self) -> Option<(String, String)> {
        let node = |id: &str| self.doc.model.elements.iter().any(|e| e.id == id && e.kind.is_node() && e.kind != Kind::Boundary);
        let [sink] = self.selection.iter().collect::<Vec<_>>()[..] else { return None };
        let source = self.selected_before.as_ref()?;
        (source != sink && node(source) && node(sink)).then(|| (source.clone(), sink.clone()))
    }

    /// Gives the finding `key` a status (one undo step, recorded in its history) and opens it
    /// in the inspector, the keyboard in its justification where the status needs one.
    pub fn set_status(&mut self, key: &str, status: threatmap_core::lifecycle::Status) {
        let who = threatmap_core::lifecycle::current_user();
        self.doc.edit(|m| m.decisions.entry(key.to_owned()).or_default().set_status(status, &who, ""));
        self.focus_finding = Some(key.to_owned());
        // A reason is wanted: for setting a finding aside, and for reopening one whose ticket the
        // developers closed (the reason goes on the ticket).
        let needs = self.doc.model.decisions.get(key).is_some_and(|d| {
            d.missing_justification()
                || (d.tracked.as_ref().is_some_and(|t| t.done)
                    && d.status.is_open()
                    && d.status != threatmap_core::lifecycle::Status::FixReported)
        });
        self.focus_triage = needs;
        self.status =
            if needs { format!("{key}: {}; say why in its justification", status.label()) } else { format!("{key}: {}", status.label()) };
    }

    /// Selects what was just added and puts the keyboard in its name field.
    fn select_new(&mut self, id: String) {
        self.selection = std::iter::once(id.clone()).collect();
        self.canvas.show = Some((id, crate::canvas::Show::IfHidden));
        self.focus_name_field = true;
    }

    /// Selects the element `by` places after (or before) the selected one among those the
    /// diagram shown draws, in model order, and keeps it in view.
    fn step_selection(&mut self, by: isize) {
        let m = &self.doc.model;
        let shown: Vec<&str> =
            m.elements.iter().zip(m.shown_on(self.canvas.diagram)).filter(|(_, on)| *on).map(|(e, _)| e.id.as_str()).collect();
        if shown.is_empty() {
            return;
        }
        let n = shown.len() as isize;
        let next = match shown.iter().position(|id| self.selection.contains(*id)) {
            Some(k) => (k as isize + by).rem_euclid(n),
            None if by > 0 => 0,
            None => n - 1,
        };
        let id = shown[next as usize].to_owned();
        self.selection = std::iter::once(id.clone()).collect();
        self.canvas.show = Some((id, crate::canvas::Show::IfHidden));
    }

    /// A menu entry for `cmd`: a button with its shortcut (a check box for a switch), greyed
    /// out where it cannot run.
    pub fn command_ui(&mut self, ui: &mut egui::Ui, cmd: UiCommand) {
        if cmd.is_toggle() {
            let mut on = self.is_on(cmd);
            if ui.checkbox(&mut on, cmd.label()).changed() {
                self.run(cmd, ui.ctx());
            }
            return;
        }
        let mut button = egui::Button::new(cmd.label());
        if let Some(s) = cmd.shortcuts().first() {
            button = button.shortcut_text(ui.ctx().format_shortcut(s));
        }
        if ui.add_enabled(self.can_run(cmd), button).clicked() {
            self.run(cmd, ui.ctx());
        }
    }

    /// The menu entries of `cmds`, in order.
    pub fn commands_ui(&mut self, ui: &mut egui::Ui, cmds: &[UiCommand]) {
        for &c in cmds {
            self.command_ui(ui, c);
        }
    }

    /// Runs the commands whose shortcut was pressed this frame.
    pub fn shortcuts(&mut self, ctx: &egui::Context) {
        let typing = ctx.egui_wants_keyboard_input() || self.keyboard_was_taken;
        let mut bound: Vec<(KeyboardShortcut, UiCommand)> =
            UiCommand::all().into_iter().flat_map(|c| c.shortcuts().iter().map(move |s| (*s, c))).collect();
        // egui matches Ctrl+S when Ctrl+Shift+S is pressed: the shortcuts with more modifiers
        // go first, so they are consumed before the shorter ones see them.
        bound.sort_by_key(|(s, _)| std::cmp::Reverse(s.modifiers.shift as u8 + s.modifiers.alt as u8));
        for (s, cmd) in bound {
            if matches!(cmd, UiCommand::Cut | UiCommand::Copy | UiCommand::Paste) || (typing && !cmd.acts_while_typing()) {
                continue;
            }
            // Tab and the arrows belong to the canvas only while nothing has the keyboard (egui
            // moves the focus between widgets with them otherwise).
            if matches!(s.logical_key, Key::Tab | Key::ArrowLeft | Key::ArrowRight | Key::ArrowUp | Key::ArrowDown | Key::Enter)
                && !self.can_run(cmd)
            {
                continue;
            }
            if ctx.input_mut(|i| i.consume_shortcut(&s)) {
                if s.logical_key == Key::Tab {
                    ctx.memory_mut(|m| m.move_focus(egui::FocusDirection::None));
                }
                self.run(cmd, ctx);
            }
        }
        if typing {
            return;
        }
        // Copy, cut and paste arrive as events.
        let events = ctx.input(|i| i.events.clone());
        for e in events {
            match e {
                egui::Event::Copy => self.run(UiCommand::Copy, ctx),
                egui::Event::Cut => self.run(UiCommand::Cut, ctx),
                egui::Event::Paste(text) => self.paste(&text),
                _ => {}
            }
        }
    }
}

/// The command palette's state: what was typed and which match is highlighted.
#[derive(Debug, Clone, Default)]
pub struct Palette {
    /// The search text.
    pub query: String,
    /// The highlighted match (0 is the best).
    pub selected: usize,
    /// The frame it opened in: the click that opened it does not close it.
    pub opened_in_frame: Option<u64>,
    /// Choosing a status for this finding (by key) rather than a command.
    pub triage: Option<String>,
}

/// One match in the palette.
#[derive(Debug, Clone, PartialEq)]
pub enum PaletteItem {
    /// A command that can run now.
    Command(UiCommand),
    /// An element to jump to, by id.
    Element(String),
    /// A finding of the selected element to decide about, by key.
    Finding(String),
    /// The status to give the finding being triaged.
    Status(threatmap_core::lifecycle::Status),
}

/// The palette's matches for `query`, best first: the commands that can run now, and every
/// element by kind and name.
pub fn palette_matches(app: &ThreatmapApp, query: &str) -> Vec<(PaletteItem, String)> {
    if app.palette.as_ref().is_some_and(|p| p.triage.is_some()) {
        let items = threatmap_core::lifecycle::Status::ALL.map(|s| (PaletteItem::Status(s), s.label().to_owned()));
        return fuzzy(query, items.into_iter().collect());
    }
    let mut items: Vec<(PaletteItem, String)> = UiCommand::all()
        .into_iter()
        .filter(|c| app.can_run(*c) && *c != UiCommand::CommandPalette)
        .map(|c| (PaletteItem::Command(c), c.palette_text()))
        .collect();
    items.extend(app.doc.model.elements.iter().map(|e| {
        let name = threatmap_core::model::one_line(&e.name);
        (PaletteItem::Element(e.id.clone()), format!("Go to {} {name}", e.kind.label()))
    }));
    // The selected element's findings, to triage from the keyboard.
    if let [id] = app.selection.iter().collect::<Vec<_>>()[..] {
        let i = app.doc.model.index_of(id);
        let a = i.map(|i| app.element_analysis(i as u32));
        for (a, f) in a.iter().flat_map(|a| a.findings.iter().map(move |f| (a, f))) {
            let title = threatmap_core::model::one_line(&a.rule(f).title_for(&a.prepared, f.element));
            items.push((PaletteItem::Finding(a.key(f)), format!("Triage {} {title}", a.rule(f).id)));
        }
    }
    fuzzy(query, items)
}

/// `items` that match `query`, best first (ties keep their order).
fn fuzzy(query: &str, items: Vec<(PaletteItem, String)>) -> Vec<(PaletteItem, String)> {
    let pattern = Pattern::parse(query, CaseMatching::Ignore, Normalization::Smart);
    let mut matcher = nucleo_matcher::Matcher::new(nucleo_matcher::Config::DEFAULT);
    struct Text(PaletteItem, String);
    impl AsRef<str> for Text {
        fn as_ref(&self) -> &str {
            &self.1
        }
    }
    pattern.match_list(items.into_iter().map(|(i, t)| Text(i, t)), &mut matcher).into_iter().map(|(Text(i, t), _)| (i, t)).collect()
}

/// The palette's most matches shown at once.
const PALETTE_ROWS: usize = 12;

/// The command palette window: type to search, Up/Down to choose, Enter to run or jump,
/// Escape to close.
pub fn palette_ui(ctx: &egui::Context, app: &mut ThreatmapApp) {
    let Some(palette) = app.palette.as_ref() else { return };
    let matches = palette_matches(app, &palette.query.clone());
    let Some(mut palette) = app.palette.take() else { return };
    let (up, down, enter, escape) = ctx.input_mut(|i| {
        (
            i.consume_key(Modifiers::NONE, Key::ArrowUp),
            i.consume_key(Modifiers::NONE, Key::ArrowDown),
            i.consume_key(Modifiers::NONE, Key::Enter),
            i.consume_key(Modifiers::NONE, Key::Escape),
        )
    });
    let shown = matches.len().min(PALETTE_ROWS);
    if down && shown > 0 {
        palette.selected = (palette.selected + 1) % shown;
    }
    if up && shown > 0 {
        palette.selected = (palette.selected + shown - 1) % shown;
    }
    palette.selected = palette.selected.min(shown.saturating_sub(1));
    let mut chosen = enter.then(|| matches.get(palette.selected).map(|(i, _)| i.clone())).flatten();
    let mut close = escape || enter;
    let width = (ctx.content_rect().width() * 0.5).clamp(320.0, 640.0);
    let area = egui::Area::new(egui::Id::new("command-palette"))
        .order(egui::Order::Foreground)
        .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 60.0));
    let response = area.show(ctx, |ui| {
        egui::Frame::popup(ui.style()).show(ui, |ui| {
            ui.set_width(width);
            let edit = egui::TextEdit::singleline(&mut palette.query)
                .hint_text(if palette.triage.is_some() {
                    "Type a status: mitigated, accepted, …"
                } else {
                    "Type a command or an element's name"
                })
                .desired_width(f32::INFINITY)
                .id(egui::Id::new("command-palette-query"));
            let r = ui.add(edit);
            r.request_focus();
            if r.changed() {
                palette.selected = 0;
            }
            ui.separator();
            if matches.is_empty() {
                ui.weak("Nothing matches");
            }
            for (k, (item, text)) in matches.iter().take(PALETTE_ROWS).enumerate() {
                let hint = match item {
                    PaletteItem::Command(c) => c.shortcuts().first().map(|s| ctx.format_shortcut(s)).unwrap_or_default(),
                    PaletteItem::Element(id) => open_findings_text(app.cache.badge_of(&app.doc.model, id)),
                    PaletteItem::Finding(key) => app.doc.model.decisions.get(key).map(|d| d.status).unwrap_or_default().label().to_owned(),
                    PaletteItem::Status(_) => String::new(),
                };
                let row = ui.horizontal(|ui| {
                    let r = ui.add(egui::Button::selectable(k == palette.selected, text.as_str()).truncate());
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| ui.weak(hint));
                    r
                });
                if row.inner.clicked() {
                    chosen = Some(item.clone());
                    close = true;
                }
            }
            if matches.len() > PALETTE_ROWS {
                ui.weak(format!("{} more: type more of the name", matches.len() - PALETTE_ROWS));
            }
        });
    });
    let frame = ctx.cumulative_frame_nr();
    if *palette.opened_in_frame.get_or_insert(frame) != frame && response.response.clicked_elsewhere() {
        close = true;
    }
    // Choosing a finding asks for its status next, in the palette.
    if let Some(PaletteItem::Finding(key)) = &chosen {
        palette = Palette { triage: Some(key.clone()), ..Palette::default() };
        close = false;
    }
    let triaged = palette.triage.clone();
    if !close {
        app.palette = Some(palette);
    }
    match chosen {
        Some(PaletteItem::Command(c)) => app.run(c, ctx),
        Some(PaletteItem::Element(id)) => app.go_to(&id),
        Some(PaletteItem::Finding(key)) => app.focus_finding = Some(key),
        Some(PaletteItem::Status(status)) => {
            if let Some(key) = triaged {
                app.set_status(&key, status);
            }
        }
        None => {}
    }
}

/// "3 open findings, worst High" for the palette and screen readers, from the badge counts.
pub fn open_findings_text(badge: Option<&Badge>) -> String {
    match badge {
        Some(b) if b.count > 0 => format!("{} open finding{}, worst {}", b.count, if b.count == 1 { "" } else { "s" }, b.worst.name()),
        _ => "no open findings".to_owned(),
    }
}
