//! The panels around the canvas: the stencil palette, the inspector (properties and findings
//! of the selection), the findings table with the messages list, and the rule packs window.

use std::collections::{BTreeMap, BTreeSet};

use egui::{Color32, RichText};
use threatmap_core::attr::{EnumValue, Kind, Ty, Value};
use threatmap_core::engine::{Analysis, Finding};
use threatmap_core::model::{Controls, Element, Model};
use threatmap_core::rules::{BUILTIN_PACKS, Severity, packs_for};

use crate::gui::{FindingsCache, ThreatmapApp};

/// The element kinds offered in the palette, in palette order (flows are drawn, not dropped).
pub fn stencils() -> impl Iterator<Item = Kind> {
    Kind::ALL.into_iter().filter(|k| !matches!(k, Kind::Asset | Kind::Dataflow))
}

/// The stencil palette: drag a stencil onto the canvas.
pub fn palette_ui(ui: &mut egui::Ui) {
    ui.add_space(6.0);
    ui.label(RichText::new("Stencils").strong());
    ui.add_space(4.0);
    let ink = ui.visuals().text_color();
    let fill = ui.visuals().extreme_bg_color;
    for kind in stencils() {
        ui.dnd_drag_source(egui::Id::new(("stencil", kind.name())), kind, |ui| {
            ui.horizontal(|ui| {
                let (r, _) = ui.allocate_exact_size(egui::vec2(30.0, 20.0), egui::Sense::hover());
                if kind == Kind::Boundary {
                    ui.painter().rect_stroke(
                        r.shrink(2.0),
                        3.0,
                        egui::Stroke::new(1.2, Color32::from_rgb(220, 38, 38)),
                        egui::StrokeKind::Middle,
                    );
                } else {
                    crate::canvas::node_shape(ui.painter(), kind, r.shrink(2.0), fill, egui::Stroke::new(1.2, ink), 0.4);
                }
                ui.add(egui::Label::new(kind.label()).selectable(false));
            });
        })
        .response
        .on_hover_text("Drag onto the canvas");
        ui.add_space(2.0);
    }
}

/// Properties and findings of the selection.
pub fn inspector_ui(ui: &mut egui::Ui, app: &mut ThreatmapApp) {
    // Another selection shows from its top (its name first), unless a badge asked for its
    // findings.
    let shown_id = ui.id().with("inspector-shows");
    let shows: Option<BTreeSet<String>> = ui.data(|d| d.get_temp(shown_id));
    let mut area = egui::ScrollArea::vertical().auto_shrink([false, false]);
    if shows.as_ref() != Some(&app.selection) {
        ui.data_mut(|d| d.insert_temp(shown_id, app.selection.clone()));
        area = area.vertical_scroll_offset(0.0);
    }
    area.show(ui, |ui| {
        // Nothing may be wider than the panel: egui would widen the panel under the canvas,
        // which hides its left part. Text wraps, fields and combos fit the width.
        let width = ui.available_width();
        ui.set_max_width(width);
        let style = ui.style_mut();
        style.wrap_mode = Some(egui::TextWrapMode::Wrap);
        style.spacing.text_edit_width = (width * 0.42).clamp(70.0, 150.0);
        style.spacing.combo_width = style.spacing.text_edit_width;
        let sel: Vec<String> = app.selection.iter().cloned().collect();
        match sel.as_slice() {
            [] => model_ui(ui, app),
            [id] => {
                if app.doc.model.elements.iter().any(|e| &e.id == id) {
                    element_ui(ui, app, id);
                    ui.separator();
                    findings_ui(ui, app, id);
                } else {
                    app.selection.clear();
                }
            }
            many => {
                ui.heading(format!("{} selected", many.len()));
                ui.label("Select one element to edit its properties.");
            }
        }
    });
}

/// Applies what was typed into one field as one undo step for the whole typing (keystrokes into
/// the same field coalesce until it loses focus).
fn typed(app: &mut ThreatmapApp, r: &egui::Response, field: &str, f: impl FnOnce(&mut Model)) {
    if r.changed() {
        app.doc.edit_field(field, f);
    }
    if r.lost_focus() || r.drag_stopped() {
        app.doc.end_field_edit();
    }
}

fn model_ui(ui: &mut egui::Ui, app: &mut ThreatmapApp) {
    ui.heading("Threat model");
    let mut name = app.doc.model.name.clone();
    let l = ui.label("Name");
    let r = ui.add(egui::TextEdit::singleline(&mut name).desired_width(f32::INFINITY)).labelled_by(l.id);
    typed(app, &r, "model.name", |m| m.name = name);
    let mut desc = app.doc.model.description.clone();
    let l = ui.label("Description");
    let r = ui.add(egui::TextEdit::multiline(&mut desc).desired_rows(3).desired_width(f32::INFINITY)).labelled_by(l.id);
    typed(app, &r, "model.description", |m| m.description = desc);
    let mut ordered = app.doc.model.is_ordered;
    if ui.checkbox(&mut ordered, "Number the dataflows in order").changed() {
        app.doc.edit(|m| m.is_ordered = ordered);
    }
    let mut merge = app.doc.model.merge_responses;
    if ui.checkbox(&mut merge, "Draw responses with their requests").changed() {
        app.doc.edit(|m| m.merge_responses = merge);
    }
    ui.add_space(8.0);
    ui.label(RichText::new("How to draw").strong());
    ui.label("Drag stencils from the palette. Drag from a node's blue handle to another node for a dataflow. Drop elements inside a boundary to put them in it. Select something to see its findings. Ctrl+K finds any command or element; from the keyboard, \"Add Process\" and the like draw, Tab selects, the arrows move.");
    crate::attachments::attachments_ui(ui, app);
}

/// The value of an attribute for an editor.
fn value_text(v: &Value<'_>) -> String {
    match v {
        Value::None => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Str(s) => (*s).to_owned(),
        Value::Enum(e) => e.member().to_owned(),
        Value::Levels(l) => l.iter().map(u32::to_string).collect::<Vec<_>>().join(", "),
        Value::Strs(s) => s.join(", "),
        _ => String::new(),
    }
}

/// Edits one attribute (JSON value) of element `id`, or clears it with `None`.
fn set_attr(model: &mut Model, id: &str, name: &str, value: Option<serde_json::Value>, control: bool) {
    let Some(e) = model.elements.iter_mut().find(|e| e.id == id) else { return };
    if control {
        if let Some(def) = Controls::attribute(name) {
            match value {
                Some(v) => {
                    let _ = e.controls.set_json(def.key, &v);
                }
                None => e.controls.clear(def.key),
            }
        }
    } else if let Some(def) = Element::attribute(name) {
        match value {
            Some(v) => {
                let _ = e.set_json(def.key, &v);
            }
            None => e.clear(def.key),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn attr_row(
    ui: &mut egui::Ui,
    app: &mut ThreatmapApp,
    id: &str,
    name: &'static str,
    ty: Ty,
    current: Value<'_>,
    is_set: bool,
    doc: String,
    control: bool,
) {
    let label = if is_set { RichText::new(name).strong() } else { RichText::new(name) };
    let mut change: Option<Option<serde_json::Value>> = None;
    if ty == Ty::Bool {
        // The attribute name is the checkbox's label: click it to toggle.
        let mut b = matches!(current, Value::Bool(true));
        if ui.checkbox(&mut b, label).on_hover_text(&doc).changed() {
            change = Some(Some(serde_json::Value::Bool(b)));
        }
        ui.label(if is_set { "" } else { "default" });
        ui.end_row();
        if let Some(v) = change {
            app.doc.edit(|m| set_attr(m, id, name, v, control));
        }
        return;
    }
    ui.label(label).on_hover_text(&doc);
    // Typing and dragging a value are one undo step per field.
    let mut typing: Option<egui::Response> = None;
    match ty {
        Ty::Int => {
            let mut n = if let Value::Int(n) = current { n } else { 0 };
            let r = ui.add(egui::DragValue::new(&mut n)).on_hover_text(&doc);
            if r.changed() {
                change = Some(Some(serde_json::json!(n)));
            }
            typing = Some(r);
        }
        Ty::Enum(t) => {
            let cur = value_text(&current);
            egui::ComboBox::from_id_salt((id, name)).selected_text(&cur).show_ui(ui, |ui| {
                for m in EnumValue::member_names(t) {
                    if ui.selectable_label(cur == m, m).clicked() {
                        change = Some(Some(serde_json::Value::String(m.to_owned())));
                    }
                }
            });
        }
        Ty::Str => {
            let mut s = value_text(&current);
            let r = ui.text_edit_singleline(&mut s).on_hover_text(&doc);
            if r.changed() {
                change = Some(Some(serde_json::Value::String(s)));
            }
            typing = Some(r);
        }
        Ty::Levels => {
            let mut s = value_text(&current);
            let r = ui.text_edit_singleline(&mut s).on_hover_text(&doc);
            if r.changed() {
                let levels: Vec<u32> = s.split(',').filter_map(|x| x.trim().parse().ok()).collect();
                change = Some(Some(serde_json::json!(levels)));
            }
            typing = Some(r);
        }
        Ty::Strs => {
            let mut s = value_text(&current);
            let r = ui.text_edit_singleline(&mut s).on_hover_text(&doc);
            if r.changed() {
                let items: Vec<String> = s.split(',').map(|x| x.trim().to_owned()).filter(|x| !x.is_empty()).collect();
                change = Some(Some(serde_json::json!(items)));
            }
            typing = Some(r);
        }
        _ => {
            ui.label(value_text(&current));
        }
    }
    ui.end_row();
    match (change, typing) {
        (Some(v), Some(r)) => {
            let field = format!("{}.{name}@{id}", if control { "controls" } else { "attr" });
            typed(app, &r, &field, |m| set_attr(m, id, name, v, control));
        }
        (Some(v), None) => app.doc.edit(|m| set_attr(m, id, name, v, control)),
        (None, Some(r)) => typed(app, &r, "", |_| {}),
        (None, None) => {}
    }
}

fn element_ui(ui: &mut egui::Ui, app: &mut ThreatmapApp, id: &str) {
    let Some(e) = app.doc.model.elements.iter().find(|e| e.id == id).cloned() else { return };
    ui.heading(&e.name);
    ui.label(RichText::new(format!("{} · id {}", e.kind.name(), e.id)).weak());
    ui.add_space(4.0);
    let mut name = e.name.clone();
    let l = ui.label("Name");
    // A name written on several lines (Threat Dragon's and TMT's often are) is edited as
    // written; a one-line field would show its line breaks as boxes.
    let field = match name.lines().count() {
        0 | 1 => egui::TextEdit::singleline(&mut name),
        n => egui::TextEdit::multiline(&mut name).desired_rows(n),
    };
    let r = ui.add(field.desired_width(f32::INFINITY)).labelled_by(l.id);
    if std::mem::take(&mut app.focus_name_field) {
        r.request_focus();
        r.scroll_to_me(Some(egui::Align::Center));
    }
    typed(app, &r, &format!("name@{id}"), |m| {
        if let Some(x) = m.elements.iter_mut().find(|x| x.id == id) {
            x.name = name;
        }
    });
    let mut desc = e.description.clone().unwrap_or_default();
    let l = ui.label("Description");
    let r = ui.add(egui::TextEdit::multiline(&mut desc).desired_rows(2).desired_width(f32::INFINITY)).labelled_by(l.id);
    typed(app, &r, &format!("description@{id}"), |m| {
        if let Some(x) = m.elements.iter_mut().find(|x| x.id == id) {
            x.description = Some(desc).filter(|d| !d.is_empty());
        }
    });
    let mut in_scope = e.in_scope();
    if ui.checkbox(&mut in_scope, "In scope").changed() {
        app.doc.edit(|m| {
            if let Some(x) = m.elements.iter_mut().find(|x| x.id == id) {
                x.in_scope = if in_scope { None } else { Some(false) };
            }
        });
    }
    if let Some(b) = &e.in_boundary {
        let bname = app.doc.model.elements.iter().find(|x| &x.id == b).map(|x| x.name.clone()).unwrap_or_default();
        ui.label(format!("Inside boundary: {bname}"));
    }
    if e.kind == Kind::Boundary {
        let members: Vec<String> = app
            .doc
            .model
            .elements
            .iter()
            .filter(|x| x.in_boundary.as_deref() == Some(id))
            .map(|x| threatmap_core::model::one_line(&x.name))
            .collect();
        if members.is_empty() {
            ui.label(RichText::new("Contains nothing yet: drop elements inside it.").weak());
        } else {
            ui.label(format!("Contains ({}): {}", members.len(), members.join(", ")));
        }
    }
    if app.doc.model.diagram_count() > 1 {
        element_diagrams_ui(ui, app, &e);
    }
    if e.kind == Kind::Dataflow {
        flow_ends_ui(ui, app, &e);
    }
    // Data items.
    if e.kind != Kind::Boundary && !app.doc.model.data.is_empty() {
        egui::CollapsingHeader::new(format!("Data ({})", e.data.len())).id_salt("data").show(ui, |ui| {
            for d in app.doc.model.data.clone() {
                let mut on = e.data.contains(&d.id);
                if ui.checkbox(&mut on, &d.name).on_hover_text(d.description.clone().unwrap_or_default()).changed() {
                    app.doc.edit(|m| {
                        if let Some(x) = m.elements.iter_mut().find(|x| x.id == id) {
                            if on {
                                x.data.push(d.id.clone());
                            } else {
                                x.data.retain(|y| y != &d.id);
                            }
                        }
                    });
                }
            }
        });
    }
    // The search belongs to the element it was typed for: another element starts with all its
    // attributes shown.
    let searched_for = ui.id().with("property-search-for");
    if ui.data(|d| d.get_temp::<String>(searched_for)).as_deref() != Some(id) {
        app.property_search.clear();
        ui.data_mut(|d| d.insert_temp(searched_for, id.to_owned()));
    }
    ui.horizontal(|ui| {
        let label = ui.label("Search");
        ui.add(egui::TextEdit::singleline(&mut app.property_search).hint_text("attributes and controls")).labelled_by(label.id);
    });
    let q = app.property_search.to_lowercase();
    let matches = |name: &str, doc: &str| q.is_empty() || name.to_lowercase().contains(&q) || doc.to_lowercase().contains(&q);
    let skip = [
        "name",
        "description",
        "inScope",
        "source",
        "sink",
        "inBoundary",
        "responseTo",
        "data",
        "controls",
        "overrides",
        "assumptions",
        "properties",
    ];
    threats_ui(ui, app, &e);
    egui::CollapsingHeader::new("Attributes").id_salt("attrs").default_open(true).show(ui, |ui| {
        egui::Grid::new("attr-grid").num_columns(2).striped(true).max_col_width(ui.available_width() * 0.5).show(ui, |ui| {
            for def in Element::ATTRIBUTES {
                if !def.kinds.contains(e.kind) || skip.contains(&def.name) {
                    continue;
                }
                let doc = def.doc_text();
                if !matches(def.name, &doc) {
                    continue;
                }
                let current = e.get(def.key, e.kind);
                attr_row(ui, app, id, def.name, def.ty, current, e.is_set(def.key), doc, false);
            }
        });
    });
    if e.kind != Kind::Boundary {
        egui::CollapsingHeader::new("Controls").id_salt("controls").open((!q.is_empty()).then_some(true)).show(ui, |ui| {
            // The team's own controls first: the declared ones are many.
            custom_values_ui(ui, app, &e, CustomValues::Controls);
            egui::Grid::new("controls-grid").num_columns(2).striped(true).max_col_width(ui.available_width() * 0.5).show(ui, |ui| {
                for def in Controls::ATTRIBUTES {
                    let doc = def.doc_text();
                    if !matches(def.name, &doc) {
                        continue;
                    }
                    let current = e.controls.get(def.key, e.kind);
                    attr_row(ui, app, id, def.name, def.ty, current, e.controls.is_set(def.key), doc, true);
                }
            });
        });
    }
    overrides_ui(ui, app, &e);
    custom_values_ui(ui, app, &e, CustomValues::Properties);
    if !e.assumptions.is_empty() {
        egui::CollapsingHeader::new(format!("Assumptions ({})", e.assumptions.len())).id_salt("assumptions").show(ui, |ui| {
            for a in &e.assumptions {
                ui.label(format!("“{}” excludes {}", a.name, a.exclude.join(", "))).on_hover_text(&a.description);
            }
        });
    }
}

/// Edits one element with an undo step.
fn edit_element(app: &mut ThreatmapApp, id: &str, f: impl FnOnce(&mut Element)) {
    app.doc.edit(|m| {
        if let Some(x) = m.elements.iter_mut().find(|x| x.id == id) {
            f(x);
        }
    });
}

/// Threats written by hand on this element: each is a finding like the rule packs' (badges,
/// table, triage, reports, exports), with the title, severity, STRIDE categories, description,
/// mitigations and references typed here.
fn threats_ui(ui: &mut egui::Ui, app: &mut ThreatmapApp, e: &Element) {
    use threatmap_core::model::Threat;
    use threatmap_core::rules::Stride;
    let header = egui::CollapsingHeader::new(format!("Threats written here ({})", e.threats.len()))
        .id_salt("threats")
        .default_open(!e.threats.is_empty());
    header.show(ui, |ui| {
        let eid = e.id.clone();
        for t in &e.threats {
            let tid = t.id.clone();
            let edit = |app: &mut ThreatmapApp, f: &dyn Fn(&mut Threat)| {
                app.doc.edit(|m| {
                    if let Some(t) = threat_mut(m, &eid, &tid) {
                        f(t);
                    }
                });
            };
            let field = |name: &str| format!("threat.{name}.{}@{}", t.id, e.id);
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.set_width(ui.available_width());
                // Ids from other tools can be long (Threat Dragon's are UUIDs): cut to the panel.
                ui.add(egui::Label::new(RichText::new(&t.id).strong()).truncate()).on_hover_text(&t.id);
                ui.horizontal(|ui| {
                    let sev = Severity::parse(&t.severity).map_or_else(|| t.severity.clone(), |s| s.name().to_owned());
                    let l = ui.label("Severity");
                    let combo = egui::ComboBox::from_id_salt(("threat-sev", &t.id)).selected_text(&sev).show_ui(ui, |ui| {
                        for s in Severity::ALL.iter().rev() {
                            if ui.selectable_label(sev == s.name(), s.name()).clicked() {
                                let v = s.name().to_owned();
                                edit(app, &|t| t.severity = v.clone());
                            }
                        }
                    });
                    combo.response.labelled_by(l.id);
                    if ui.small_button("Delete").on_hover_text("Delete this threat (Undo brings it back)").clicked() {
                        let tid = t.id.clone();
                        edit_element(app, &eid, |x| x.threats.retain(|t| t.id != tid));
                    }
                });
                let mut title = t.title.clone();
                let l = ui.label("Threat title");
                let r = ui.add(egui::TextEdit::singleline(&mut title).desired_width(f32::INFINITY)).labelled_by(l.id);
                // A threat just added takes the keyboard in its title.
                let new_key = egui::Id::new("new-threat");
                if ui.data(|d| d.get_temp::<String>(new_key)).as_deref() == Some(t.id.as_str()) {
                    ui.data_mut(|d| d.remove::<String>(new_key));
                    r.request_focus();
                    r.scroll_to_me(Some(egui::Align::Center));
                }
                let (tid, id) = (t.id.clone(), e.id.clone());
                typed(app, &r, &field("title"), move |m| {
                    if let Some(t) = threat_mut(m, &id, &tid) {
                        t.title = title;
                    }
                });
                ui.horizontal_wrapped(|ui| {
                    for (name, s) in Stride::ALL.iter().map(|s| (s.name(), *s)) {
                        let mut checked = t.stride.iter().any(|c| Stride::parse(c) == Some(s));
                        if ui.checkbox(&mut checked, name).changed() {
                            edit(app, &|t| {
                                t.stride.retain(|c| Stride::parse(c) != Some(s));
                                if checked {
                                    t.stride.push(s.name().to_owned());
                                    t.stride.sort_by_key(|c| Stride::ALL.iter().position(|x| Stride::parse(c) == Some(*x)));
                                }
                            });
                        }
                    }
                });
                let mut desc = t.description.clone();
                let l = ui.label("Threat description");
                let r = ui.add(egui::TextEdit::multiline(&mut desc).desired_rows(2).desired_width(f32::INFINITY)).labelled_by(l.id);
                let (tid, id) = (t.id.clone(), e.id.clone());
                typed(app, &r, &field("description"), move |m| {
                    if let Some(t) = threat_mut(m, &id, &tid) {
                        t.description = desc;
                    }
                });
                let l = ui.label("Mitigations (one per line)");
                let key = ui.id().with(field("mitigations"));
                let (r, mitigations) = list_text_ui(ui, key, t.mitigations.join("\n"), |text| {
                    egui::TextEdit::multiline(text).desired_rows(2).desired_width(f32::INFINITY)
                });
                let r = r.labelled_by(l.id);
                let (tid, id) = (t.id.clone(), e.id.clone());
                typed(app, &r, &field("mitigations"), move |m| {
                    if let Some(t) = threat_mut(m, &id, &tid) {
                        t.mitigations =
                            mitigations.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()).map(str::to_owned).collect();
                    }
                });
                let l = ui.label("References (comma-separated)");
                let key = ui.id().with(field("references"));
                let (r, refs) = list_text_ui(ui, key, t.references.join(", "), |text| {
                    egui::TextEdit::singleline(text).hint_text("CWE-284, CAPEC-122").desired_width(f32::INFINITY)
                });
                let r = r.labelled_by(l.id);
                let (tid, id) = (t.id.clone(), e.id.clone());
                typed(app, &r, &field("references"), move |m| {
                    if let Some(t) = threat_mut(m, &id, &tid) {
                        t.references = refs.split(',').map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned).collect();
                    }
                });
            });
        }
        if ui.button("Add threat").on_hover_text("Write a threat of your own on this element").clicked() {
            let id = app.doc.model.next_threat_id();
            let title = format!("Threat to {}", threatmap_core::model::one_line(&e.name));
            ui.data_mut(|d| d.insert_temp(egui::Id::new("new-threat"), id.clone()));
            edit_element(app, &e.id, |x| x.threats.push(Threat { id, title, severity: "Medium".to_owned(), ..Threat::default() }));
        }
    });
}

/// A text field for a list kept in the model (one entry per line, or comma-separated): while
/// it is being typed in, the field keeps the text as typed (a trailing space or an empty new
/// line would not survive the round trip through the list). Returns the field's response and
/// its text.
fn list_text_ui(
    ui: &mut egui::Ui,
    key: egui::Id,
    from_model: String,
    widget: impl FnOnce(&mut String) -> egui::TextEdit<'_>,
) -> (egui::Response, String) {
    let mut text: String = ui.data(|d| d.get_temp(key)).unwrap_or(from_model);
    let r = ui.add(widget(&mut text));
    if r.has_focus() {
        ui.data_mut(|d| d.insert_temp(key, text.clone()));
    } else {
        ui.data_mut(|d| d.remove::<String>(key));
    }
    (r, text)
}

/// The threat `tid` written on element `eid`.
fn threat_mut<'m>(m: &'m mut Model, eid: &str, tid: &str) -> Option<&'m mut threatmap_core::model::Threat> {
    m.elements.iter_mut().find(|x| x.id == eid)?.threats.iter_mut().find(|t| t.id == tid)
}

/// Overrides: force or amend a threat's finding on this element (pytm's `overrides`).
fn overrides_ui(ui: &mut egui::Ui, app: &mut ThreatmapApp, e: &Element) {
    egui::CollapsingHeader::new(format!("Overrides ({})", e.overrides.len())).id_salt("overrides").show(ui, |ui| {
        ui.label(
            RichText::new("An override forces the threat's finding on this element and can change its severity or record a response.")
                .weak(),
        );
        for (threat, o) in e.overrides.clone() {
            ui.horizontal(|ui| {
                ui.label(RichText::new(&threat).strong());
                let sev = o.severity.clone().unwrap_or_default();
                egui::ComboBox::from_id_salt(("ov-sev", &threat))
                    .selected_text(if sev.is_empty() { "(rule's severity)".to_owned() } else { sev.clone() })
                    .show_ui(ui, |ui| {
                        if ui.selectable_label(sev.is_empty(), "(rule's severity)").clicked() {
                            let t = threat.clone();
                            edit_element(app, &e.id, |x| {
                                if let Some(o) = x.overrides.get_mut(&t) {
                                    o.severity = None;
                                }
                            });
                        }
                        for s in Severity::ALL.iter().rev() {
                            if ui.selectable_label(sev == s.name(), s.name()).clicked() {
                                let (t, v) = (threat.clone(), s.name().to_owned());
                                edit_element(app, &e.id, |x| {
                                    if let Some(o) = x.overrides.get_mut(&t) {
                                        o.severity = Some(v);
                                    }
                                });
                            }
                        }
                    });
                if ui.small_button("Remove").clicked() {
                    let t = threat.clone();
                    edit_element(app, &e.id, |x| {
                        x.overrides.remove(&t);
                    });
                }
            });
            let mut response = o.response.clone().unwrap_or_default();
            ui.horizontal(|ui| {
                let l = ui.label("Response");
                let r = ui.text_edit_singleline(&mut response).labelled_by(l.id);
                let (t, id) = (threat.clone(), e.id.clone());
                typed(app, &r, &format!("override.{threat}@{}", e.id), |m| {
                    if let Some(o) = m.elements.iter_mut().find(|x| x.id == id).and_then(|x| x.overrides.get_mut(&t)) {
                        o.response = Some(response).filter(|r| !r.is_empty());
                    }
                });
            });
        }
        let key = ui.id().with(("new-override", &e.id));
        let mut new: String = ui.data(|d| d.get_temp(key)).unwrap_or_default();
        ui.horizontal(|ui| {
            ui.add(
                egui::TextEdit::singleline(&mut new)
                    .hint_text("threat id, e.g. GEN-INJ-01")
                    .desired_width((ui.available_width() - 110.0).clamp(70.0, 160.0)),
            );
            if ui.add_enabled(!new.trim().is_empty(), egui::Button::new("Add override")).clicked() {
                let t = new.trim().to_owned();
                edit_element(app, &e.id, |x| {
                    x.overrides.entry(t).or_default();
                });
                new.clear();
            }
        });
        ui.data_mut(|d| d.insert_temp(key, new));
    });
}

/// Which of an element's maps of custom values a [`custom_values_ui`] edits.
#[derive(Clone, Copy)]
enum CustomValues {
    /// Custom properties: free key/value pairs for your own conventions and templates (rules
    /// read them as `target.NAME` or `target.prop("NAME")`).
    Properties,
    /// Controls of your own threat library (rules read them as `target.controls.NAME`).
    Controls,
}

impl CustomValues {
    fn of(self, e: &Element) -> &BTreeMap<String, threatmap_core::model::PropValue> {
        match self {
            CustomValues::Properties => &e.properties,
            CustomValues::Controls => &e.controls.custom,
        }
    }

    fn of_mut(self, e: &mut Element) -> &mut BTreeMap<String, threatmap_core::model::PropValue> {
        match self {
            CustomValues::Properties => &mut e.properties,
            CustomValues::Controls => &mut e.controls.custom,
        }
    }

    fn title(self) -> &'static str {
        match self {
            CustomValues::Properties => "Custom properties",
            CustomValues::Controls => "Custom controls",
        }
    }
}

/// Custom properties or controls: named values of the user's own, each yes/no, number or text.
fn custom_values_ui(ui: &mut egui::Ui, app: &mut ThreatmapApp, e: &Element, which: CustomValues) {
    use threatmap_core::model::PropValue;
    let values = which.of(e);
    egui::CollapsingHeader::new(format!("{} ({})", which.title(), values.len())).id_salt(which.title()).show(ui, |ui| {
        for (k, v) in values.clone() {
            ui.horizontal(|ui| {
                ui.label(RichText::new(&k).strong());
                let mut next: Option<PropValue> = None;
                match &v {
                    PropValue::Bool(b) => {
                        let mut b = *b;
                        if ui.checkbox(&mut b, "").changed() {
                            next = Some(PropValue::Bool(b));
                        }
                    }
                    PropValue::Int(n) => {
                        let mut n = *n;
                        if ui.add(egui::DragValue::new(&mut n)).changed() {
                            next = Some(PropValue::Int(n));
                        }
                    }
                    PropValue::Text(t) => {
                        let mut t = t.clone();
                        let r = ui.text_edit_singleline(&mut t);
                        if r.changed() {
                            let (key, id) = (k.clone(), e.id.clone());
                            typed(app, &r, &format!("{}.{k}@{}", which.title(), e.id), |m| {
                                if let Some(x) = m.elements.iter_mut().find(|x| x.id == id) {
                                    which.of_mut(x).insert(key, PropValue::Text(t));
                                }
                            });
                        } else if r.lost_focus() {
                            app.doc.end_field_edit();
                        }
                    }
                }
                if let Some(n) = next {
                    let key = k.clone();
                    edit_element(app, &e.id, |x| {
                        which.of_mut(x).insert(key, n);
                    });
                }
                if ui.small_button("Remove").clicked() {
                    let key = k.clone();
                    edit_element(app, &e.id, |x| {
                        which.of_mut(x).remove(&key);
                    });
                }
            });
        }
        let key = ui.id().with(("new", which.title(), &e.id));
        let mut new: String = ui.data(|d| d.get_temp(key)).unwrap_or_default();
        ui.horizontal(|ui| {
            ui.add(egui::TextEdit::singleline(&mut new).hint_text("name").desired_width((ui.available_width() * 0.35).clamp(60.0, 120.0)));
            let ok = !new.trim().is_empty() && !values.contains_key(new.trim());
            for (label, value) in
                [("+ text", PropValue::Text(String::new())), ("+ yes/no", PropValue::Bool(false)), ("+ number", PropValue::Int(0))]
            {
                if ui.add_enabled(ok, egui::Button::new(label).small()).clicked() {
                    let k = new.trim().to_owned();
                    edit_element(app, &e.id, |x| {
                        which.of_mut(x).insert(k, value);
                    });
                    new.clear();
                }
            }
        });
        ui.data_mut(|d| d.insert_temp(key, new));
    });
}

fn flow_ends_ui(ui: &mut egui::Ui, app: &mut ThreatmapApp, e: &Element) {
    let nodes: Vec<(String, String)> =
        app.doc.model.elements.iter().filter(|x| x.kind.is_node()).map(|x| (x.id.clone(), x.name.clone())).collect();
    let name_of =
        |id: &Option<String>| id.as_ref().and_then(|i| nodes.iter().find(|(x, _)| x == i)).map(|(_, n)| n.clone()).unwrap_or_default();
    for (label, end) in [("From", &e.source), ("To", &e.sink)] {
        let mut pick = None;
        egui::ComboBox::from_label(label).selected_text(name_of(end)).show_ui(ui, |ui| {
            for (nid, n) in &nodes {
                if ui.selectable_label(end.as_deref() == Some(nid.as_str()), n).clicked() {
                    pick = Some(nid.clone());
                }
            }
        });
        if let Some(p) = pick {
            let id = e.id.clone();
            let is_source = label == "From";
            app.doc.edit(|m| {
                if let Some(x) = m.elements.iter_mut().find(|x| x.id == id) {
                    if is_source {
                        x.source = Some(p);
                    } else {
                        x.sink = Some(p);
                    }
                }
                // Ends that share no diagram are drawn together on the first: place them there.
                crate::document::place_unplaced(m);
            });
        }
    }
    // Pair a response with its request: flows going the other way between the same ends.
    let candidates: Vec<(String, String)> = app
        .doc
        .model
        .elements
        .iter()
        .filter(|x| x.kind == Kind::Dataflow && x.id != e.id && x.source == e.sink && x.sink == e.source)
        .map(|x| (x.id.clone(), x.name.clone()))
        .collect();
    if !candidates.is_empty() || e.response_to.is_some() {
        let current = e
            .response_to
            .as_ref()
            .and_then(|r| candidates.iter().find(|(x, _)| x == r))
            .map(|(_, n)| n.clone())
            .unwrap_or("(not a response)".into());
        let mut pick: Option<Option<String>> = None;
        egui::ComboBox::from_label("Response to").selected_text(current).show_ui(ui, |ui| {
            if ui.selectable_label(e.response_to.is_none(), "(not a response)").clicked() {
                pick = Some(None);
            }
            for (fid, n) in &candidates {
                if ui.selectable_label(e.response_to.as_deref() == Some(fid.as_str()), n).clicked() {
                    pick = Some(Some(fid.clone()));
                }
            }
        });
        if let Some(p) = pick {
            let id = e.id.clone();
            app.doc.edit(|m| {
                if let Some(x) = m.elements.iter_mut().find(|x| x.id == id) {
                    x.response_to = p;
                }
            });
        }
    }
}

fn severity_color(s: Severity) -> Color32 {
    crate::canvas::hex_color(threatmap_render::dfd::severity_style(s).0)
}

/// A severity's colour for text on the panel background: the marker colours are too dark on a
/// dark background (very high #7f1d1d is 1.7:1 there), so dark mode uses light tints of them
/// (at least 4.5:1).
pub fn severity_text_color(s: Severity, dark: bool) -> Color32 {
    if !dark {
        return severity_color(s);
    }
    match s {
        Severity::VeryHigh => Color32::from_rgb(252, 165, 165),
        Severity::High => Color32::from_rgb(248, 113, 113),
        Severity::Medium => Color32::from_rgb(252, 211, 77),
        Severity::Low => Color32::from_rgb(134, 239, 172),
        Severity::VeryLow => Color32::from_rgb(190, 242, 100),
        Severity::Info => Color32::from_rgb(209, 213, 219),
    }
}

/// The findings of one element, expandable to their text and why they fired.
fn findings_ui(ui: &mut egui::Ui, app: &mut ThreatmapApp, id: &str) {
    app.refresh();
    let Some(idx) = app.doc.model.index_of(id) else { return };
    let mut a = app.cache.of_element(&app.doc, &app.rules, &app.incremental, idx as u32);
    a.excluded.clear();
    let mut mine: Vec<&Finding> = a.findings.iter().collect();
    // Triage edits are collected while the analysis borrows the model, then applied.
    let mut edits: Vec<(String, threatmap_core::lifecycle::Decision, Option<String>)> = Vec::new();
    mine.sort_by(|x, y| a.severity(y).cmp(&a.severity(x)).then(a.rule(x).id.cmp(&a.rule(y).id)));
    let heading = ui.heading(format!("Findings ({})", mine.len()));
    if app.show_findings_of.as_deref() == Some(id) {
        app.show_findings_of = None;
        heading.scroll_to_me(Some(egui::Align::TOP));
    }
    let focus = app.focus_finding.take();
    let tracker_name = app.doc.model.tracker.as_ref().map_or("Tracker", |t| t.kind.label());
    if mine.is_empty() {
        ui.label("No open findings on this element.");
    }
    for f in mine {
        let v = a.view(f);
        let (_, _, letter) = threatmap_render::dfd::severity_style(v.severity);
        // Headers stay one line cut to the panel's width; the full title is inside.
        let status = app.doc.model.decisions.get(&v.key).map(|d| d.status).unwrap_or_default();
        let mut full = format!("[{letter}] {} — {}", v.threat_id, v.title);
        if status != threatmap_core::lifecycle::Status::Open {
            full = format!("({}) {full}", status.label());
        }
        let color = if status.is_open() { severity_text_color(v.severity, ui.visuals().dark_mode) } else { ui.visuals().weak_text_color() };
        let head = truncated(ui, RichText::new(full).color(color), ui.available_width() - ui.spacing().indent - 8.0);
        let focused = focus.as_deref() == Some(v.key.as_str());
        let header = egui::CollapsingHeader::new(head).id_salt(("finding", &v.key)).open(focused.then_some(true)).show(ui, |ui| {
            ui.label(RichText::new(&v.title).strong());
            ui.label(format!("Severity: {}", v.severity.name()));
            let key = v.key.clone();
            let current = app.doc.model.decisions.get(&key).cloned().unwrap_or_default();
            let focus_justification = focused && std::mem::take(&mut app.focus_triage);
            crate::handoff::ticket_ui(ui, tracker_name, &current);
            triage_ui(ui, &mut edits, &key, &current, focus_justification);
            if !v.stride.is_empty() {
                ui.label(format!("STRIDE: {}", v.stride.join(", ")));
            }
            ui.label(v.description.as_ref());
            if !v.details.is_empty() {
                ui.label(RichText::new(v.details).weak());
            }
            if !v.mitigations.is_empty() {
                ui.label(RichText::new("Mitigations").strong());
                for m in &v.mitigations {
                    ui.label(format!("• {m}"));
                }
            }
            if !v.references.is_empty() {
                ui.label(RichText::new("References").strong());
                for r in v.references.iter().flat_map(|r| r.split(", ")) {
                    if r.starts_with("https://") || r.starts_with("http://") {
                        ui.hyperlink(r);
                    } else {
                        ui.label(r);
                    }
                }
            }
            // A threat written by hand fires on its element: there is no rule to explain.
            let why = if a.rule(f).pack == "model" { Vec::new() } else { a.explain(f) };
            if !why.is_empty() {
                ui.label(RichText::new("Why it fired").strong());
                for w in why {
                    let obs: Vec<String> = w.observed.iter().map(|o| format!("{} = {}", o.path, o.value)).collect();
                    ui.add(egui::Label::new(RichText::new(format!("{}  ({})", w.clause, obs.join("; "))).monospace()).wrap());
                }
            }
        });
        let header_response = header.header_response.on_hover_text(&v.title);
        if focused {
            header_response.scroll_to_me(Some(egui::Align::TOP));
        }
    }
    drop(a);
    for (key, d, field) in edits {
        match field.as_deref() {
            // The field lost the keyboard: its typing is one undo step, now ended.
            Some("") => app.doc.end_field_edit(),
            Some(f) => app.doc.edit_field(f, |m| {
                m.decisions.insert(key, d);
            }),
            None => app.doc.edit(|m| {
                m.decisions.insert(key, d);
            }),
        }
    }
}

/// `text` on one line, cut with "…" at `width` (collapsing headers neither wrap nor truncate).
fn truncated(ui: &egui::Ui, text: RichText, width: f32) -> egui::WidgetText {
    let job =
        egui::WidgetText::from(text).into_layout_job(ui.style(), egui::FontSelection::from(egui::TextStyle::Button), egui::Align::Center);
    let mut job = std::sync::Arc::unwrap_or_clone(job);
    job.wrap = egui::text::TextWrapping::truncate_at_width(width.max(20.0));
    egui::WidgetText::from(ui.fonts_mut(|f| f.layout_job(job)))
}

/// Triage controls of one finding: status, justification, owner, ticket, due date. Text fields
/// are taken in as they are typed (so a save while typing keeps the text), and the typing into
/// one field is one undo step. An edit carries the field it came from, for that coalescing.
fn triage_ui(
    ui: &mut egui::Ui,
    edits: &mut Vec<(String, threatmap_core::lifecycle::Decision, Option<String>)>,
    key: &str,
    current: &threatmap_core::lifecycle::Decision,
    focus_justification: bool,
) {
    use threatmap_core::lifecycle::{Status, current_user, is_date};
    let field_width = (ui.available_width() - 90.0).clamp(70.0, 180.0);
    egui::Grid::new(("triage", key)).num_columns(2).max_col_width(ui.available_width() * 0.45).show(ui, |ui| {
        let label = ui.label("Status");
        let mut pick = None;
        let combo =
            egui::ComboBox::from_id_salt(("status", key)).width(field_width).selected_text(current.status.label()).show_ui(ui, |ui| {
                for st in Status::ALL {
                    if ui.selectable_label(current.status == st, st.label()).clicked() && st != current.status {
                        pick = Some(st);
                    }
                }
            });
        combo.response.labelled_by(label.id);
        if let Some(st) = pick {
            let mut d = current.clone();
            d.set_status(st, &current_user(), "");
            edits.push((key.to_owned(), d, None));
        }
        ui.end_row();
        for (label, field) in [("Justification", 0), ("Owner", 1), ("Ticket", 2), ("Due (YYYY-MM-DD)", 3)] {
            let value = match field {
                0 => current.justification.clone(),
                1 => current.owner.clone(),
                2 => current.ticket.clone(),
                _ => current.due.clone().unwrap_or_default(),
            };
            // The due date is taken in once it is a date (or empty); until then it waits here.
            let id = egui::Id::new(("triage-field", key, field));
            let mut buf: String = if field == 3 { ui.data(|d| d.get_temp(id)).unwrap_or_else(|| value.clone()) } else { value.clone() };
            let l = ui.label(label);
            // The justification is prose: it wraps over several lines.
            let edit = if field == 0 { egui::TextEdit::multiline(&mut buf).desired_rows(2) } else { egui::TextEdit::singleline(&mut buf) };
            let r = ui.add(edit.desired_width(field_width)).labelled_by(l.id);
            if field == 0 && focus_justification {
                r.request_focus();
                r.scroll_to_me(Some(egui::Align::Center));
            }
            ui.end_row();
            if field == 3 {
                if r.has_focus() || r.changed() {
                    ui.data_mut(|d| d.insert_temp(id, buf.clone()));
                } else {
                    ui.data_mut(|d| d.remove::<String>(id));
                }
            }
            if r.changed() && buf != value {
                if field == 3 && !buf.is_empty() && !is_date(&buf) {
                    continue;
                }
                let mut d = current.clone();
                match field {
                    0 => d.justification = buf,
                    1 => d.owner = buf,
                    2 => d.ticket = buf,
                    _ => d.due = Some(buf).filter(|b| !b.is_empty()),
                }
                edits.push((key.to_owned(), d, Some(format!("triage-{field}@{key}"))));
            }
            if r.lost_focus() {
                edits.push((key.to_owned(), current.clone(), Some(String::new())));
            }
        }
    });
    if current.missing_justification() {
        ui.colored_label(
            ui.visuals().error_fg_color,
            format!("{} needs a justification: say why, for whoever reviews this later.", current.status.label()),
        );
    }
    // The history, newest first (the last few; the file keeps all of it).
    for change in current.history.iter().rev().take(5) {
        // An entry that changed no status (a ticket handed over, a ticket gone) is its note.
        let what = if change.from == change.to { String::new() } else { format!("{} → {}", change.from.label(), change.to.label()) };
        let note = change.note.trim();
        let text = format!(
            "{what}{}{}{}",
            if note.is_empty() {
                String::new()
            } else if what.is_empty() {
                note.to_owned()
            } else {
                format!(": {note}")
            },
            if change.at.is_empty() { String::new() } else { format!(" on {}", change.at) },
            if change.by.is_empty() { String::new() } else { format!(" by {}", change.by) }
        );
        ui.add(egui::Label::new(RichText::new(text).weak()).wrap());
    }
    if current.history.len() > 5 {
        ui.label(RichText::new(format!("… and {} earlier change(s)", current.history.len() - 5)).weak());
    }
}

/// A finding in the findings table: what filtering and sorting read, with no text (the
/// text of a row is built when it shows: see [`Row`]). Built once per change of the model.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Index into the cached findings, then into the excluded ones.
    finding: u32,
    rule: u32,
    element: u32,
    severity: Severity,
    /// The decision's status label, "Out of scope" or "Not applicable (assumption)".
    status: &'static str,
    /// Where the status comes in the workflow (for sorting): excluded findings last.
    status_rank: u8,
    /// Still needs work.
    open: bool,
    /// The decision names an owner; the finding has a ticket.
    owner: bool,
    ticket: bool,
}

/// What a row of the findings table shows.
struct Row {
    severity: Severity,
    status: &'static str,
    open: bool,
    /// Who the decision names.
    owner: String,
    /// The finding's stable key.
    key: String,
    id: String,
    title: String,
    element_id: String,
    element: String,
    kind: &'static str,
    /// The ticket: a tracked one's id and state, else what the decision records.
    ticket: String,
}

/// The finding an entry stands for.
fn entry_finding<'c>(cache: &'c FindingsCache, e: &Entry) -> Option<&'c Finding> {
    let k = e.finding as usize;
    cache.findings.get(k).or_else(|| cache.excluded.get(k.checked_sub(cache.findings.len())?))
}

/// The table entry of finding number `k` (of the findings, then the excluded ones).
fn entry(a: &Analysis<'_>, k: usize, f: &Finding) -> Entry {
    let d = a.decision(f);
    let decided = d.map_or(threatmap_core::lifecycle::Status::Open, |d| d.status);
    let (status, status_rank) = if f.excluded_by.as_deref() == Some(threatmap_core::engine::OUT_OF_SCOPE) {
        ("Out of scope", 9)
    } else if f.excluded_by.is_some() {
        ("Not applicable (assumption)", 8)
    } else {
        (decided.label(), decided as u8)
    };
    Entry {
        finding: k as u32,
        rule: f.rule,
        element: f.element,
        severity: a.severity(f),
        status,
        status_rank,
        open: f.excluded_by.is_none() && decided.is_open(),
        owner: d.is_some_and(|d| !d.owner.trim().is_empty()),
        ticket: d.is_some_and(|d| !ticket_cell(d).is_empty()),
    }
}

/// The text of an entry's row.
fn row(a: &Analysis<'_>, f: &Finding, e: &Entry) -> Row {
    let el = a.prepared.element(f.element);
    let d = a.decision(f);
    Row {
        severity: e.severity,
        status: e.status,
        open: e.open,
        owner: d.map(|d| threatmap_core::model::one_line(&d.owner)).unwrap_or_default(),
        key: a.key(f),
        id: a.rule(f).id.clone(),
        // Rows are one line: names keep their line breaks for the canvas.
        title: threatmap_core::model::one_line(&a.rule(f).title_for(&a.prepared, f.element)),
        element_id: el.id.clone(),
        element: threatmap_core::model::one_line(&el.name),
        kind: el.kind.name(),
        ticket: d.map(ticket_cell).unwrap_or_default(),
    }
}

/// The findings table as filtered and sorted, with what its columns' widths depend on: kept
/// until the model, the filter or the sort changes, so a frame does no work per finding.
struct TableView {
    /// Indices into the entries, in the order shown.
    order: Vec<usize>,
    /// The longest rule id and status shown (their columns fit them).
    longest_id: String,
    longest_status: &'static str,
    /// Whether any decision names an owner, any finding has a ticket.
    owners: bool,
    tickets: bool,
}

/// Sort column of the findings table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum SortBy {
    #[default]
    Severity,
    Id,
    Title,
    Element,
    Status,
    Owner,
}

/// The findings table (sort, filter; clicking a row selects the element) and the messages.
pub fn findings_table_ui(ui: &mut egui::Ui, app: &mut ThreatmapApp) {
    app.refresh();
    let id = ui.id().with("table-state");
    let ((mut sort, mut reversed), mut min_sev, mut tab, mut status, mut only_new, mut only_here): (
        (SortBy, bool),
        usize,
        usize,
        usize,
        bool,
        bool,
    ) = ui.data(|d| d.get_temp(id)).unwrap_or_default();
    let several = app.doc.model.diagram_count() > 1;
    only_here &= several;
    let baseline = app.baseline.clone();
    let is_new = |key: &str| baseline.as_ref().is_some_and(|b| !b.keys.contains(key));
    // The tab counts the rows the table shows (with its filters), as of the last change.
    let shown_id = ui.id().with("shown");
    let shown_count: Option<(usize, usize)> = ui.data(|d| d.get_temp(shown_id));
    // The toolbar takes two rows in a narrow panel: egui's wrapping does not move a combo box
    // to the next row, which then pushes the panel under the inspector.
    let two_rows = ui.available_width() < 760.0;
    let mut select_shown = false;
    let (mut create_tickets, mut sync_tickets) = (false, false);
    ui.horizontal_wrapped(|ui| {
        let label = match shown_count {
            Some((shown, all)) if shown != all => format!("Findings ({shown} of {all})"),
            Some((shown, _)) => format!("Findings ({shown})"),
            None => "Findings".to_owned(),
        };
        ui.selectable_value(&mut tab, 0, label);
        ui.selectable_value(&mut tab, 1, format!("Messages ({})", app.cache.messages.len()));
        if tab == 0 {
            ui.separator();
            let filter_w = (ui.available_width() - 12.0).clamp(120.0, 220.0);
            ui.add(egui::TextEdit::singleline(&mut app.filter).hint_text("Filter: id, title, element, kind").desired_width(filter_w));
            if two_rows {
                ui.end_row();
            }
            egui::ComboBox::from_id_salt("min-sev").selected_text(format!("≥ {}", Severity::ALL[min_sev].name())).show_ui(ui, |ui| {
                for (k, s) in Severity::ALL.iter().enumerate() {
                    ui.selectable_value(&mut min_sev, k, s.name());
                }
            });
            egui::ComboBox::from_id_salt("status").selected_text(STATUS_FILTERS[status]).show_ui(ui, |ui| {
                for (k, s) in STATUS_FILTERS.iter().enumerate() {
                    ui.selectable_value(&mut status, k, *s);
                }
            });
            if several {
                ui.checkbox(&mut only_here, "This diagram")
                    .on_hover_text("Only findings on what the diagram shown draws (a flow's findings where both its ends are drawn)");
            }
            if let Some(b) = &baseline {
                let name = b.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                ui.checkbox(&mut only_new, "New since baseline").on_hover_text(format!("Only findings that {name} did not have"));
            } else {
                only_new = false;
            }
            if app.has_tracker() {
                let chosen = app.table_selection.len();
                let label = if chosen > 1 { format!("Create {chosen} tickets") } else { "Create ticket".to_owned() };
                if ui
                    .add_enabled(app.can_run(crate::commands::UiCommand::CreateTickets), egui::Button::new(label))
                    .on_hover_text("Hand the chosen findings to the tracker (a finding that has a ticket gets it updated)")
                    .clicked()
                {
                    create_tickets = true;
                }
                if ui
                    .add_enabled(app.can_run(crate::commands::UiCommand::SyncTickets), egui::Button::new("Sync tickets"))
                    .on_hover_text("Read the tickets' states: closed ones become \"fix reported\", reopened ones \"in progress\"")
                    .clicked()
                {
                    sync_tickets = true;
                }
            }
            select_shown = ui
                .button("Select shown")
                .on_hover_text(
                    "Choose every finding the table shows, to decide about them at once (Ctrl+click and Shift+click choose rows)",
                )
                .clicked();
        }
    });
    let rows_id = ui.id().with("rows");
    let cached: Option<(u64, std::sync::Arc<Vec<Entry>>)> = ui.data(|d| d.get_temp(rows_id));
    let entries = match cached.filter(|(rev, _)| *rev == app.doc.revision()) {
        Some((_, entries)) => entries,
        None => {
            let a = app.cache.facts(&app.doc, &app.rules, &app.incremental);
            let all = app.cache.findings.iter().chain(app.cache.excluded.iter());
            let entries: Vec<Entry> = all.enumerate().map(|(k, f)| entry(&a, k, f)).collect();
            // Entries change only with the model: chosen rows whose finding went are let go here.
            if !app.table_selection.is_empty() {
                let keys: BTreeSet<String> = entries.iter().filter_map(|e| entry_finding(&app.cache, e)).map(|f| a.key(f)).collect();
                app.table_selection.retain(|k| keys.contains(k));
            }
            let entries = std::sync::Arc::new(entries);
            ui.data_mut(|d| d.insert_temp(rows_id, (app.doc.revision(), entries.clone())));
            entries
        }
    };
    // The Owner column shows only while decisions name owners: without it, sorting by owner
    // would order the rows with no header saying how.
    if sort == SortBy::Owner && !entries.iter().any(|e| e.owner) {
        (sort, reversed) = (SortBy::Severity, false);
    }
    // The filtered, sorted order is computed once per change of model, filter or sort; text is
    // built only for what the filter or the sort reads.
    let view_id = ui.id().with("view");
    let baseline_len = baseline.as_ref().map(|b| (b.path.clone(), b.keys.len()));
    let here = only_here.then_some(app.canvas.diagram);
    let key = (app.doc.revision(), app.filter.clone(), min_sev, (sort, reversed), status, only_new, baseline_len, here);
    let cached: Option<(ViewKey, std::sync::Arc<TableView>)> = ui.data(|d| d.get_temp(view_id));
    let view = match cached.filter(|(k, _)| *k == key) {
        Some((_, view)) => view,
        None => {
            let a = app.cache.facts(&app.doc, &app.rules, &app.incremental);
            let cache = &app.cache;
            let q = app.filter.to_lowercase();
            let min = Severity::ALL[min_sev];
            let m = &app.doc.model;
            let on_here: Option<Vec<bool>> = here.map(|d| m.shown_on(d));
            let rule_id = |e: &Entry| a.rules.rules.get(e.rule as usize).map_or("", |r| r.id.as_str());
            // Rules ranked by id once, so sorting by id compares numbers.
            let mut by_id: Vec<u32> = (0..a.rules.rules.len() as u32).collect();
            by_id.sort_by(|&x, &y| a.rules.rules[x as usize].id.cmp(&a.rules.rules[y as usize].id));
            // Rules of one id share a rank (their findings keep their order).
            let mut id_rank = vec![0u32; by_id.len()];
            let mut rank = 0;
            for w in 0..by_id.len() {
                if w > 0 && a.rules.rules[by_id[w] as usize].id != a.rules.rules[by_id[w - 1] as usize].id {
                    rank += 1;
                }
                id_rank[by_id[w] as usize] = rank;
            }
            let rank = |e: &Entry| id_rank.get(e.rule as usize).copied().unwrap_or(u32::MAX);
            let row_of = |k: usize| entry_finding(cache, &entries[k]).map(|f| row(&a, f, &entries[k]));
            let mut order: Vec<usize> = (0..entries.len())
                .filter(|&k| entries[k].severity >= min)
                .filter(|&k| status == 2 || entries[k].open == (status == 0))
                .filter(|&k| on_here.as_ref().is_none_or(|on| on.get(entries[k].element as usize).copied().unwrap_or(false)))
                .filter(|&k| !only_new || entry_finding(cache, &entries[k]).is_some_and(|f| is_new(&a.key(f))))
                .filter(|&k| {
                    q.is_empty()
                        || row_of(k).is_some_and(|r| {
                            [r.id.as_str(), &r.title, &r.element, r.kind, r.status, &r.owner, &r.ticket]
                                .iter()
                                .any(|s| s.to_lowercase().contains(&q))
                        })
                })
                .collect();
            // Sorting by a text builds that text once per row, then sorts (ties keep the
            // findings' order).
            let by_text = |order: &mut Vec<usize>, text: &dyn Fn(&Row) -> String| {
                let mut keyed: Vec<(String, usize)> = order.iter().map(|&k| (row_of(k).map(|r| text(&r)).unwrap_or_default(), k)).collect();
                keyed.sort();
                *order = keyed.into_iter().map(|(_, k)| k).collect();
            };
            match sort {
                SortBy::Severity => order.sort_by_key(|&k| (std::cmp::Reverse(entries[k].severity), rank(&entries[k]))),
                SortBy::Id => order.sort_by_key(|&k| rank(&entries[k])),
                SortBy::Title => by_text(&mut order, &|r| r.title.clone()),
                SortBy::Element => {
                    let names: Vec<String> = m.elements.iter().map(|e| threatmap_core::model::one_line(&e.name)).collect();
                    let name = |e: &Entry| names.get(e.element as usize).map_or("", String::as_str);
                    order.sort_by(|&x, &y| {
                        let (x, y) = (&entries[x], &entries[y]);
                        name(x).cmp(name(y)).then(y.severity.cmp(&x.severity))
                    });
                }
                SortBy::Status => {
                    order.sort_by_key(|&k| (entries[k].status_rank, std::cmp::Reverse(entries[k].severity), rank(&entries[k])))
                }
                // Findings with an owner first, by owner; then the rest by severity.
                SortBy::Owner => {
                    let owners: Vec<String> = order.iter().map(|&k| row_of(k).map(|r| r.owner).unwrap_or_default()).collect();
                    let mut at: Vec<usize> = (0..order.len()).collect();
                    at.sort_by(|&x, &y| {
                        (owners[x].is_empty(), &owners[x])
                            .cmp(&(owners[y].is_empty(), &owners[y]))
                            .then(entries[order[y]].severity.cmp(&entries[order[x]].severity))
                    });
                    order = at.into_iter().map(|x| order[x]).collect();
                }
            }
            if reversed {
                order.reverse();
            }
            let longest_id = order.iter().map(|&k| rule_id(&entries[k])).max_by_key(|id| id.chars().count()).unwrap_or("ID").to_owned();
            let longest_status = order.iter().map(|&k| entries[k].status).max_by_key(|s| s.chars().count()).unwrap_or("Status");
            let view = TableView {
                order,
                longest_id,
                longest_status,
                owners: entries.iter().any(|e| e.owner),
                tickets: entries.iter().any(|e| e.ticket),
            };
            let view = std::sync::Arc::new(view);
            ui.data_mut(|d| d.insert_temp(view_id, (key, view.clone())));
            view
        }
    };
    // The keys of the rows shown from `from` to `to` (positions in the order shown).
    let keys_shown = |app: &ThreatmapApp, range: std::ops::RangeInclusive<usize>| -> Vec<String> {
        let a = app.cache.facts(&app.doc, &app.rules, &app.incremental);
        view.order.get(range).unwrap_or_default().iter().filter_map(|&k| entry_finding(&app.cache, &entries[k])).map(|f| a.key(f)).collect()
    };
    let shown_len = view.order.len();
    if select_shown {
        let keys = keys_shown(app, 0..=shown_len.saturating_sub(1));
        app.table_anchor = keys.first().cloned();
        app.table_selection = keys.into_iter().collect();
    }
    if shown_count != Some((shown_len, entries.len())) {
        ui.data_mut(|d| d.insert_temp(shown_id, (shown_len, entries.len())));
        ui.ctx().request_repaint();
    }
    // The Findings tab's count is kept current while the Messages tab shows.
    if tab == 1 {
        egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
            if app.cache.messages.is_empty() {
                ui.label("No messages: the model is valid.");
            }
            for m in &app.cache.messages {
                ui.label(m);
            }
        });
        ui.data_mut(|d| d.insert_temp(id, ((sort, reversed), min_sev, tab, status, only_new, only_here)));
        return;
    }
    // Columns share the width: severity and id keep a readable minimum, the title takes the rest;
    // in a narrow window the severity shows its letter only.
    let gaps = 3.0 * ui.spacing().item_spacing.x + ui.spacing().scroll.bar_width + 8.0;
    let avail = ui.available_width() - gaps;
    let narrow = avail < 720.0;
    let sev_w = if narrow { 44.0 } else { 110.0 };
    // The ID column fits the longest ID shown (IDs tell rules apart: "GEN-AUTH-01" vs "-02"),
    // up to a quarter of the table.
    let id_text =
        ui.fonts_mut(|f| f.layout_no_wrap(view.longest_id.clone(), egui::TextStyle::Body.resolve(ui.style()), Color32::WHITE).size().x);
    let id_w = (id_text + 12.0).clamp(64.0, (avail * 0.18).max(104.0));
    let elem_w = (avail * 0.22).clamp(100.0, 280.0);
    // The status column fits the longest status shown, up to a sixth of the table.
    let status_text = ui.fonts_mut(|f| {
        f.layout_no_wrap(view.longest_status.to_owned(), egui::TextStyle::Body.resolve(ui.style()), Color32::WHITE).size().x
    });
    let status_w = (status_text + 12.0).clamp(64.0, (avail / 6.0).max(64.0));
    // The owner column shows once decisions name owners, the ticket column once findings have
    // tickets (or a tracker is named).
    let owners = view.owners;
    let owner_w = if owners { (avail * 0.11).clamp(70.0, 140.0) } else { 0.0 };
    let tickets = app.has_tracker() || view.tickets;
    let ticket_w = if tickets { (avail * 0.17).clamp(100.0, 200.0) } else { 0.0 };
    let title_w = (avail - sev_w - id_w - elem_w - status_w - owner_w - ticket_w).max(100.0);
    let widths = [sev_w, id_w, title_w, elem_w, status_w, owner_w, ticket_w];
    // A left-aligned cell of fixed width.
    fn cell<R>(ui: &mut egui::Ui, w: f32, h: f32, add: impl FnOnce(&mut egui::Ui) -> R) -> R {
        ui.allocate_ui_with_layout(egui::vec2(w, h), egui::Layout::left_to_right(egui::Align::Center), |ui| {
            ui.set_min_width(w);
            ui.set_max_width(w);
            add(ui)
        })
        .inner
    }
    ui.horizontal(|ui| {
        let columns = [
            ("Severity", SortBy::Severity),
            ("ID", SortBy::Id),
            ("Title", SortBy::Title),
            ("Element", SortBy::Element),
            ("Status", SortBy::Status),
            ("Owner", SortBy::Owner),
        ];
        for (k, (label, by)) in columns.into_iter().enumerate() {
            if by == SortBy::Owner && !owners {
                continue;
            }
            let name = label;
            let label = if narrow && by == SortBy::Severity { "Sev." } else { label };
            let text = match (sort == by, reversed) {
                (true, false) => format!("{label} ⬇"),
                (true, true) => format!("{label} ⬆"),
                _ => label.to_owned(),
            };
            let header = cell(ui, widths[k], 18.0, |ui| ui.add(egui::Button::new(RichText::new(text).strong()).frame(false)));
            // Screen readers hear what the header does ("Status" alone is the inspector's field).
            header.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Button, true, format!("Sort by {name}")));
            // A click on the sorting column turns its order round.
            if header.clicked() {
                reversed = sort == by && !reversed;
                sort = by;
            }
        }
        if tickets {
            cell(ui, widths[6], 18.0, |ui| ui.label(RichText::new("Ticket").strong()));
        }
    });
    let selected: BTreeSet<String> = app.selection.clone();
    let row_h = 20.0;
    let dark = ui.visuals().dark_mode;
    // The bulk bar goes under the rows, so choosing a second row moves none of them.
    let bulk = app.table_selection.len() > 1;
    let bar_h = if bulk { 60.0 } else { 0.0 };
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .max_height((ui.available_height() - if bulk { bar_h + ui.spacing().item_spacing.y } else { 0.0 }).max(row_h * 2.0))
        .show_rows(ui, row_h, shown_len, |ui, range| {
            let first = range.start;
            let rows: Vec<Row> = {
                let a = app.cache.facts(&app.doc, &app.rules, &app.incremental);
                view.order[range].iter().filter_map(|&k| entry_finding(&app.cache, &entries[k]).map(|f| row(&a, f, &entries[k]))).collect()
            };
            for (at, r) in rows.iter().enumerate().map(|(i, r)| (first + i, r)) {
                // The whole row is one button: a click selects the element and opens the finding.
                let background = ui.painter().add(egui::Shape::Noop);
                let row = ui.horizontal(|ui| {
                    let (_, _, letter) = threatmap_render::dfd::severity_style(r.severity);
                    cell(ui, widths[0], row_h, |ui| {
                        let text = if narrow { letter.to_owned() } else { format!("{letter} · {}", r.severity.name()) };
                        ui.add(egui::Label::new(RichText::new(text).color(severity_text_color(r.severity, dark))).selectable(false))
                            .on_hover_text(r.severity.name())
                    });
                    cell(ui, widths[1], row_h, |ui| ui.add(egui::Label::new(&r.id).truncate().selectable(false)).on_hover_text(&r.id));
                    cell(ui, widths[2], row_h, |ui| {
                        if is_new(&r.key) {
                            ui.label(RichText::new("NEW").small().strong().color(Color32::from_rgb(37, 99, 235)))
                                .on_hover_text("Not in the baseline");
                        }
                        let text = if r.open { RichText::new(&r.title) } else { RichText::new(&r.title).weak() };
                        ui.add(egui::Label::new(text).truncate().selectable(false));
                    });
                    cell(ui, widths[3], row_h, |ui| {
                        ui.add(egui::Label::new(format!("{} ({})", r.element, r.kind)).truncate().selectable(false))
                    });
                    cell(ui, widths[4], row_h, |ui| {
                        let text = if r.open { RichText::new(r.status) } else { RichText::new(r.status).weak() };
                        ui.add(egui::Label::new(text).truncate().selectable(false)).on_hover_text(r.status)
                    });
                    if owners {
                        cell(ui, widths[5], row_h, |ui| ui.add(egui::Label::new(&r.owner).truncate().selectable(false)));
                    }
                    if tickets {
                        cell(ui, widths[6], row_h, |ui| ui.add(egui::Label::new(&r.ticket).truncate().selectable(false)));
                    }
                });
                let rect = row.response.rect.expand2(egui::vec2(2.0, 1.0));
                let resp = ui.interact(rect, ui.id().with(("row", &r.key)), egui::Sense::click());
                // Chosen rows (for bulk triage, or the finding open in the inspector) are marked
                // strongly; the other rows of the selected element only tinted.
                let is_sel = if app.table_selection.len() > 1 {
                    app.table_selection.contains(&r.key)
                } else {
                    selected.contains(&r.element_id) && app.table_selection.contains(&r.key)
                };
                let visuals = ui.style().interact_selectable(&resp, is_sel);
                if is_sel || resp.hovered() || resp.has_focus() {
                    let stroke = if resp.has_focus() || is_sel { ui.visuals().selection.stroke } else { visuals.bg_stroke };
                    ui.painter()
                        .set(background, egui::epaint::RectShape::new(rect, 2.0, visuals.weak_bg_fill, stroke, egui::StrokeKind::Inside));
                } else if selected.contains(&r.element_id) {
                    let tint = ui.visuals().selection.bg_fill.gamma_multiply(0.3);
                    ui.painter().set(background, egui::epaint::RectShape::filled(rect, 2.0, tint));
                }
                let resp = resp.on_hover_text(format!("{}: {}", r.id, r.title));
                resp.widget_info(|| {
                    egui::WidgetInfo::labeled(
                        egui::WidgetType::Button,
                        true,
                        format!("{} {} {} on {}, {}", r.severity.name(), r.id, r.title, r.element, r.status),
                    )
                });
                if resp.clicked() {
                    let m = ui.input(|i| i.modifiers);
                    if m.shift
                        && let Some(anchor) = app.table_anchor.clone()
                    {
                        // The rows between the anchor and this one, in the order shown.
                        let all = keys_shown(app, 0..=shown_len.saturating_sub(1));
                        if let Some(a) = all.iter().position(|k| *k == anchor) {
                            app.table_selection.extend(keys_shown(app, a.min(at)..=a.max(at)));
                        }
                    } else if m.command {
                        if !app.table_selection.remove(&r.key) {
                            app.table_selection.insert(r.key.clone());
                        }
                        app.table_anchor = Some(r.key.clone());
                    } else {
                        app.reveal(&r.element_id);
                        // The finding's element comes into view if it is off screen (a large
                        // model's table lists elements far from what the canvas shows).
                        app.canvas.show = Some((r.element_id.clone(), crate::canvas::Show::IfHidden));
                        app.selection = BTreeSet::from([r.element_id.clone()]);
                        app.focus_finding = Some(r.key.clone());
                        app.table_selection = BTreeSet::from([r.key.clone()]);
                        app.table_anchor = Some(r.key.clone());
                    }
                }
            }
        });
    if bulk {
        // Exactly the height taken from the rows, so the panel keeps its size.
        ui.allocate_ui_with_layout(egui::vec2(ui.available_width(), bar_h), egui::Layout::top_down(egui::Align::Min), |ui| {
            ui.set_min_height(bar_h);
            bulk_triage_ui(ui, app);
        });
    }
    ui.data_mut(|d| d.insert_temp(id, ((sort, reversed), min_sev, tab, status, only_new, only_here)));
    if create_tickets {
        app.run(crate::commands::UiCommand::CreateTickets, ui.ctx());
    }
    if sync_tickets {
        app.run(crate::commands::UiCommand::SyncTickets, ui.ctx());
    }
}

/// A finding's ticket in the table: "#12 Closed" for a tracked one, else the decision's text.
fn ticket_cell(d: &threatmap_core::lifecycle::Decision) -> String {
    match &d.tracked {
        Some(t) => {
            let id = t.shown_id();
            let state = if t.state == "missing" { "gone" } else { t.state.as_str() };
            // A row is a finding that fires: a done ticket awaiting verification is a
            // remediation failure until the model shows the fix.
            let flag = if t.done && d.status == threatmap_core::lifecycle::Status::FixReported { " · still fires" } else { "" };
            format!("{id} {state}{flag}").trim().to_owned()
        }
        None => d.ticket.clone(),
    }
}

/// One decision for every finding chosen in the table: a status, and the justification,
/// owner, ticket and tag to record with it (fields left empty keep each finding's own). One
/// undo step takes it all back.
fn bulk_triage_ui(ui: &mut egui::Ui, app: &mut ThreatmapApp) {
    use threatmap_core::lifecycle::{Status, current_user};
    #[derive(Clone, Default)]
    struct Bulk {
        status: Option<Status>,
        justification: String,
        owner: String,
        ticket: String,
        tag: String,
    }
    let id = ui.id().with("bulk-triage");
    let mut b: Bulk = ui.data(|d| d.get_temp(id)).unwrap_or_default();
    let n = app.table_selection.len();
    let mut apply = false;
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.label(RichText::new(format!("{n} findings chosen")).strong());
            let l = ui.label("Set status");
            let combo = egui::ComboBox::from_id_salt("bulk-status")
                .width(170.0)
                .selected_text(b.status.map_or("(keep)", Status::label))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut b.status, None, "(keep)");
                    for st in Status::ALL {
                        ui.selectable_value(&mut b.status, Some(st), st.label());
                    }
                });
            combo.response.labelled_by(l.id);
            let any = b.status.is_some() || [&b.justification, &b.owner, &b.ticket, &b.tag].iter().any(|f| !f.trim().is_empty());
            apply = ui.add_enabled(any, egui::Button::new(format!("Apply to {n}"))).clicked();
            if ui.button("Clear choice").clicked() {
                app.table_selection.clear();
            }
        });
        ui.horizontal_wrapped(|ui| {
            for (label, field, width) in [
                ("Set justification", &mut b.justification, 160.0),
                ("Set owner", &mut b.owner, 80.0),
                ("Set ticket", &mut b.ticket, 80.0),
                ("Add tag", &mut b.tag, 70.0),
            ] {
                // A label wraps with its field, never apart from it.
                let label_w = ui
                    .fonts_mut(|f| f.layout_no_wrap(label.to_owned(), egui::TextStyle::Body.resolve(ui.style()), Color32::WHITE).size().x);
                let size = egui::vec2(label_w + width + 3.0 * ui.spacing().item_spacing.x, ui.spacing().interact_size.y);
                ui.allocate_ui_with_layout(size, egui::Layout::left_to_right(egui::Align::Center), |ui| {
                    let l = ui.label(label);
                    ui.add(egui::TextEdit::singleline(field).desired_width(width)).labelled_by(l.id);
                });
            }
        });
    });
    if apply {
        let keys: Vec<String> = app.table_selection.iter().cloned().collect();
        let who = current_user();
        let v = b.clone();
        app.doc.edit(|m| {
            for key in keys {
                let d = m.decisions.entry(key).or_default();
                if let Some(st) = v.status.filter(|st| *st != d.status) {
                    d.set_status(st, &who, v.justification.trim());
                }
                if !v.justification.trim().is_empty() {
                    d.justification = v.justification.trim().to_owned();
                }
                if !v.owner.trim().is_empty() {
                    d.owner = v.owner.trim().to_owned();
                }
                if !v.ticket.trim().is_empty() {
                    d.ticket = v.ticket.trim().to_owned();
                }
                let tag = v.tag.trim();
                if !tag.is_empty() && !d.tags.iter().any(|t| t == tag) {
                    d.tags.push(tag.to_owned());
                }
            }
        });
        app.status = format!("Decided about {n} findings at once (Undo takes it back)");
        app.table_selection.clear();
        b = Bulk::default();
    }
    ui.data_mut(|d| d.insert_temp(id, b));
}

/// What a findings table order depends on: model revision, filter text, minimum severity,
/// sort column, status filter, "new since baseline" and the baseline.
type ViewKey = (u64, String, usize, (SortBy, bool), usize, bool, Option<(std::path::PathBuf, usize)>, Option<usize>);

/// Status filter choices of the findings table.
const STATUS_FILTERS: [&str; 3] = ["Needs work", "Decided", "All statuses"];

/// The rule packs window: built-in packs on or off, files added.
pub fn packs_ui(ui: &mut egui::Ui, app: &mut ThreatmapApp) {
    let current = packs_for(&app.doc.model);
    let mut next = current.clone();
    for p in BUILTIN_PACKS {
        let mut on = current.iter().any(|c| c == p.name);
        if ui.checkbox(&mut on, format!("{}: {}", p.name, p.title)).changed() {
            if on {
                next.push(p.name.to_owned());
            } else {
                next.retain(|c| c != p.name);
            }
        }
    }
    for c in current.iter().filter(|c| !BUILTIN_PACKS.iter().any(|p| p.name == c.as_str())) {
        ui.horizontal(|ui| {
            ui.label(c);
            if ui.small_button("Remove").clicked() {
                next.retain(|x| x != c);
            }
        });
    }
    if ui.button("Add a pack file (TOML or pytm threats.json)…").clicked() {
        app.add_pack_dialog();
    }
    ui.label(format!("{} rules loaded", app.rules.rules.len()));
    if next != current {
        // The rules follow the model's packs when the findings refresh (undo included).
        app.doc.edit(|m| m.rule_packs = next);
    }
}

/// The diagrams an element is drawn on, as checkboxes: an element can be on several (one
/// element, one set of findings). A flow is drawn wherever both its ends are.
fn element_diagrams_ui(ui: &mut egui::Ui, app: &mut ThreatmapApp, e: &Element) {
    let model = &app.doc.model;
    let Some(k) = model.elements.iter().position(|x| x.id == e.id) else { return };
    let on = model.diagram_membership().swap_remove(k);
    let names: Vec<String> = (0..model.diagram_count()).map(|d| model.diagram_name(d).to_owned()).collect();
    if e.kind == Kind::Dataflow {
        let list: Vec<&str> = on.iter().map(|&d| names[d].as_str()).collect();
        ui.label(format!("Drawn on: {}", list.join(", "))).on_hover_text("A flow is drawn on every diagram that shows both its ends.");
        return;
    }
    ui.label("On diagrams");
    let mut change = None;
    ui.horizontal_wrapped(|ui| {
        for (d, name) in names.iter().enumerate() {
            let mut checked = on.contains(&d);
            let only = checked && on.len() == 1;
            let stuck = checked && !only && !crate::document::removable_from(model, d, &e.id);
            let unboxable = !checked && !crate::document::can_show_on(model, d, &e.id);
            let r = ui.add_enabled(!only && !stuck && !unboxable, egui::Checkbox::new(&mut checked, name.as_str())).on_disabled_hover_text(
                if stuck {
                    "Flows drawn only on this diagram connect it: delete them first, or show their other ends elsewhere."
                } else if unboxable {
                    "Its members on that diagram cannot be boxed without taking in other elements: move them apart there first."
                } else {
                    "An element is on at least one diagram; delete it to take it out of the model."
                },
            );
            if r.changed() {
                change = Some((d, checked));
            }
        }
    });
    if let Some((d, show)) = change {
        let id = e.id.clone();
        app.doc.edit(|m| {
            if show {
                crate::document::show_on_diagram(m, d, &id);
            } else {
                crate::document::remove_from_diagram(m, d, &BTreeSet::from([id.clone()]));
            }
        });
        if !show && d == app.canvas.diagram {
            app.selection.remove(&e.id);
        }
    }
}

/// The diagram tabs above the canvas: one per diagram (Microsoft TMT's tabs, Threat Dragon's
/// diagrams, pytm's levels), a button for a new one, and rename / delete on right-click.
pub fn diagram_tabs_ui(ui: &mut egui::Ui, app: &mut ThreatmapApp) {
    let count = app.doc.model.diagram_count();
    let mut pick = None;
    let mut delete: Option<(usize, bool)> = None;
    ui.horizontal(|ui| {
        ui.spacing_mut().item_spacing.x = 2.0;
        for d in 0..count {
            let name = app.doc.model.diagram_name(d).to_owned();
            let shown = if name.is_empty() { "Diagram".to_owned() } else { name.clone() };
            let label = truncated(ui, RichText::new(&shown), 220.0);
            let r = ui
                .selectable_label(app.canvas.diagram == d, label)
                .on_hover_text(format!("{shown}\nDouble-click or right-click to rename{}", if count > 1 { " or delete" } else { "" }));
            if r.clicked() {
                pick = Some(d);
            }
            // Right-click or double-click opens the menu; clicking into its name field must not
            // close it.
            let open = if r.double_clicked() || r.secondary_clicked() {
                Some(egui::SetOpenCommand::Bool(true))
            } else if r.clicked() {
                Some(egui::SetOpenCommand::Bool(false))
            } else {
                None
            };
            egui::Popup::context_menu(&r).open_memory(open).close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside).show(|ui| {
                let mut text = if name.is_empty() { shown.clone() } else { name.clone() };
                let l = ui.label("Diagram name");
                let t = ui.add(egui::TextEdit::singleline(&mut text).desired_width(200.0)).labelled_by(l.id);
                if t.changed() && !text.trim().is_empty() {
                    app.doc.edit_field(&format!("diagram-name@{d}"), |m| {
                        if m.diagrams.is_empty() {
                            m.add_diagram(&text, "");
                            m.diagrams.pop();
                        }
                        if let Some(x) = m.diagrams.get_mut(d) {
                            x.name = text.clone();
                        }
                    });
                }
                if t.lost_focus() {
                    // Spaces typed at the ends go when the typing ends (one undo step still).
                    if let Some(x) = app.doc.model.diagrams.get(d).filter(|x| x.name.trim() != x.name) {
                        let trimmed = x.name.trim().to_owned();
                        app.doc.edit_field(&format!("diagram-name@{d}"), |m| m.diagrams[d].name = trimmed);
                    }
                    app.doc.end_field_edit();
                    if ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                        ui.close();
                    }
                }
                if count > 1 {
                    ui.separator();
                    if ui.button("Delete diagram (its elements stay in the model)").clicked() {
                        delete = Some((d, false));
                        ui.close();
                    }
                    if ui.button("Delete diagram and the elements only on it").clicked() {
                        delete = Some((d, true));
                        ui.close();
                    }
                }
            });
        }
        if ui.button("+ Diagram").on_hover_text("Add a diagram to the model (elements can be shown on several)").clicked() {
            let mut new = 0;
            app.doc.edit(|m| {
                let taken = |m: &Model, n: &str| (0..m.diagram_count()).any(|d| m.diagram_name(d).eq_ignore_ascii_case(n));
                let first = if m.diagrams.is_empty() { "Diagram 1".to_owned() } else { String::new() };
                let name =
                    (m.diagram_count() + 1..).map(|k| format!("Diagram {k}")).find(|n| !taken(m, n) && *n != first).unwrap_or_default();
                new = m.add_diagram(&first, &name);
            });
            pick = Some(new);
        }
    });
    if let Some((d, with_elements)) = delete {
        let name = app.doc.model.diagram_name(d).to_owned();
        let mut kept = Vec::new();
        app.doc.edit(|m| {
            if !with_elements {
                kept = crate::document::remove_diagram_keeping(m, d);
                return;
            }
            {
                let membership = m.diagram_membership();
                let only: BTreeSet<String> = m
                    .elements
                    .iter()
                    .zip(&membership)
                    .filter(|(e, on)| e.kind != Kind::Dataflow && on.len() == 1 && on.contains(&d))
                    .map(|(e, _)| e.id.clone())
                    .collect();
                crate::document::delete(m, d, &only);
            }
            m.remove_diagram(d);
            crate::document::place_unplaced(m);
        });
        app.status = match kept.as_slice() {
            [] => format!("Deleted diagram {name:?}"),
            [one] => format!(
                "Deleted diagram {name:?}; {one}, on no other diagram, is now on {:?} (in its boundary there, or beside the drawing)",
                app.doc.model.diagram_name(0)
            ),
            many => format!(
                "Deleted diagram {name:?}; its {} elements on no other diagram are now on {:?} (in their boundaries there, or beside the drawing)",
                many.len(),
                app.doc.model.diagram_name(0)
            ),
        };
        // The diagram shown stays shown (its index moves down if an earlier one went).
        let cur = app.canvas.diagram;
        app.canvas.diagram = usize::MAX; // what was shown may be gone: show the pick afresh
        pick = Some(if cur > d { cur - 1 } else { cur.min(app.doc.model.diagram_count() - 1) });
    }
    if let Some(d) = pick {
        app.show_diagram(d);
    }
}
