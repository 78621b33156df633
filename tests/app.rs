//! The desktop app driven through egui_kittest, headless (no display): palette drops, drawing
//! flows, boundary membership by geometry, findings of the selection, a control that removes a
//! finding and its badge, undo, save/open round trip, and the unsaved-changes prompt on Quit.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::path::Path;

use egui::{Key, Modifiers, Pos2, pos2, vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use threatmap_app::document::{self, rect_of};
use threatmap_app::gui::ThreatmapApp;
use threatmap_core::attr::Kind;
use threatmap_core::model::Model;

fn example() -> Model {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/examples/web-app.threatmap.json");
    threatmap_core::file::load_any(&path).unwrap().model
}

fn harness(model: Model) -> Harness<'static, ThreatmapApp> {
    let mut h = Harness::builder()
        .with_size(vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut ThreatmapApp| app.ui(ui), ThreatmapApp::new(model, None, None));
    h.run_steps(3);
    h
}

/// A screen position of a canvas point.
fn screen(h: &Harness<'_, ThreatmapApp>, p: Pos2) -> Pos2 {
    h.state().canvas.screen_from_canvas(p)
}

/// Presses at `from`, moves there in small steps (one frame each), releases at `to`.
fn drag(h: &mut Harness<'_, ThreatmapApp>, from: Pos2, to: Pos2) {
    h.hover_at(from);
    h.step();
    h.drag_at(from);
    h.step();
    for k in 1..=8 {
        h.hover_at(from.lerp(to, k as f32 / 8.0));
        h.step();
    }
    h.drop_at(to);
    h.run_steps(3);
}

/// Presses and releases the primary button at `p`.
fn click_at(h: &mut Harness<'_, ThreatmapApp>, p: Pos2) {
    h.hover_at(p);
    h.step();
    h.drag_at(p);
    h.step();
    h.drop_at(p);
    h.run_steps(2);
}

fn rect(h: &Harness<'_, ThreatmapApp>, id: &str) -> egui::Rect {
    let m = &h.state().doc.model;
    let kind = m.elements.iter().find(|e| e.id == id).unwrap().kind;
    rect_of(m, 0, id, kind).unwrap()
}

fn element<'a>(h: &'a Harness<'_, ThreatmapApp>, id: &str) -> &'a threatmap_core::model::Element {
    h.state().doc.model.elements.iter().find(|e| e.id == id).unwrap()
}

#[test]
fn palette_drop_creates_an_element_at_the_drop_point_and_inside_a_boundary() {
    let mut h = harness(Model::new("empty"));
    // An empty canvas at zoom 1: drop a boundary, then a server inside it, then an actor outside.
    h.state_mut().canvas.zoom = 1.0;
    h.state_mut().canvas.pan = vec2(0.0, 0.0);
    h.run_steps(2);
    let boundary_at = screen(&h, pos2(400.0, 300.0));
    let from = h.get_by_label("Boundary").rect().center();
    drag(&mut h, from, boundary_at);
    let b = h.state().doc.model.elements.iter().find(|e| e.kind == Kind::Boundary).expect("a boundary was created").id.clone();
    let r = rect(&h, &b);
    assert!((r.center() - pos2(400.0, 300.0)).length() < 12.0, "boundary centred at the drop point: {r:?}");

    let from = h.get_by_label("Server").rect().center();
    let to = screen(&h, pos2(380.0, 310.0));
    drag(&mut h, from, to);
    let server = h.state().doc.model.elements.iter().find(|e| e.kind == Kind::Server).expect("a server was created").clone();
    assert!((rect(&h, &server.id).center() - pos2(380.0, 310.0)).length() < 12.0);
    assert_eq!(server.in_boundary.as_deref(), Some(b.as_str()), "dropped inside the boundary, so it belongs to it");

    let from = h.get_by_label("Actor").rect().center();
    let to = screen(&h, pos2(760.0, 300.0));
    drag(&mut h, from, to);
    let actor = h.state().doc.model.elements.iter().find(|e| e.kind == Kind::Actor).expect("an actor was created").clone();
    assert_eq!(actor.in_boundary, None);

    // Moving the actor into the boundary makes it a member; moving the boundary moves its members.
    let a = rect(&h, &actor.id).center();
    h.state_mut().selection.clear();
    let (from, to) = (screen(&h, a), screen(&h, pos2(470.0, 260.0)));
    drag(&mut h, from, to);
    assert_eq!(element(&h, &actor.id).in_boundary.as_deref(), Some(b.as_str()));
    let before = rect(&h, &server.id);
    let label = rect(&h, &b).min + vec2(30.0, 10.0);
    h.state_mut().selection.clear();
    let (from, to) = (screen(&h, label), screen(&h, label + vec2(100.0, 50.0)));
    drag(&mut h, from, to);
    let after = rect(&h, &server.id);
    assert!((after.min - before.min - vec2(100.0, 50.0)).length() < 11.0, "members move with their boundary: {before:?} → {after:?}");
}

#[test]
fn dragging_from_a_handle_to_another_element_draws_a_flow() {
    let mut h = harness(example());
    let flows = |h: &Harness<'_, ThreatmapApp>| h.state().doc.model.elements.iter().filter(|e| e.kind == Kind::Dataflow).count();
    let before = flows(&h);
    let user = rect(&h, "user");
    let cleaner = rect(&h, "cleaner");
    // Hover the user to show its handle, then drag from the handle onto the comment cleaner.
    let handle = screen(&h, user.right_center() + vec2(10.0, 0.0));
    let to = screen(&h, cleaner.center());
    drag(&mut h, handle, to);
    assert_eq!(flows(&h), before + 1, "a flow was drawn");
    let f = h.state().doc.model.elements.iter().rfind(|e| e.kind == Kind::Dataflow).unwrap().clone();
    assert_eq!((f.source.as_deref(), f.sink.as_deref()), (Some("user"), Some("cleaner")));
    assert!(h.state().selection.contains(&f.id), "the new flow is selected");
}

#[test]
fn selecting_an_element_lists_its_findings_and_a_control_removes_one_until_undone() {
    let mut h = harness(example());
    let web = rect(&h, "web").center();
    h.hover_at(screen(&h, web));
    h.step();
    h.drag_at(screen(&h, web));
    h.step();
    h.drop_at(screen(&h, web));
    h.run_steps(3);
    assert_eq!(h.state().selection.iter().collect::<Vec<_>>(), ["web"]);
    let badge = |h: &Harness<'_, ThreatmapApp>| h.state().cache.badge_of(&h.state().doc.model, "web").map(|b| b.count).unwrap_or(0);
    let open = badge(&h);
    assert!(open > 0);
    let _ = h.get_by_label(&format!("Findings ({open})"));
    let _ = h.get_by_label_contains("GEN-INJ-01 — SQL injection through Web");

    // Setting the control GEN-INJ-01 checks removes that finding and lowers the badge, at once.
    h.get_by_label("Search").focus();
    h.run_steps(2);
    h.get_by_label("Search").type_text("usesParameterizedInput");
    h.run_steps(3);
    h.get_by_label("usesParameterizedInput").click();
    h.run_steps(3);
    assert_eq!(badge(&h), open - 1, "the badge count follows the edit");
    assert!(h.query_by_label_contains("GEN-INJ-01 — SQL injection through Web").is_none());

    // Undo brings the finding and the badge back.
    h.state_mut().doc.undo();
    h.run_steps(3);
    assert_eq!(badge(&h), open);
    let _ = h.get_by_label_contains("GEN-INJ-01 — SQL injection through Web");
}

#[test]
fn save_then_open_round_trips_the_model_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roundtrip.threatmap.json");
    let mut h = harness(example());
    // An edit, then Save (Ctrl+S) to a known path.
    h.state_mut().doc.edit(|m| {
        document::add_element(m, 0, Kind::Lambda, pos2(600.0, 600.0));
    });
    h.state_mut().doc.path = Some(path.clone());
    h.key_press_modifiers(Modifiers::COMMAND, Key::S);
    h.run_steps(3);
    assert!(!h.state().doc.is_dirty(), "saved: {}", h.state().status);
    let saved = h.state().doc.model.clone();
    let mut other = ThreatmapApp::new(Model::new("x"), None, None);
    other.open(&path);
    assert_eq!(other.doc.model, saved);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), threatmap_core::file::to_canonical_json(&saved));
}

#[test]
fn quitting_with_unsaved_changes_asks_first() {
    let mut h = harness(example());
    h.state_mut().doc.path = Some("unused.threatmap.json".into());
    h.state_mut().doc.edit(|m| m.name = "changed".into());
    h.key_press_modifiers(Modifiers::COMMAND, Key::Q);
    h.run_steps(3);
    let _ = h.get_by_label("Unsaved changes");
    h.get_by_label("Cancel").click();
    h.run_steps(3);
    assert!(h.query_by_label("Unsaved changes").is_none());
    assert_eq!(h.state().doc.model.name, "changed", "nothing was lost");
}

#[test]
fn deleting_every_element_of_a_saved_model_is_unsaved_work() {
    let mut h = harness(example());
    h.state_mut().doc.path = Some("unused.threatmap.json".into());
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.key_press(Key::Delete);
    h.run_steps(2);
    assert!(h.state().doc.model.elements.is_empty());
    h.key_press_modifiers(Modifiers::COMMAND, Key::Q);
    h.run_steps(3);
    let _ = h.get_by_label("Unsaved changes");
}

#[test]
fn delete_undo_redo_and_copy_paste() {
    let mut h = harness(example());
    let n = h.state().doc.model.elements.len();
    h.state_mut().selection = ["db".to_owned()].into();
    h.key_press(Key::Delete);
    h.run_steps(2);
    let m = &h.state().doc.model;
    assert!(
        m.elements.iter().all(|e| e.id != "db" && e.source.as_deref() != Some("db") && e.sink.as_deref() != Some("db")),
        "the node and its flows are gone"
    );
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().doc.model.elements.len(), n);
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    h.run_steps(2);
    assert!(h.state().doc.model.elements.len() < n);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    // Duplicate keeps a copy beside the original.
    h.state_mut().selection = ["web".to_owned()].into();
    h.key_press_modifiers(Modifiers::COMMAND, Key::D);
    h.run_steps(2);
    assert_eq!(h.state().doc.model.elements.len(), n + 1);
    let copy = h.state().selection.iter().next().unwrap().clone();
    assert_ne!(copy, "web");
    assert!((rect(&h, &copy).min - rect(&h, "web").min - vec2(30.0, 30.0)).length() < 1.0);
}

#[test]
fn unsaved_work_is_recovered_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let recovery = dir.path().join("recovery.threatmap.json");
    let saved = dir.path().join("model.threatmap.json");
    threatmap_core::file::save(&example(), &saved).unwrap();
    let mut app = ThreatmapApp::new(example(), Some(saved.clone()), Some(recovery.clone()));
    app.doc.edit(|m| m.name = "edited, never saved".into());
    app.autosave_now();
    assert!(recovery.is_file());
    drop(app); // the process dies without saving

    let mut h = Harness::builder()
        .with_size(vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut ThreatmapApp| app.ui(ui), ThreatmapApp::new(example(), Some(saved.clone()), Some(recovery.clone())));
    h.run_steps(3);
    let _ = h.get_by_label("Recover unsaved work?");
    h.get_by_label("Restore").click();
    h.run_steps(3);
    assert_eq!(h.state().doc.model.name, "edited, never saved");
    assert_eq!(h.state().doc.path.as_deref(), Some(saved.as_path()));
    assert!(h.state().doc.is_dirty(), "restored work is unsaved until saved");
}

#[test]
fn custom_controls_are_shown_and_edited_in_the_inspector() {
    let mut model = example();
    let web = model.elements.iter_mut().find(|e| e.id == "web").unwrap();
    web.controls.custom.insert("isNetworkFlow".to_owned(), threatmap_core::model::PropValue::Bool(true));
    let mut h = harness(model);
    h.state_mut().selection = ["web".to_owned()].into();
    h.run_steps(2);
    h.get_by_label("Controls").click();
    h.run_steps(2);
    h.get_by_label("Custom controls (1)").click();
    h.run_steps(2);
    h.get_by_label("isNetworkFlow");
    // Removing it is one undoable edit.
    h.get_all_by_label("Remove").last().unwrap().click();
    h.run_steps(3);
    assert!(element(&h, "web").controls.custom.is_empty());
    h.state_mut().doc.undo();
    h.run_steps(2);
    assert_eq!(element(&h, "web").controls.custom.len(), 1);
}

#[test]
fn overrides_and_custom_properties_are_edited_in_the_inspector() {
    let mut h = harness(example());
    h.state_mut().selection = ["web".to_owned()].into();
    h.run_steps(2);
    h.get_by_label("Overrides (0)").click();
    h.run_steps(2);
    h.get_by_label("Custom properties (0)").click();
    h.run_steps(2);
    // Type a threat id into the override field and add it.
    let add = h.get_by_label("Add override").rect().center();
    let field = add - vec2(120.0, 0.0);
    h.hover_at(field);
    h.drag_at(field);
    h.drop_at(field);
    h.run_steps(2);
    for e in "GEN-DOS-01".chars().map(|c| egui::Event::Text(c.to_string())) {
        h.event(e);
    }
    h.run_steps(2);
    h.get_by_label("Add override").click();
    h.run_steps(3);
    let web = element(&h, "web").clone();
    assert!(web.overrides.contains_key("GEN-DOS-01"), "{:?}", web.overrides.keys().collect::<Vec<_>>());
    h.state_mut().doc.undo();
    h.run_steps(2);
    assert!(element(&h, "web").overrides.is_empty());
    // A custom property: name it, add it as text.
    let plus = h.get_by_label("+ text").rect().center();
    let field = plus - vec2(100.0, 0.0);
    h.hover_at(field);
    h.drag_at(field);
    h.drop_at(field);
    h.run_steps(2);
    for e in "owner".chars().map(|c| egui::Event::Text(c.to_string())) {
        h.event(e);
    }
    h.run_steps(2);
    h.get_by_label("+ text").click();
    h.run_steps(3);
    assert!(element(&h, "web").properties.contains_key("owner"));
}

#[test]
fn resizing_a_boundary_changes_membership_and_flows_bend_and_straighten() {
    let mut h = harness(example());
    // Shrink the AWS VPC boundary from its bottom-right corner until the comment cleaner is out.
    let vpc = h.state().doc.model.elements.iter().find(|e| e.name == "AWS VPC").unwrap().id.clone();
    assert_eq!(element(&h, "cleaner").in_boundary.as_deref(), Some(vpc.as_str()));
    h.state_mut().selection = [vpc.clone()].into();
    h.run_steps(2);
    let r = rect(&h, &vpc);
    let cleaner = rect(&h, "cleaner");
    let (from, to) = (screen(&h, r.right_bottom()), screen(&h, pos2(r.right(), cleaner.min.y - 6.0)));
    drag(&mut h, from, to);
    assert!(rect(&h, &vpc).bottom() < cleaner.min.y, "resized: {:?}", rect(&h, &vpc));
    assert_ne!(element(&h, "cleaner").in_boundary.as_deref(), Some(vpc.as_str()), "the cleaner left the boundary");
    h.state_mut().doc.undo();
    h.run_steps(2);
    assert_eq!(element(&h, "cleaner").in_boundary.as_deref(), Some(vpc.as_str()), "undo restores size and membership");

    // Select a flow, drag its midpoint handle: it gets a waypoint; double-click straightens it.
    let flow = "clean-db";
    assert!(h.state().doc.model.elements.iter().any(|e| e.id == flow));
    let (a, b) = (rect(&h, "cleaner").center(), rect(&h, "db").center());
    h.state_mut().selection = [flow.to_owned()].into();
    h.run_steps(2);
    let had = document::waypoint(&h.state().doc.model, 0, flow);
    let mid = had.unwrap_or(a.lerp(b, 0.5));
    let (from, to) = (screen(&h, mid), screen(&h, mid + vec2(0.0, 120.0)));
    drag(&mut h, from, to);
    let w = document::waypoint(&h.state().doc.model, 0, flow).expect("a waypoint");
    assert!((w - (mid + vec2(0.0, 120.0))).length() < 12.0, "{w:?}");
    let at = screen(&h, w);
    h.hover_at(at);
    h.step();
    // Two clicks 50 ms apart (kittest leaves the input clock alone, so set it).
    for (k, pressed) in [true, false, true, false].into_iter().enumerate() {
        h.input_mut().time = Some(100.0 + 0.05 * k as f64);
        h.event(egui::Event::PointerButton { pos: at, button: egui::PointerButton::Primary, pressed, modifiers: Modifiers::NONE });
        h.step();
    }
    h.run_steps(2);
    assert!(document::waypoint(&h.state().doc.model, 0, flow).is_none(), "double-click straightens the flow");
}

#[test]
fn triage_in_the_inspector_closes_a_finding_and_lowers_the_badge() {
    let mut h = harness(example());
    h.state_mut().selection = ["web".to_owned()].into();
    h.run_steps(3);
    let badge = |h: &Harness<'_, ThreatmapApp>| h.state().cache.badge_of(&h.state().doc.model, "web").map(|b| b.count).unwrap_or(0);
    let open = badge(&h);
    h.get_by_label_contains("GEN-INJ-01 — SQL injection").click();
    h.run_steps(3);
    h.get_by_label("Status").click();
    h.run_steps(3);
    h.get_by_label("Mitigated").click();
    h.run_steps(3);
    let d = h.state().doc.model.decisions.get("GEN-INJ-01@web").expect("a decision").clone();
    assert_eq!(d.status, threatmap_core::lifecycle::Status::Mitigated);
    assert_eq!(d.history.len(), 1);
    assert_eq!(badge(&h), open - 1, "the badge counts open findings only");
    h.state_mut().doc.undo();
    h.run_steps(2);
    assert_eq!(badge(&h), open);
}

#[test]
fn exports_view_shortcuts_imports_and_recent_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(example());
    // File → Export writes each format.
    for (kind, name, magic) in [
        (threatmap_app::gui::ExportKind::Png, "d.png", &b"\x89PNG"[..]),
        (threatmap_app::gui::ExportKind::Svg, "d.svg", &b"<svg "[..]),
        (threatmap_app::gui::ExportKind::Report, "r.html", &b"<!DOCTYPE html>"[..]),
    ] {
        let p = dir.path().join(name);
        h.state_mut().write_export(kind, &p).unwrap();
        assert!(std::fs::read(&p).unwrap().starts_with(magic), "{name}");
    }
    // Zoom in, out and fit from the keyboard; select all and none.
    let z0 = h.state().canvas.zoom;
    h.key_press_modifiers(Modifiers::COMMAND, Key::Equals);
    h.run_steps(2);
    assert!((h.state().canvas.zoom - z0 * 1.25).abs() < 1e-3);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Minus);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Minus);
    h.run_steps(2);
    assert!(h.state().canvas.zoom < z0);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Num0);
    h.run_steps(2);
    assert!((h.state().canvas.zoom - z0).abs() < 1e-3, "fit again: {} vs {z0}", h.state().canvas.zoom);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run_steps(2);
    assert_eq!(h.state().selection.len(), h.state().doc.model.elements.len());
    h.key_press(Key::Escape);
    h.run_steps(2);
    assert!(h.state().selection.is_empty());
    // Opening pytm JSON imports it (laid out, unsaved, no path) and remembers it as recent.
    let pytm = dir.path().join("pytm.json");
    let m = h.state().doc.model.clone();
    let rules = threatmap_app::gui::rules_for(&m, None);
    let a = threatmap_core::engine::analyze(&m, &rules, &Default::default());
    let mut out = Vec::new();
    threatmap_core::pytm::write_json(&a, &mut out).unwrap();
    std::fs::write(&pytm, out).unwrap();
    h.state_mut().open(&pytm);
    h.run_steps(2);
    let app = h.state();
    assert!(app.status.starts_with("Imported"), "{}", app.status);
    assert!(app.doc.path.is_none() && app.doc.is_dirty());
    assert!(app.doc.model.elements.iter().filter(|e| e.kind.is_node()).all(|e| app.doc.model.layout.contains_key(&e.id)));
    assert_eq!(app.persisted().recent.first(), Some(&pytm));
}

#[test]
fn findings_new_since_a_baseline_are_marked_and_filtered() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("baseline.threatmap.json");
    threatmap_core::file::save(&example(), &baseline).unwrap();
    // The current version has one more server.
    let mut m = example();
    m.elements.push(threatmap_core::model::Element::new("cdn", Kind::Server, "CDN"));
    let mut h = harness(m);
    h.state_mut().show_table = true;
    h.run_steps(3);
    assert!(h.query_by_label("New since baseline").is_none(), "no baseline, no filter");
    h.state_mut().set_baseline(&baseline);
    h.run_steps(3);
    let new_keys: Vec<String> = {
        let app = h.state_mut();
        let a = app.analysis();
        let keys: Vec<String> = a.findings.iter().map(|f| a.key(f)).collect();
        keys.into_iter().filter(|k| !app.baseline.as_ref().unwrap().keys.contains(k)).collect()
    };
    assert!(!new_keys.is_empty() && new_keys.iter().all(|k| k.ends_with("@cdn")), "{new_keys:?}");
    assert!(h.query_all_by_label("Web Server (Server)").count() > 0, "known findings are listed before filtering");
    // Only the new findings remain when the filter is on; each is marked.
    h.get_by_label("New since baseline").click();
    h.run_steps(3);
    let marked = h.query_all_by_label("NEW").count();
    assert!(marked > 0);
    assert_eq!(h.query_all_by_label("CDN (Server)").count(), marked, "every row shown is a new one, and marked");
    assert_eq!(h.query_all_by_label("Web Server (Server)").count(), 0, "known findings are hidden by the filter");
}

#[test]
fn file_import_converts_and_opens_another_tools_model() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("shop.otm.json");
    std::fs::write(
        &src,
        r#"{"otmVersion": "0.2.0", "project": {"name": "Shop", "id": "shop"},
            "trustZones": [{"id": "dmz", "name": "DMZ", "risk": {"trustRating": 40}}],
            "components": [{"id": "api", "name": "Shop API", "type": "web-service", "parent": {"trustZone": "dmz"},
                            "threats": [{"threat": "T1", "state": "MITIGATED"}]},
                           {"id": "db", "name": "Orders", "type": "postgresql", "parent": {"trustZone": "dmz"}}],
            "dataflows": [{"id": "f", "name": "Store", "source": "api", "destination": "db"}],
            "threats": [{"id": "T1", "name": "Injection", "risk": {"likelihood": 80, "impact": 80}}]}"#,
    )
    .unwrap();
    let out = dir.path().join("shop.threatmap.json");
    let mut h = harness(example());
    h.state_mut().import(threatmap_app::convert::ImportFormat::Otm, &src, &out);
    h.run_steps(3);
    let app = h.state();
    assert!(app.status.starts_with("Imported"), "{}", app.status);
    assert_eq!(app.doc.path.as_deref(), Some(out.as_path()), "the imported model is saved and open");
    assert!(dir.path().join("shop.threats.toml").is_file(), "its threats pack is written beside it");
    assert_eq!(app.doc.model.name, "Shop");
    assert!(app.rules.rules.iter().any(|r| r.id == "T1"), "the pack is loaded");
    assert!(app.doc.model.elements.iter().filter(|e| e.kind.is_node()).all(|e| app.doc.model.layout.contains_key(&e.id)), "laid out");
    // A broken file leaves the open model alone and says why.
    let bad = dir.path().join("bad.tm7");
    std::fs::write(&bad, "<!DOCTYPE x [<!ENTITY a \"b\">]><ThreatModel/>").unwrap();
    h.state_mut().import(threatmap_app::convert::ImportFormat::Tm7, &bad, &dir.path().join("bad.threatmap.json"));
    assert!(h.state().status.contains("declares a DTD"), "{}", h.state().status);
    assert_eq!(h.state().doc.model.name, "Shop");
}

#[test]
fn opening_another_tools_model_imports_it_and_a_file_that_is_no_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let td = dir.path().join("td.json");
    std::fs::write(&td, r#"{"version": "2.3.0", "summary": {"title": "Shop"}, "detail": {"diagrams": []}}"#).unwrap();
    let mut h = harness(example());
    let before = h.state().doc.model.clone();
    h.state_mut().open(&td);
    h.run_steps(2);
    let app = h.state();
    assert!(app.status.contains("Threat Dragon v2 model"), "{}", app.status);
    assert_eq!(
        app.files.asking(),
        Some(&threatmap_app::files::Purpose::ImportTarget(threatmap_app::convert::ImportFormat::ThreatDragon, td.clone())),
        "the app asks where the imported model goes"
    );
    assert_eq!(app.doc.model, before, "the open model is left alone until the import is done");

    let bom = dir.path().join("bom.json");
    std::fs::write(&bom, r#"{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []}"#).unwrap();
    let mut h = harness(example());
    h.state_mut().open(&bom);
    h.run_steps(2);
    let (what, why) = h.state().failure.clone().expect("the failure is shown");
    assert!(what.contains("bom.json") && why.contains("CycloneDX bill of materials"), "{what}: {why}");
    assert_eq!(h.state().doc.model, before);

    // A pytm script opens directly (read, never run), as an unsaved model; one that would
    // need running is refused at its line.
    let script = dir.path().join("tm.py");
    std::fs::write(&script, "from pytm import TM, Actor, Server, Dataflow\ntm = TM(\"Shop\")\nu = Actor(\"User\")\nw = Server(\"Web\")\nDataflow(u, w, \"Order\")\n").unwrap();
    let mut h = harness(example());
    h.state_mut().open(&script);
    h.run_steps(2);
    let app = h.state();
    assert_eq!(app.doc.model.name, "Shop");
    assert_eq!(app.doc.model.elements.len(), 3);
    assert!(app.doc.path.is_none(), "Save asks where the native model goes");
    assert!(app.status.contains("Imported"), "{}", app.status);
    std::fs::write(&script, "from pytm import TM, Server\ntm = TM(\"x\")\nwhile True:\n    Server(\"a\")\n").unwrap();
    h.state_mut().open(&script);
    h.run_steps(2);
    let (what, why) = h.state().failure.clone().expect("the failure is shown");
    assert!(what.contains("tm.py") && why.contains(":3:1") && why.contains("`while` loop"), "{what}: {why}");
    assert_eq!(h.state().doc.model.name, "Shop", "the open model is kept");
}

/// The ids of the nodes the canvas would draw now (its geometry for the current document).
fn drawn_nodes(h: &mut Harness<'_, ThreatmapApp>) -> Vec<String> {
    // A frame paints the canvas; the badges it placed name what was drawn.
    h.run_steps(1);
    let app = h.state();
    let mut ids: Vec<String> = app.canvas.badge_hits.iter().map(|(_, id)| id.clone()).collect();
    ids.sort();
    ids.dedup();
    ids
}

#[test]
fn the_first_frame_after_open_or_new_shows_the_new_document() {
    let dir = tempfile::tempdir().unwrap();
    let iot = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/examples/iot-board.threatmap.json");
    let mut h = harness(example());
    h.state_mut().show_table = true;
    h.run_steps(2);
    assert!(drawn_nodes(&mut h).contains(&"web".to_owned()));
    // Open: every badge drawn belongs to the new model, and the table lists its findings only.
    h.state_mut().open(&iot);
    h.run_steps(1);
    let ids: std::collections::BTreeSet<String> = h.state().doc.model.elements.iter().map(|e| e.id.clone()).collect();
    let drawn = drawn_nodes(&mut h);
    assert!(!drawn.is_empty() && drawn.iter().all(|d| ids.contains(d)), "badges of another model drawn: {drawn:?}");
    assert!(h.query_all_by_label("Web Server (Server)").count() == 0, "the previous model's rows are listed");
    assert!(h.state().status.contains("iot-board"), "{}", h.state().status);
    // New: nothing drawn, nothing listed, and the status says so.
    h.state_mut().request(threatmap_app::gui::Pending::New);
    assert!(h.state().prompt.is_none(), "nothing unsaved");
    h.run_steps(1);
    assert!(drawn_nodes(&mut h).is_empty());
    assert!(h.state().status.starts_with("New model"), "{}", h.state().status);
    let _ = dir;
}

#[test]
fn typing_a_new_name_is_one_undo_step() {
    let mut h = harness(example());
    h.state_mut().selection = std::collections::BTreeSet::from(["web".to_owned()]);
    h.run_steps(3);
    let field = h.get_by_label("Name");
    field.click();
    h.run_steps(2);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run_steps(1);
    for c in "Orders API".chars() {
        h.event(egui::Event::Text(c.to_string()));
        h.run_steps(1);
    }
    assert_eq!(element(&h, "web").name, "Orders API");
    // Leave the field, then undo once: the whole rename goes.
    h.key_press(Key::Escape);
    h.run_steps(2);
    h.state_mut().doc.end_field_edit();
    assert!(h.state_mut().doc.undo());
    assert_eq!(element(&h, "web").name, "Web Server", "one undo restores the name typed over");
}

#[test]
fn counts_agree_with_the_cli_and_the_table_counts_what_it_shows() {
    let mut m = example();
    // Two decisions: one mitigated (no longer open), one in progress (still open).
    let rules = threatmap_app::gui::rules_for(&m, None);
    let keys: Vec<String> = {
        let a = threatmap_core::engine::analyze(&m, &rules, &Default::default());
        a.findings.iter().take(2).map(|f| a.key(f)).collect()
    };
    for (k, st) in keys.iter().zip([threatmap_core::lifecycle::Status::Mitigated, threatmap_core::lifecycle::Status::InProgress]) {
        m.decisions.entry(k.clone()).or_default().set_status(st, "t", "");
    }
    let expected_open = {
        let a = threatmap_core::engine::analyze(&m, &rules, &Default::default());
        a.open_findings().count()
    };
    let mut h = harness(m);
    h.state_mut().show_table = true;
    h.run_steps(3);
    let app = h.state();
    assert_eq!(app.cache.open, expected_open);
    let badge_total: usize = app.cache.badges.iter().flatten().map(|b| b.count).sum();
    assert_eq!(badge_total, expected_open, "badges count open findings");
    let status = format!("{} open findings", expected_open);
    assert!(h.query_by_label_contains(&status).is_some(), "status bar: {status}");
    // The default "Needs work" filter shows the open ones, and the tab says how many of all.
    let all = h.state().cache.findings.len() + h.state().cache.excluded.len();
    assert!(h.query_by_label(&format!("Findings ({expected_open} of {all})")).is_some(), "tab label with the filter");
}

#[test]
fn a_table_row_opens_its_finding_and_a_badge_shows_its_element() {
    let mut h = harness(example());
    h.state_mut().show_table = true;
    h.run_steps(3);
    // The row's element column (not its title) is enough.
    let cell = h.get_all_by_label("Comment cleaner (Lambda)").next().unwrap().rect().center();
    click_at(&mut h, cell);
    h.run_steps(3);
    assert_eq!(h.state().selection, std::collections::BTreeSet::from(["cleaner".to_owned()]));
    assert!(h.query_by_label("Justification").is_some(), "the finding is opened in the inspector");
    // A badge: a click selects its element (it used to clear the selection).
    h.state_mut().selection.clear();
    h.run_steps(2);
    let (r, id) = h.state().canvas.badge_hits.iter().find(|(_, id)| id == "web").cloned().expect("the web server's badge");
    click_at(&mut h, r.center());
    h.run_steps(3);
    assert_eq!(h.state().selection, std::collections::BTreeSet::from([id]));
}

#[test]
fn the_attribute_search_belongs_to_one_element_and_arrows_have_a_glyph() {
    let mut h = harness(example());
    h.state_mut().selection = std::collections::BTreeSet::from(["web".to_owned()]);
    h.run_steps(3);
    h.state_mut().property_search = "sanitizes".to_owned();
    h.run_steps(2);
    assert!(h.query_by_label("sanitizesInput").is_some());
    assert!(h.query_by_label("protocol").is_none(), "filtered");
    h.state_mut().selection = std::collections::BTreeSet::from(["db".to_owned()]);
    h.run_steps(3);
    assert!(h.state().property_search.is_empty(), "another element starts unfiltered");
    // The triage history's arrow (and the sort marker) come from a font that has them.
    let ctx = h.ctx.clone();
    let has = |c: char| ctx.fonts_mut(|f| f.has_glyph(&egui::FontId::proportional(12.0), c));
    for c in ['→', '…'] {
        assert!(has(c), "no glyph for {c}");
    }
}

#[test]
fn a_boundary_dropped_over_nodes_takes_them_in() {
    let mut h = harness(Model::new("empty"));
    h.state_mut().canvas.zoom = 1.0;
    h.state_mut().canvas.pan = vec2(0.0, 0.0);
    h.run_steps(2);
    for (label, p) in [("Server", pos2(400.0, 250.0)), ("Datastore", pos2(400.0, 360.0)), ("Actor", pos2(100.0, 250.0))] {
        let from = h.get_by_label(label).rect().center();
        let to = screen(&h, p);
        drag(&mut h, from, to);
    }
    let from = h.get_by_label("Boundary").rect().center();
    let to = screen(&h, pos2(400.0, 300.0));
    drag(&mut h, from, to);
    let m = &h.state().doc.model;
    let b = m.elements.iter().find(|e| e.kind == Kind::Boundary).unwrap().id.clone();
    let of = |k: Kind| m.elements.iter().find(|e| e.kind == k).unwrap().in_boundary.clone();
    assert_eq!(of(Kind::Server).as_deref(), Some(b.as_str()));
    assert_eq!(of(Kind::Datastore).as_deref(), Some(b.as_str()));
    assert_eq!(of(Kind::Actor), None);
    // Undo the drop: membership goes with it.
    assert!(h.state_mut().doc.undo());
    assert!(h.state().doc.model.elements.iter().all(|e| e.in_boundary.is_none()));
}

/// In a small window the findings table stays in its slot: its toolbar wraps to two rows and
/// no part of it runs under the inspector.
#[test]
fn a_small_window_keeps_the_findings_table_clear_of_the_inspector() {
    let mut h = Harness::builder()
        .with_size(vec2(1024.0, 700.0))
        .build_ui_state(|ui, app: &mut ThreatmapApp| app.ui(ui), ThreatmapApp::new(example(), None, None));
    h.run_steps(4);
    let inspector_left = h.get_by_label("Threat model").rect().left();
    let mut rects = vec![("the Element column".to_owned(), h.get_by_label("Sort by Element").rect())];
    for combo in h.get_all_by_role(egui::accesskit::Role::ComboBox) {
        rects.push((format!("the {:?} filter", combo.value()), combo.rect()));
    }
    assert!(rects.len() >= 3, "{rects:?}");
    for (what, r) in rects {
        assert!(r.right() < inspector_left, "{what} ends at {} but the inspector starts at {inspector_left}", r.right());
    }
    // The ID column is wide enough for the IDs ("GEN-AUTH-01" is about 90 px).
    let (id, title) = (h.get_by_label("Sort by ID").rect(), h.get_by_label("Sort by Title").rect());
    assert!(title.left() - id.left() >= 100.0, "the ID column is {} px", title.left() - id.left());
}

/// The inspector never grows wider than its panel: egui would widen the panel under the canvas
/// and hide its left part (labels, checkboxes, the triage fields). Checked at two window sizes
/// on a server (attributes and controls), on a finding being triaged, and on a flow.
#[test]
fn the_inspector_fits_its_panel() {
    for (w, hgt) in [(1024.0, 700.0), (1280.0, 800.0)] {
        for (id, finding) in [("web", Some("GEN-INJ-01@web")), ("post-comment", None), ("cleaner", None)] {
            let mut model = example();
            if let Some(key) = finding {
                let mut d = threatmap_core::lifecycle::Decision::default();
                d.set_status(threatmap_core::lifecycle::Status::AcceptedRisk, "ana", "");
                model.decisions.insert(key.to_owned(), d);
            }
            let mut h = Harness::builder()
                .with_size(vec2(w, hgt))
                .build_ui_state(|ui, app: &mut ThreatmapApp| app.ui(ui), ThreatmapApp::new(model, None, None));
            h.run_steps(2);
            h.state_mut().show_table = true;
            h.state_mut().selection.insert(id.to_owned());
            h.state_mut().focus_finding = finding.map(str::to_owned);
            h.run_steps(4);
            // Between the palette and the inspector, below the diagram tabs and above the
            // findings table, there is only the painted canvas: any widget there has spilled
            // out of the inspector.
            let inspector_left = w - (w * 0.27).clamp(240.0, 400.0);
            let table_top = h.get_by_label("Sort by Title").rect().top() - 30.0;
            let canvas_top = h.state().canvas.screen_rect.top();
            if let Some(key) = finding {
                h.get_by_label("Justification");
                assert!(h.query_by_label_contains("needs a justification").is_some(), "{key}: the missing justification is said");
            }
            let mut spilled = Vec::new();
            for node in h.query_all(egui_kittest::kittest::by().predicate(|_| true)) {
                let a = egui_kittest::kittest::NodeT::accesskit_node(&node);
                let Some(b) = a.bounding_box() else { continue };
                let (left, right, top, bottom) = (b.x0 as f32, b.x1 as f32, b.y0 as f32, b.y1 as f32);
                let label = a.label().unwrap_or_default();
                let tab = bottom <= canvas_top + 1.0 && (label == "Diagram" || label == "+ Diagram");
                // The elements drawn on the canvas are in the tree too, where they are drawn.
                let drawn = label.ends_with("open findings") || label.ends_with("open finding") || label.contains(", worst ");
                let tab = tab || drawn;
                let in_band = left > 151.0 && top > 30.0 && bottom < table_top && right - left < w * 0.5 && !tab;
                if in_band && (left < inspector_left - 1.0 || right > w + 1.0) {
                    spilled.push(format!("{:?} {:?} at {left:.0}..{right:.0}", a.role(), a.label().unwrap_or_default()));
                }
            }
            assert!(spilled.is_empty(), "{w}×{hgt}, {id}: the inspector starts at {inspector_left}, but\n{}", spilled.join("\n"));
        }
    }
}

/// A stored layout that contradicts the model (a node drawn outside the boundary it is in, as
/// some tools export) never changes the model: opening lays the diagram out afresh from the
/// memberships and says so; an import says what it could not carry under Messages.
#[test]
fn opening_a_layout_that_contradicts_the_model_keeps_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(example());
    // The example as the app places it, with the web server then dragged far out of its VPC
    // in the file.
    let mut model = h.state().doc.model.clone();
    let web = model.layout.get_mut("web").map(|p| {
        p.x = 5000.0;
        p.y = 5000.0;
    });
    assert!(web.is_some(), "the example places the web server");
    let path = dir.path().join("moved.threatmap.json");
    threatmap_core::file::save(&model, &path).unwrap();
    h.state_mut().open(&path);
    h.run_steps(2);
    let app = h.state();
    let memberships = |m: &Model| m.elements.iter().map(|e| (e.id.clone(), e.in_boundary.clone())).collect::<Vec<_>>();
    assert_eq!(memberships(&app.doc.model), memberships(&model), "no membership changed");
    let (node, zone) =
        (rect_of(&app.doc.model, 0, "web", Kind::Server).unwrap(), rect_of(&app.doc.model, 0, "vpc", Kind::Boundary).unwrap());
    assert!(zone.contains(node.center()), "the web server is drawn inside its boundary: {node:?} in {zone:?}");
    assert!(app.status.contains("laid out afresh"), "{}", app.status);
    assert!(app.cache.messages.iter().any(|m| m.contains("laid out afresh")), "{:?}", app.cache.messages);
    assert!(!app.doc.is_dirty(), "opening leaves nothing unsaved");

    // An OTM file whose positions fit neither reading: imported whole, its warning listed.
    let otm = dir.path().join("zones.otm.json");
    std::fs::write(
        &otm,
        serde_json::json!({
            "otmVersion": "0.2.0", "project": {"name": "Zones", "id": "zones"},
            "trustZones": [{"id": "dmz", "name": "DMZ", "risk": {"trustRating": 40},
                "representations": [{"representation": "d", "id": "dmz-r", "position": {"x": 500, "y": 300}, "size": {"width": 400, "height": 300}}]}],
            "components": [{"id": "api", "name": "API", "type": "web-service", "parent": {"trustZone": "dmz"},
                "representations": [{"representation": "d", "id": "api-r", "position": {"x": 3000, "y": 10}, "size": {"width": 100, "height": 60}}]}],
            "dataflows": []
        })
        .to_string(),
    )
    .unwrap();
    let out = dir.path().join("zones.threatmap.json");
    h.state_mut().import(threatmap_app::convert::ImportFormat::Otm, &otm, &out);
    h.run_steps(2);
    let app = h.state();
    assert_eq!(app.doc.model.elements.iter().find(|e| e.id == "api").and_then(|e| e.in_boundary.as_deref()), Some("dmz"));
    assert!(app.cache.messages.iter().any(|m| m.starts_with("import: positions not kept")), "{:?}", app.cache.messages);
    assert!(app.status.contains("what it could not carry: see Messages"), "{}", app.status);
}

/// The Findings tab's count follows the model while the Messages tab is shown.
#[test]
fn the_findings_tab_count_follows_the_model_behind_the_messages_tab() {
    let iot = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/examples/iot-board.threatmap.json");
    let mut h = harness(example());
    h.state_mut().show_table = true;
    h.run_steps(2);
    h.get_by_label_contains("Messages (").click();
    h.run_steps(2);
    h.state_mut().open(&iot);
    h.run_steps(3);
    let open = h.state().cache.open;
    let label = egui_kittest::kittest::NodeT::accesskit_node(&h.get_by_label_contains("Findings (")).label().unwrap_or_default();
    assert!(label.starts_with(&format!("Findings ({open}")), "{label}, with {open} open findings");
}

/// A boundary's inspector lists what it contains; badges keep clear of each node's connection
/// handle (the blue dot a flow is drawn from).
#[test]
fn boundaries_list_their_members_and_badges_leave_the_handles_free() {
    let mut h = harness(example());
    h.state_mut().selection.insert("vpc".to_owned());
    h.run_steps(3);
    let members =
        h.state().doc.model.elements.iter().filter(|e| e.in_boundary.as_deref() == Some("vpc")).map(|e| e.name.clone()).collect::<Vec<_>>();
    assert!(members.len() >= 2, "{members:?}");
    h.get_by_label(&format!("Contains ({}): {}", members.len(), members.join(", ")));
    let app = h.state();
    for e in app.doc.model.elements.iter().filter(|e| e.kind.is_node()) {
        let Some(r) = rect_of(&app.doc.model, 0, &e.id, e.kind) else { continue };
        let handle = egui::Rect::from_center_size(app.canvas.screen_from_canvas(r.right_center() + vec2(10.0, 0.0)), vec2(12.0, 12.0));
        for (badge, id) in &app.canvas.badge_hits {
            assert!(!badge.intersects(handle), "the badge of {id} covers the handle of {}", e.id);
        }
    }
}

/// A flow's label never sits on a node's name: a flow drawn straight through a node puts its
/// label beside the node, on its own path.
#[test]
fn flow_labels_keep_off_the_nodes() {
    let mut m = Model::new("Row");
    for (id, kind, x) in [("a", Kind::Actor, 0.0), ("b", Kind::Process, 320.0), ("c", Kind::Datastore, 640.0)] {
        m.elements.push(threatmap_core::model::Element::new(id, kind, id.to_uppercase()));
        m.layout.insert(
            id.to_owned(),
            threatmap_core::model::Placement { x, y: 100.0, width: Some(140.0), height: Some(70.0), line: Vec::new() },
        );
    }
    m.elements.push(threatmap_core::model::Element::flow("through", "Passes through B", "a".to_owned(), "c".to_owned()));
    m.elements.push(threatmap_core::model::Element::flow("ab", "A to B", "a".to_owned(), "b".to_owned()));
    let mut h = harness(m);
    h.run_steps(3);
    let app = h.state();
    let nodes: Vec<egui::Rect> = ["a", "b", "c"]
        .iter()
        .map(|id| {
            let r = rect_of(&app.doc.model, 0, id, Kind::Process).unwrap();
            egui::Rect::from_min_max(app.canvas.screen_from_canvas(r.min), app.canvas.screen_from_canvas(r.max))
        })
        .collect();
    assert_eq!(app.canvas.label_hits.len(), 2, "{:?}", app.canvas.label_hits);
    for (label, id) in &app.canvas.label_hits {
        for n in &nodes {
            assert!(!label.intersects(*n), "the label of {id} ({label:?}) covers a node ({n:?})");
        }
    }
    let (first, second) = (app.canvas.label_hits[0].0, app.canvas.label_hits[1].0);
    assert!(!first.intersects(second), "labels apart: {first:?} {second:?}");
}

/// A boundary dropped over nodes that it only partly covers grows to hold them whole: the
/// drawing never shows a member sticking out of its boundary.
#[test]
fn a_dropped_boundary_holds_its_members_whole() {
    let mut m = Model::new("Drop");
    for (id, kind, x) in [("p", Kind::Process, 150.0), ("s", Kind::Datastore, 380.0)] {
        m.elements.push(threatmap_core::model::Element::new(id, kind, id.to_uppercase()));
        m.layout.insert(
            id.to_owned(),
            threatmap_core::model::Placement { x, y: 100.0, width: Some(140.0), height: Some(70.0), line: Vec::new() },
        );
    }
    let b = document::add_element(&mut m, 0, Kind::Boundary, pos2(300.0, 135.0));
    for id in ["p", "s"] {
        let e = m.elements.iter().find(|e| e.id == id).unwrap();
        assert_eq!(e.in_boundary.as_deref(), Some(b.as_str()), "{id} is inside");
        let (r, zone) = (rect_of(&m, 0, id, e.kind).unwrap(), rect_of(&m, 0, &b, Kind::Boundary).unwrap());
        assert!(zone.contains_rect(r), "{id} {r:?} is drawn wholly inside {zone:?}");
    }
}

/// Diagrams as tabs: a new diagram starts empty and takes what is dropped on it; an element
/// shown on two diagrams (ticked in the inspector) is one element with one set of findings;
/// undo takes the diagram away again.
#[test]
fn diagram_tabs_add_switch_and_share_elements() {
    let mut h = harness(example());
    let findings = |h: &Harness<'_, ThreatmapApp>| h.state().analysis().findings.len();
    let before = findings(&h);
    let _ = h.get_by_label("Diagram");
    h.get_by_label("+ Diagram").click();
    h.run_steps(3);
    assert_eq!(h.state().canvas.diagram, 1, "the new diagram is shown");
    let m = &h.state().doc.model;
    assert_eq!((m.diagram_name(0), m.diagram_name(1)), ("Diagram 1", "Diagram 2"));
    assert!(m.layout.is_empty() && m.layout_of(0).contains_key("web"), "the first diagram keeps the positions");
    let _ = h.get_by_label("Diagram 1");
    let _ = h.get_by_label("Diagram 2");

    // A stencil dropped on the new diagram is drawn there only.
    h.state_mut().canvas.zoom = 1.0;
    h.state_mut().canvas.pan = vec2(0.0, 0.0);
    h.run_steps(2);
    let ids = |h: &Harness<'_, ThreatmapApp>| {
        h.state().doc.model.elements.iter().map(|e| e.id.clone()).collect::<std::collections::BTreeSet<_>>()
    };
    let had = ids(&h);
    let from = h.get_by_label("Lambda").rect().center();
    let to = screen(&h, pos2(300.0, 200.0));
    drag(&mut h, from, to);
    let lambda = ids(&h).difference(&had).next().expect("a lambda was created").clone();
    // The findings table can show only what this diagram draws: the lambda's findings.
    h.get_by_label("This diagram").click();
    h.run_steps(3);
    let lambda_open = {
        let a = h.state().analysis();
        a.open_findings().filter(|f| a.prepared.element(f.element).id == lambda).count()
    };
    assert!(lambda_open > 0);
    let _ = h.get_by_label_contains(&format!("Findings ({lambda_open} of"));
    h.get_by_label("This diagram").click();
    h.run_steps(3);
    let m = &h.state().doc.model;
    assert!(
        rect_of(m, 1, &lambda, Kind::Lambda).is_some() && rect_of(m, 0, &lambda, Kind::Lambda).is_none(),
        "{:?} {:?} {}",
        rect_of(m, 0, &lambda, Kind::Lambda),
        rect_of(m, 1, &lambda, Kind::Lambda),
        m.diagrams.len()
    );

    // Back on the first diagram, the web server is ticked onto the second one too.
    h.state_mut().selection.clear();
    h.run_steps(2);
    h.get_by_label("Diagram 1").click();
    h.run_steps(2);
    assert_eq!(h.state().canvas.diagram, 0);
    h.state_mut().selection = std::collections::BTreeSet::from(["web".to_owned()]);
    h.run_steps(2);
    let _ = h.get_by_label("On diagrams");
    use egui_kittest::kittest::NodeT as _;
    let checkbox = |n: &egui_kittest::Node<'_>| n.accesskit_node().role() == egui::accesskit::Role::CheckBox;
    h.get_all_by_label("Diagram 2").find(checkbox).expect("a checkbox per diagram").click();
    h.run_steps(2);
    let m = &h.state().doc.model;
    let k = m.elements.iter().position(|e| e.id == "web").unwrap();
    assert_eq!(m.diagram_membership()[k], std::collections::BTreeSet::from([0, 1]), "web is on both diagrams");
    assert!(rect_of(m, 1, "web", Kind::Server).is_some());
    let lambda_findings =
        h.state().analysis().findings.iter().filter(|f| h.state().analysis().prepared.element(f.element).id == lambda).count();
    assert_eq!(findings(&h), before + lambda_findings, "web's findings are counted once");

    // File → Export draws the diagram shown; a finding of the lambda, clicked on the first
    // diagram, shows the diagram the lambda is on.
    let dir = tempfile::tempdir().unwrap();
    let svg_path = dir.path().join("d.svg");
    h.state_mut().write_export(threatmap_app::gui::ExportKind::Svg, &svg_path).unwrap();
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.contains("data-id=\"web\"") && !svg.contains(&format!("data-id=\"{lambda}\"")), "the first diagram, as shown");
    let lambda_name = h.state().doc.model.elements.iter().find(|e| e.id == lambda).unwrap().name.clone();
    h.state_mut().filter = lambda_name.clone();
    h.run_steps(3);
    h.get_all_by_label_contains(&format!(" on {lambda_name}")).next().expect("a row of the lambda's findings").click();
    h.run_steps(3);
    assert_eq!(h.state().canvas.diagram, 1, "the finding's element is shown where it is drawn");
    assert!(h.state().selection.contains(&lambda));
    h.state_mut().filter.clear();
    h.state_mut().selection.clear();
    h.run_steps(2);
    h.get_by_label("Diagram 1").click();
    h.run_steps(2);

    // Undo, three times: the tick, the lambda, the diagram.
    for _ in 0..3 {
        h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
        h.run_steps(2);
    }
    assert!(h.state().doc.model.diagrams.is_empty(), "undo takes the new diagram away");
    assert_eq!(h.state().canvas.diagram, 0);
    assert!(h.query_by_label("Diagram 2").is_none());
}

/// A pytm model's levels open as tabs, each showing the elements on its level.
#[test]
fn pytm_levels_open_as_diagram_tabs() {
    let shared = std::env::var_os("THREATMAP_SHARED")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let script = shared.join("compat/pytm/models/tm/model.py");
    if !script.exists() {
        eprintln!("SKIPPED: {} not found (set THREATMAP_SHARED)", script.display());
        return;
    }
    let mut h = harness(threatmap_core::file::load_any(&script).unwrap().model);
    for name in ["Level 0", "Level 1", "Level 2"] {
        let _ = h.get_by_label(name);
    }
    h.get_by_label("Level 1").click();
    h.run_steps(3);
    let m = &h.state().doc.model;
    let placed: Vec<&str> =
        m.elements.iter().filter(|e| e.kind.is_node() && rect_of(m, 1, &e.id, e.kind).is_some()).map(|e| e.id.as_str()).collect();
    assert_eq!(placed, ["aws-lambda"], "Level 1 draws what pytm draws on level 1");
    assert!(rect_of(m, 1, "aws-vpc", Kind::Boundary).is_some(), "with the boundary around it");
    assert!(!h.state().doc.is_dirty() || h.state().doc.path.is_none(), "opening places the levels without an edit");
}

/// A diagram is renamed and deleted from its tab's menu; deleting it with the elements only on
/// it leaves the other diagrams whole, and the diagram shown stays shown.
#[test]
fn diagram_tab_menu_renames_and_deletes() {
    let mut m = example();
    document::place_for_opening(&mut m);
    m.add_diagram("Overview", "Detail");
    m.add_diagram("", "Deploy");
    let mut h = harness(m);
    h.get_by_label("Deploy").click();
    h.run_steps(2);
    assert_eq!(h.state().canvas.diagram, 2);
    let from = h.get_by_label("Actor").rect().center();
    let to = h.state().canvas.screen_rect.center();
    drag(&mut h, from, to);
    let elements = h.state().doc.model.elements.len();
    h.state_mut().selection.clear();
    h.run_steps(2);

    h.get_by_label("Detail").click_secondary();
    h.run_steps(2);
    h.get_by_label("Diagram name").click();
    h.run_steps(1);
    h.get_by_label("Diagram name").type_text(" view");
    h.run_steps(2);
    assert_eq!(h.state().doc.model.diagram_name(1), "Detail view", "typed into the name, spaces kept");
    h.key_press(Key::Enter);
    h.run_steps(2);
    assert!(h.query_by_label("Diagram name").is_none(), "Enter ends the name and closes the menu");

    h.get_by_label("Deploy").click_secondary();
    h.run_steps(2);
    h.get_by_label("Delete diagram and the elements only on it").click();
    h.run_steps(3);
    let m = &h.state().doc.model;
    assert_eq!(m.diagram_count(), 2);
    assert_eq!(m.elements.len(), elements - 1, "the actor only on Deploy went with it");
    assert!(m.layout_of(0).contains_key("web"), "the first diagram keeps its elements");
    assert_eq!(h.state().canvas.diagram, 1, "the last diagram left is shown");

    h.get_by_label("Overview").click();
    h.run_steps(2);
    h.get_by_label("Detail view").click_secondary();
    h.run_steps(2);
    h.get_by_label("Delete diagram (its elements stay in the model)").click();
    h.run_steps(3);
    let m = &h.state().doc.model;
    assert!(m.diagrams.len() == 1 && m.diagram_name(0) == "Overview" && m.layout_of(0).contains_key("web"));
    assert_eq!(h.state().canvas.diagram, 0);
}

/// Delete on a diagram takes an element drawn on other diagrams too off this one only (and
/// says so); where it is drawn nowhere else, it leaves the model. A diagram deleted with its
/// elements kept puts those on the first diagram as they were arranged, changing no membership.
#[test]
fn delete_on_a_diagram_keeps_what_other_diagrams_show() {
    let mut m = example();
    document::place_for_opening(&mut m);
    let second = m.add_diagram("Overview", "Detail");
    // The web server and every node it has flows with are on Detail too, so it can come off
    // Overview without hiding a flow; the comment cleaner's flows are drawn only on Overview.
    let web_peers: Vec<String> = m
        .elements
        .iter()
        .filter(|e| e.kind == Kind::Dataflow && (e.source.as_deref() == Some("web") || e.sink.as_deref() == Some("web")))
        .flat_map(|e| [e.source.clone().unwrap(), e.sink.clone().unwrap()])
        .collect();
    for id in web_peers.iter().chain(["cleaner".to_owned()].iter()) {
        document::show_on_diagram(&mut m, second, id);
    }
    let mut h = harness(m);
    let on = |h: &Harness<'_, ThreatmapApp>, id: &str| {
        let m = &h.state().doc.model;
        m.elements.iter().position(|e| e.id == id).map(|k| m.diagram_membership()[k].clone())
    };
    assert_eq!(on(&h, "web"), Some(std::collections::BTreeSet::from([0, 1])));
    h.state_mut().selection = std::collections::BTreeSet::from(["web".to_owned()]);
    h.run_steps(2);
    h.key_press(Key::Delete);
    h.run_steps(2);
    assert_eq!(on(&h, "web"), Some(std::collections::BTreeSet::from([1])), "taken off Overview only");
    assert!(h.state().status.contains("still on Detail"), "{}", h.state().status);
    // The cleaner is on both, but its flow to the database is drawn only on Overview... unless the
    // database is on Detail too; a flow drawn only here keeps its end here.
    let cleaner_flow_ends_on_detail = {
        let m = &h.state().doc.model;
        m.elements.iter().filter(|e| e.kind == Kind::Dataflow && e.source.as_deref() == Some("cleaner")).all(|f| {
            let k = m.elements.iter().position(|e| Some(&e.id) == f.sink.as_ref()).unwrap();
            m.diagram_membership()[k].contains(&1)
        })
    };
    h.state_mut().selection = std::collections::BTreeSet::from(["cleaner".to_owned()]);
    h.run_steps(2);
    h.key_press(Key::Delete);
    h.run_steps(2);
    if cleaner_flow_ends_on_detail {
        assert_eq!(on(&h, "cleaner"), Some(std::collections::BTreeSet::from([1])));
    } else {
        assert_eq!(on(&h, "cleaner"), Some(std::collections::BTreeSet::from([0, 1])), "kept: its flow is drawn only here");
        assert!(h.state().status.contains("kept on this diagram"), "{}", h.state().status);
    }
    h.get_by_label("Detail").click();
    h.run_steps(2);
    h.state_mut().selection = std::collections::BTreeSet::from(["web".to_owned()]);
    h.run_steps(2);
    h.key_press(Key::Delete);
    h.run_steps(2);
    assert_eq!(on(&h, "web"), None, "drawn nowhere else: deleted from the model");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(on(&h, "web"), Some(std::collections::BTreeSet::from([1])));

    // Detail gets an actor of its own, then goes, keeping its elements.
    let before: Vec<Option<String>> = h.state().doc.model.elements.iter().map(|e| e.in_boundary.clone()).collect();
    h.state_mut().doc.edit(|m| {
        document::add_element(m, 1, Kind::Actor, pos2(200.0, 200.0));
    });
    h.run_steps(2);
    let on_overview: std::collections::BTreeSet<String> = {
        let m = &h.state().doc.model;
        m.elements.iter().zip(m.diagram_membership()).filter(|(_, on)| on.contains(&0)).map(|(e, _)| e.id.clone()).collect()
    };
    h.get_by_label("Detail").click_secondary();
    h.run_steps(2);
    h.get_by_label("Delete diagram (its elements stay in the model)").click();
    h.run_steps(3);
    let m = &h.state().doc.model;
    assert!(m.diagrams.len() == 1 && m.diagram_name(0) == "Overview");
    let after: Vec<Option<String>> = m.elements.iter().map(|e| e.in_boundary.clone()).collect();

    assert_eq!(&after[..before.len()], &before[..], "no membership changed");
    assert_eq!(after.last(), Some(&None), "the actor is outside every boundary");
    let drawing = m
        .elements
        .iter()
        .filter(|e| on_overview.contains(&e.id))
        .filter_map(|e| rect_of(m, 0, &e.id, e.kind))
        .fold(egui::Rect::NOTHING, |a, b| a.union(b));
    let actor = rect_of(m, 0, "actor", Kind::Actor).expect("the actor is on Overview now");
    assert!(actor.min.x > drawing.max.x, "outside every boundary, right of the drawing: {actor:?} {drawing:?}");
    for e in m.elements.iter().filter(|e| !on_overview.contains(&e.id) && e.kind.is_node()) {
        if let Some(b) = &e.in_boundary {
            let (r, br) = (rect_of(m, 0, &e.id, e.kind).unwrap(), rect_of(m, 0, b, Kind::Boundary).unwrap());
            assert!(br.contains(r.center()), "{} is drawn inside {b}, as the model says", e.id);
        }
    }
    assert!(h.state().status.contains("now on \"Overview\""), "{}", h.state().status);
}

/// The Rule packs window lists every built-in pack by name and title; ticking one runs it on
/// the model (and records it in the model), unticking takes it away again.
#[test]
fn the_rule_packs_window_switches_methodology_packs() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/examples/support-assistant.threatmap.json");
    let model = threatmap_core::file::load_any(&path).unwrap().model;
    let mut h = harness(model);
    h.state_mut().show_packs = true;
    h.run_steps(2);
    for p in threatmap_core::rules::BUILTIN_PACKS {
        assert!(h.query_by_label(&format!("{}: {}", p.name, p.title)).is_some(), "{} is not listed", p.name);
    }
    let ids = |h: &Harness<'_, ThreatmapApp>| -> Vec<String> {
        let a = h.state().analysis();
        a.findings.iter().map(|f| a.rule(f).id.clone()).collect()
    };
    assert!(ids(&h).iter().any(|i| i.starts_with("AI-")) && !ids(&h).iter().any(|i| i.starts_with("LDN-")));
    h.get_by_label("linddun: LINDDUN privacy threats").click();
    h.run_steps(3);
    assert!(h.state().doc.model.rule_packs.contains(&"linddun".to_owned()), "{:?}", h.state().doc.model.rule_packs);
    assert!(ids(&h).iter().any(|i| i.starts_with("LDN-")), "LINDDUN findings after ticking the pack");
    h.get_by_label("ai: LLM applications and agents").click();
    h.run_steps(3);
    assert!(!ids(&h).iter().any(|i| i.starts_with("AI-")), "no AI findings after unticking the pack");
    // Undo brings the pack back, and its findings with it (the rules follow the model's packs).
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(3);
    assert!(h.state().doc.model.rule_packs.contains(&"ai".to_owned()), "{:?}", h.state().doc.model.rule_packs);
    assert!(ids(&h).iter().any(|i| i.starts_with("AI-")), "AI findings after undoing the untick");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(3);
    assert!(!ids(&h).iter().any(|i| i.starts_with("LDN-")), "no LINDDUN findings after undoing the tick");
}

fn type_text(h: &mut Harness<'_, ThreatmapApp>, text: &str) {
    for c in text.chars() {
        h.event(egui::Event::Text(c.to_string()));
        h.run_steps(1);
    }
}

#[test]
fn new_from_template_starts_an_untitled_model_with_the_templates_packs() {
    let mut h = harness(Model::new("empty"));
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label_contains("New from Template").hover();
    h.run_steps(2);
    h.get_by_label("IoT device").click();
    h.run_steps(3);
    let app = h.state();
    assert_eq!(app.doc.model.name, "IoT device", "{} {:?}", app.status, app.prompt);
    assert!(app.doc.path.is_none(), "a template is never overwritten: the new model has no file yet");
    assert!(app.doc.model.rule_packs.contains(&"iot".to_owned()));
    assert!(app.status.contains("template IoT device"), "{}", app.status);
    let a = app.analysis();
    assert!(a.findings.iter().any(|f| ["UART", "SPI", "WIFI"].iter().any(|p| a.rule(f).id.starts_with(p))), "the template's own pack runs");
    // Every node is drawn on the canvas.
    assert!(app.doc.model.elements.iter().filter(|e| e.kind.is_node()).all(|e| app.doc.model.layout.contains_key(&e.id)));
    // Untouched, the template is no work of the user's: another replaces it without asking.
    assert!(!app.has_unsaved_work());
    h.state_mut().run(threatmap_app::commands::UiCommand::NewFromTemplate("mobile-app-api"), &egui::Context::default());
    h.run_steps(2);
    assert!(h.query_by_label("Unsaved changes").is_none());
    assert_ne!(h.state().doc.model.name, "IoT device");
    // Once changed, it is: starting another asks first.
    h.state_mut().doc.edit(|m| m.name = "My device".to_owned());
    assert!(h.state().has_unsaved_work());
    h.state_mut().run(threatmap_app::commands::UiCommand::NewFromTemplate("web-application"), &egui::Context::default());
    h.run_steps(2);
    assert!(h.query_by_label("Unsaved changes").is_some());
    h.get_by_label("Discard").click();
    h.run_steps(3);
    assert_eq!(h.state().doc.model.name, "Web application");
    // Every template opens with findings.
    for t in threatmap_core::templates::MODEL_TEMPLATES {
        let mut h = harness(Model::new("empty"));
        h.state_mut().run(threatmap_app::commands::UiCommand::NewFromTemplate(t.name), &egui::Context::default());
        h.run_steps(3);
        assert_eq!(h.state().doc.model.name, t.title);
        assert!(h.state().cache.open > 0, "{}: no open findings", t.name);
    }
}

#[test]
fn the_command_palette_runs_commands_and_jumps_to_elements() {
    let mut h = harness(example());
    let open_palette = |h: &mut Harness<'_, ThreatmapApp>| {
        h.key_press_modifiers(Modifiers::COMMAND, Key::K);
        h.run_steps(3);
        assert!(h.state().palette.is_some(), "Ctrl+K opens the palette");
    };
    // A command by a few letters of its name.
    assert!(!h.state().dark);
    open_palette(&mut h);
    type_text(&mut h, "drkmode");
    h.key_press(Key::Enter);
    h.run_steps(3);
    assert!(h.state().dark, "Toggle dark mode ran");
    assert!(h.state().palette.is_none(), "running a command closes the palette");
    // The arrows choose among the matches; what cannot run now is not offered.
    assert!(threatmap_app::commands::palette_matches(h.state(), "redo").iter().all(|(_, t)| t != "Redo"), "nothing to redo");
    open_palette(&mut h);
    type_text(&mut h, "zoom");
    let matches = threatmap_app::commands::palette_matches(h.state(), "zoom");
    assert_eq!(matches[1].1, "Zoom Out", "{matches:?}");
    let z0 = h.state().canvas.zoom;
    h.key_press(Key::ArrowDown);
    h.run_steps(1);
    h.key_press(Key::Enter);
    h.run_steps(3);
    assert!(h.state().canvas.zoom < z0, "the second match, Zoom Out, ran");
    // Clicking a match runs it.
    open_palette(&mut h);
    type_text(&mut h, "auto-layout");
    let before = h.state().doc.revision();
    h.get_by_label("Auto-layout").click();
    h.run_steps(3);
    assert_ne!(h.state().doc.revision(), before, "Auto-layout ran");
    // An element by name: selected, its findings shown, in the middle of the view.
    open_palette(&mut h);
    type_text(&mut h, "go sql datab");
    h.key_press(Key::Enter);
    h.run_steps(3);
    let app = h.state();
    assert_eq!(app.selection.iter().collect::<Vec<_>>(), vec!["db"], "{:?}", threatmap_app::commands::palette_matches(app, "go sql datab"));
    let c = screen(&h, rect(&h, "db").center());
    assert!((c - h.state().canvas.screen_rect.center()).length() < 2.0, "{c:?} vs {:?}", h.state().canvas.screen_rect);
    // Escape closes it and runs nothing.
    open_palette(&mut h);
    type_text(&mut h, "quit");
    h.key_press(Key::Escape);
    h.run_steps(3);
    assert!(h.state().palette.is_none() && h.state().prompt.is_none());
    // The menus list it with its shortcut.
    h.get_by_label("View").click();
    h.run_steps(2);
    h.get_by_label("Command palette… Ctrl+K").click();
    h.run_steps(3);
    assert!(h.state().palette.is_some());
    // Ctrl+Shift+P opens it too (as in editors that call it so).
    h.key_press(Key::Escape);
    h.run_steps(2);
    assert!(h.state().palette.is_none());
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::P);
    h.run_steps(2);
    assert!(h.state().palette.is_some(), "Ctrl+Shift+P opens the palette");
}

#[test]
fn shortcuts_with_shift_are_not_taken_by_the_shorter_ones() {
    let mut h = harness(example());
    h.state_mut().doc.edit(|m| m.name = "changed".into());
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().doc.model.name, "changed", "Ctrl+Shift+Z redoes (nothing to redo), it does not undo");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_ne!(h.state().doc.model.name, "changed");
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().doc.model.name, "changed");
}

#[test]
fn a_threat_written_in_the_inspector_is_a_finding_like_any_other() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(example());
    h.state_mut().selection = std::collections::BTreeSet::from(["web".to_owned()]);
    h.run_steps(3);
    h.get_by_label_contains("Threats written here (0)").click();
    h.run_steps(2);
    h.get_by_label("Add threat").click();
    h.run_steps(3);
    let threat = |h: &Harness<'_, ThreatmapApp>| element(h, "web").threats.first().cloned();
    assert_eq!(threat(&h).map(|t| (t.id, t.title, t.severity)), Some(("T-1".into(), "Threat to Web Server".into(), "Medium".into())));
    // Title (the new threat has the keyboard in it), STRIDE category and mitigations.
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run_steps(1);
    type_text(&mut h, "Admin console open to the internet");
    h.key_press(Key::Escape);
    h.run_steps(2);
    assert!(!h.state().selection.is_empty(), "escape left the field, not the selection: {:?}", threat(&h));
    h.get_by_label("Elevation of Privilege").click();
    h.run_steps(2);
    h.get_by_label("Mitigations (one per line)").click();
    h.run_steps(2);
    type_text(&mut h, "Serve /admin internally");
    h.event(egui::Event::Key { key: Key::Enter, physical_key: None, pressed: true, repeat: false, modifiers: Modifiers::NONE });
    h.run_steps(1);
    type_text(&mut h, "Require MFA");
    h.key_press(Key::Escape);
    h.run_steps(3);
    let t = threat(&h).unwrap();
    assert_eq!(t.title, "Admin console open to the internet");
    assert_eq!(t.stride, ["Elevation of Privilege"]);
    assert_eq!(t.mitigations, ["Serve /admin internally", "Require MFA"]);
    // It is a finding: on the element, in the table, counted by the badge.
    let finding = |h: &Harness<'_, ThreatmapApp>| {
        let a = h.state().analysis();
        a.findings.iter().find(|f| a.rule(f).id == "T-1").map(|f| (a.view(f).key, a.view(f).title, a.severity(f)))
    };
    assert_eq!(finding(&h), Some(("T-1@web".into(), "Admin console open to the internet".into(), threatmap_core::rules::Severity::Medium)));
    assert!(h.query_by_label_contains("Admin console open to the internet").is_some(), "listed under Findings and in the table");
    let badge_before = h.state().cache.badge_of(&h.state().doc.model, "web").map(|b| b.count);
    // Severity from the combo box.
    h.get_by_label("Severity").click();
    h.run_steps(2);
    h.get_by_label("Very High").click();
    h.run_steps(3);
    assert_eq!(finding(&h).map(|f| f.2), Some(threatmap_core::rules::Severity::VeryHigh));
    // Saved in the model file and read back.
    let p = dir.path().join("m.threatmap.json");
    h.state_mut().doc.save_to(p.clone()).unwrap();
    let back = threatmap_core::file::load(&p).unwrap();
    assert_eq!(back.elements.iter().find(|e| e.id == "web").unwrap().threats, vec![threat(&h).unwrap()]);
    // Delete, and undo brings it back with its finding.
    h.get_by_label("Delete").click();
    h.run_steps(3);
    assert!(threat(&h).is_none() && finding(&h).is_none());
    assert!(h.state().cache.badge_of(&h.state().doc.model, "web").map(|b| b.count) < badge_before);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(3);
    assert!(finding(&h).is_some(), "undo restores the threat and its finding");
}

/// The labels of the findings table's rows, top to bottom.
fn table_rows(h: &Harness<'_, ThreatmapApp>) -> Vec<String> {
    use egui_kittest::kittest::NodeT;
    let sevs = threatmap_core::rules::Severity::ALL.map(|s| format!("{} ", s.name()));
    h.query_all_by_label_contains(" on ")
        .filter_map(|n| n.accesskit_node().label())
        .filter(|l| sevs.iter().any(|s| l.starts_with(s.as_str())))
        .collect()
}

#[test]
fn bulk_triage_decides_about_many_findings_at_once() {
    let mut h = harness(example());
    h.state_mut().show_table = true;
    h.run_steps(3);
    // Ctrl+click and Shift+click choose rows.
    let rows = table_rows(&h);
    assert!(rows.len() > 6, "{rows:?}");
    h.get_by_label(&rows[0]).click();
    h.run_steps(2);
    let at = h.get_by_label(&rows[4]).rect();
    h.get_by_label(&rows[4]).click_modifiers(Modifiers::SHIFT);
    h.run_steps(2);
    assert_eq!(h.get_by_label(&rows[4]).rect(), at, "the bulk bar appears without moving the rows");
    assert_eq!(h.state().table_selection.len(), 5, "Shift+click takes the rows between");
    h.get_by_label(&rows[2]).click_modifiers(Modifiers::COMMAND);
    h.run_steps(2);
    assert_eq!(h.state().table_selection.len(), 4, "Ctrl+click takes one row out");
    assert!(h.query_by_label_contains("4 findings chosen").is_some());
    // Every finding shown, one decision.
    h.get_by_label("Select shown").click();
    h.run_steps(2);
    let chosen = h.state().table_selection.clone();
    let open = h.state().cache.open;
    assert!(chosen.len() >= 20 && chosen.len() == open, "{} of {open}", chosen.len());
    h.get_by_label("Set status").click();
    h.run_steps(2);
    h.get_by_label("Accepted risk").click();
    h.run_steps(2);
    for (field, text) in [
        ("Set justification", "Reviewed in the design review of 2 December"),
        ("Set owner", "alice"),
        ("Set ticket", "SEC-12"),
        ("Add tag", "review-q4"),
    ] {
        h.get_by_label(field).click();
        h.run_steps(1);
        type_text(&mut h, text);
    }
    h.get_by_label(&format!("Apply to {}", chosen.len())).click();
    h.run_steps(3);
    let m = &h.state().doc.model;
    assert_eq!(m.decisions.len(), chosen.len());
    for key in &chosen {
        let d = &m.decisions[key];
        assert_eq!(d.status, threatmap_core::lifecycle::Status::AcceptedRisk, "{key}");
        assert_eq!((d.owner.as_str(), d.ticket.as_str(), d.tags.as_slice()), ("alice", "SEC-12", &["review-q4".to_owned()][..]));
        assert_eq!(d.justification, "Reviewed in the design review of 2 December");
        assert_eq!(d.history.len(), 1, "{key}: the change is in its history");
    }
    assert_eq!(h.state().cache.open, 0, "nothing left to decide");
    assert!(table_rows(&h).is_empty(), "the table (needs work) is empty");
    assert!(h.state().table_selection.is_empty());
    // One undo takes all of it back.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(3);
    assert!(h.state().doc.model.decisions.is_empty());
    assert_eq!(h.state().cache.open, open);
}

#[test]
fn the_keyboard_walks_nudges_and_edits_elements_and_screen_readers_see_them() {
    let mut m = example();
    document::place_for_opening(&mut m);
    let mut h = harness(m);
    // Every drawn element is in the accessibility tree with its kind, name and open findings.
    let a = h.state().analysis();
    let web_open = a.open_findings().filter(|f| a.prepared.element(f.element).id == "web").count();
    drop(a);
    let label = format!("Server Web Server, {web_open} open findings, worst Very High");
    assert!(h.query_by_label(&label).is_some(), "{label}");
    // Clicking it there selects it, as a pointer would.
    h.get_by_label(&label).click();
    h.run_steps(2);
    assert_eq!(h.state().selection.iter().collect::<Vec<_>>(), vec!["web"]);
    h.key_press(Key::Escape);
    h.run_steps(2);
    // Tab walks the elements in model order, Shift+Tab back.
    let order: Vec<String> = h.state().doc.model.elements.iter().map(|e| e.id.clone()).collect();
    h.key_press(Key::Tab);
    h.run_steps(2);
    assert_eq!(h.state().selection.iter().next(), Some(&order[0]));
    h.key_press(Key::Tab);
    h.run_steps(2);
    assert_eq!(h.state().selection.iter().next(), Some(&order[1]));
    h.key_press_modifiers(Modifiers::SHIFT, Key::Tab);
    h.run_steps(2);
    assert_eq!(h.state().selection.iter().next(), Some(&order[0]));
    // Arrows move the selection by a grid step, Shift+arrow by one unit; one undo each.
    let id = order.iter().find(|i| element(&h, i).kind.is_node() && element(&h, i).kind != Kind::Boundary).unwrap().clone();
    h.state_mut().selection = std::collections::BTreeSet::from([id.clone()]);
    h.run_steps(1);
    let before = rect(&h, &id);
    h.key_press(Key::ArrowRight);
    h.run_steps(1);
    h.key_press(Key::ArrowDown);
    h.run_steps(1);
    h.key_press_modifiers(Modifiers::SHIFT, Key::ArrowLeft);
    h.run_steps(2);
    assert_eq!(rect(&h, &id).min - before.min, vec2(threatmap_app::canvas::GRID - 1.0, threatmap_app::canvas::GRID));
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(rect(&h, &id).min - before.min, vec2(threatmap_app::canvas::GRID, threatmap_app::canvas::GRID));
    // Enter puts the keyboard in the name field; typing renames.
    h.key_press(Key::Enter);
    h.run_steps(3);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run_steps(1);
    type_text(&mut h, "Renamed");
    h.key_press(Key::Escape);
    h.run_steps(2);
    assert_eq!(element(&h, &id).name, "Renamed");
    assert_eq!(h.state().selection.iter().next(), Some(&id), "Escape left the field and kept the selection");
}

#[test]
fn a_model_is_built_from_the_keyboard_alone() {
    let mut h = harness(Model::new("Keyboard"));
    let command = |h: &mut Harness<'_, ThreatmapApp>, query: &str| {
        h.key_press_modifiers(Modifiers::COMMAND, Key::K);
        h.run_steps(2);
        type_text(h, query);
        h.key_press(Key::Enter);
        h.run_steps(3);
    };
    let name_it = |h: &mut Harness<'_, ThreatmapApp>, name: &str| {
        h.key_press_modifiers(Modifiers::COMMAND, Key::A);
        h.run_steps(1);
        type_text(h, name);
        h.key_press(Key::Escape);
        h.run_steps(2);
    };
    command(&mut h, "add process");
    name_it(&mut h, "Checkout");
    let first = rect(&h, &h.state().doc.model.elements[0].id.clone());
    command(&mut h, "add data store");
    name_it(&mut h, "Orders");
    command(&mut h, "add flow");
    name_it(&mut h, "Save order");
    let m = &h.state().doc.model;
    let names: Vec<(&str, Kind)> = m.elements.iter().map(|e| (e.name.as_str(), e.kind)).collect();
    assert_eq!(names, [("Checkout", Kind::Process), ("Orders", Kind::Datastore), ("Save order", Kind::Dataflow)]);
    let (p, d, f) = (&m.elements[0], &m.elements[1], &m.elements[2]);
    assert_eq!((f.source.as_deref(), f.sink.as_deref()), (Some(p.id.as_str()), Some(d.id.as_str())), "from the element selected before");
    let (rp, rd) = (rect(&h, &p.id), rect(&h, &d.id));
    assert!(!rp.expand(40.0).intersects(rd), "the second node is placed clear of the first, with room for a flow: {rp:?} {rd:?}");
    assert_eq!(rp, first);
    assert!(h.state().cache.open > 0, "the rules ran on what the keyboard drew");
    // A flow starts only at a node selected just before another node.
    h.key_press(Key::Tab);
    h.run_steps(2);
    assert!(!h.state().can_run(threatmap_app::commands::UiCommand::AddFlow), "from the flow to Checkout: no flow");
    h.key_press(Key::Tab);
    h.run_steps(2);
    assert!(h.state().can_run(threatmap_app::commands::UiCommand::AddFlow), "from Checkout to Orders");
    // Triage one of its findings: the palette opens it with the keyboard on its status.
    let first = threatmap_app::commands::palette_matches(h.state(), "triage").remove(0).0;
    let threatmap_app::commands::PaletteItem::Finding(key) = first else { panic!("{first:?}") };
    command(&mut h, "triage");
    assert!(h.state().palette.as_ref().is_some_and(|p| p.triage.as_deref() == Some(key.as_str())), "the palette asks for its status");
    type_text(&mut h, "accepted");
    h.key_press(Key::Enter);
    h.run_steps(3);
    let status = h.state().doc.model.decisions.get(&key).map(|d| d.status);
    assert_eq!(status, Some(threatmap_core::lifecycle::Status::AcceptedRisk), "{key}");
    // An accepted risk needs a justification: the keyboard is in it.
    type_text(&mut h, "Internal tool");
    h.key_press(Key::Tab);
    h.run_steps(3);
    assert_eq!(h.state().doc.model.decisions[&key].justification, "Internal tool");
}

#[test]
fn a_minimap_shows_a_drawing_larger_than_the_view_and_moves_it() {
    let mut m = Model::new("Large");
    for k in 0..80 {
        let id = format!("p{k}");
        m.elements.push(threatmap_core::model::Element::new(id.clone(), Kind::Process, format!("Process {k}")));
        let (x, y) = (f64::from(k % 10) * 220.0, f64::from(k / 10) * 160.0);
        m.layout.insert(id, threatmap_core::model::Placement { x, y, width: Some(120.0), height: Some(60.0), line: Vec::new() });
    }
    let mut h = harness(m);
    h.state_mut().canvas.zoom = 1.0;
    h.state_mut().canvas.pan = vec2(20.0, 20.0);
    h.run_steps(3);
    let mini = h.get_by_label("Minimap: click or drag to move the view").rect();
    // A click in the map's bottom-right corner shows the drawing's bottom-right part.
    click_at(&mut h, mini.right_bottom() - vec2(8.0, 8.0));
    let view = h.state().canvas.screen_rect;
    let last = screen(&h, rect(&h, "p79").center());
    assert!(view.contains(last), "the last process is in view after the click: {last:?} in {view:?}");
    assert!(!h.state().selection.contains("p79") && h.state().selection.is_empty(), "a click on the map selects nothing");
    // Zoomed out to fit, there is no map.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Num0);
    h.run_steps(3);
    assert!(h.query_by_label("Minimap: click or drag to move the view").is_none());
}

/// A folder of models opens as a portfolio: the sidebar lists each with its counts, and a
/// click opens it.
#[test]
fn a_folder_opens_as_a_portfolio_and_a_click_opens_its_models() {
    let dir = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/examples");
    std::fs::create_dir_all(dir.path().join("team-b")).unwrap();
    std::fs::copy(examples.join("web-app.threatmap.json"), dir.path().join("web.threatmap.json")).unwrap();
    std::fs::copy(examples.join("iot-board.threatmap.json"), dir.path().join("team-b/board.threatmap.json")).unwrap();
    let mut h = harness(Model::new("empty"));
    h.state_mut().open_portfolio(dir.path());
    h.run_steps(3);
    assert!(h.query_by_label("Portfolio").is_some());
    let web = h.query_by_label_contains("Comment web application\n63 open · worst Very High");
    assert!(web.is_some(), "the sidebar lists the web app with its counts");
    h.get_by_label_contains("Connected sensor board").click();
    h.run_steps(3);
    assert_eq!(h.state().doc.model.name, "Connected sensor board");
    assert!(h.state().doc.path.as_ref().is_some_and(|p| p.ends_with("team-b/board.threatmap.json")));
    // The counts follow a save: triage a finding, save, and the sidebar has one fewer open.
    let key = {
        let a = h.state().analysis();
        a.findings.first().map(|f| a.key(f)).unwrap()
    };
    h.state_mut().set_status(&key, threatmap_core::lifecycle::Status::Mitigated);
    h.state_mut().save();
    h.run_steps(3);
    let open_now = h
        .state()
        .portfolio
        .as_ref()
        .unwrap()
        .entries
        .iter()
        .find(|e| e.path == "team-b/board.threatmap.json")
        .unwrap()
        .summary
        .as_ref()
        .unwrap()
        .open_total();
    assert_eq!(open_now, h.state().cache.open, "the sidebar follows the saved file");
    h.get_by_label("Close").click();
    h.run_steps(2);
    assert!(h.state().portfolio.is_none());
}

/// Attachments in the app: attached beside the saved model, previewed (PNG, SVG), listed with
/// their size, and in the report the app exports.
#[test]
fn attachments_are_added_previewed_and_reach_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let model_path = dir.path().join("shop.threatmap.json");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/examples/web-app.threatmap.json"), &model_path).unwrap();
    let png = dir.path().join("whiteboard.png");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/icons/threatmap-64.png"), &png).unwrap();
    let pdf = dir.path().join("notes.pdf");
    std::fs::write(&pdf, b"%PDF-1.4 notes").unwrap();
    let model = threatmap_core::file::load_any(&model_path).unwrap().model;
    let mut h = Harness::builder()
        .with_size(vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut ThreatmapApp| app.ui(ui), ThreatmapApp::new(model, Some(model_path.clone()), None));
    h.run_steps(3);
    assert!(h.query_by_label("Attach a file…").is_some(), "the model's inspector offers attachments");
    h.state_mut().attach_file(&png);
    h.state_mut().attach_file(&pdf);
    h.run_steps(3);
    assert_eq!(h.state().doc.model.artefacts.len(), 2);
    assert!(dir.path().join("shop.artefacts/whiteboard.png").exists());
    {
        use egui_kittest::kittest::NodeT;
        let images: Vec<String> = h.get_all_by_role(egui::accesskit::Role::Image).filter_map(|n| n.accesskit_node().label()).collect();
        assert!(images.contains(&"whiteboard.png".to_owned()), "the PNG is previewed: {images:?}");
    }
    assert!(h.query_by_label("notes.pdf").is_some() && h.query_by_label("14 bytes").is_some(), "name and size");
    // The same file again is not attached twice.
    h.state_mut().attach_file(&pdf);
    assert_eq!(h.state().doc.model.artefacts.len(), 2);
    assert!(h.state().status.contains("attached already"), "{}", h.state().status);
    // The report the app writes embeds the image and links the PDF.
    let report = dir.path().join("report.html");
    h.state_mut().write_export(threatmap_app::gui::ExportKind::Report, &report).unwrap();
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("data:image/png;base64,") && html.contains("shop.artefacts/notes.pdf"));
    // Removing takes it off the model (one undo brings it back); its file leaves the folder
    // when the model is saved.
    h.state_mut().save();
    h.run_steps(2);
    h.get_all_by_label("Remove").next().unwrap().click();
    h.run_steps(3);
    assert_eq!(h.state().doc.model.artefacts.len(), 1);
    assert!(dir.path().join("shop.artefacts/whiteboard.png").exists(), "kept until the save (an undo can bring it back)");
    h.state_mut().save();
    h.run_steps(2);
    assert!(!dir.path().join("shop.artefacts/whiteboard.png").exists(), "removed with the save");
    assert!(dir.path().join("shop.artefacts/notes.pdf").exists());
    // A report written elsewhere links the files by absolute file: URL.
    let elsewhere = tempfile::tempdir().unwrap();
    let report2 = elsewhere.path().join("r.html");
    h.state_mut().write_export(threatmap_app::gui::ExportKind::Report, &report2).unwrap();
    let html2 = std::fs::read_to_string(&report2).unwrap();
    assert!(html2.contains("href=\"file:///") && html2.contains("shop.artefacts/notes.pdf"), "the link works from elsewhere");
    // An untitled model says to save first.
    let mut h2 = harness(Model::new("untitled"));
    h2.state_mut().attach_file(&png);
    assert!(h2.state().failure.as_ref().is_some_and(|(_, why)| why.contains("Save the model first")));
}

#[test]
fn the_table_shows_status_and_owner_columns_that_sort() {
    use threatmap_core::lifecycle::{Decision, Status};
    let mut model = example();
    for (key, status, owner) in [("GEN-INJ-01@web", Status::Mitigated, "alice"), ("GEN-ACT-03@user", Status::InProgress, "bob")] {
        let mut d = Decision::default();
        d.set_status(status, "tester", "");
        d.owner = owner.to_owned();
        model.decisions.insert(key.to_owned(), d);
    }
    let mut h = harness(model);
    h.state_mut().show_table = true;
    h.run_steps(3);
    // The owner column shows once a decision names one; the rows say their status.
    h.get_by_label("Sort by Owner").click();
    h.run_steps(3);
    let rows = table_rows(&h);
    assert!(rows[0].contains("on User") && rows[0].ends_with(Status::InProgress.label()), "bob's finding first: {rows:?}");
    assert!(!rows.iter().any(|r| r.ends_with(Status::Mitigated.label())), "a mitigated finding needs no work: not shown");
    h.get_by_label("Sort by Status").click();
    h.state_mut().filter = "User".to_owned();
    h.run_steps(3);
    let rank = |r: &String| Status::ALL.iter().position(|s| r.ends_with(&format!(", {}", s.label()))).expect("a status");
    let ranks: Vec<usize> = table_rows(&h).iter().map(rank).collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]) && ranks.contains(&0) && ranks.contains(&2), "workflow order: {ranks:?}");
    // The filter finds rows by owner too.
    h.state_mut().filter = "bob".to_owned();
    h.run_steps(3);
    assert_eq!(table_rows(&h).len(), 1);
    // Sorted by owner, a model whose decisions name none is sorted by severity again (the
    // Owner column, and its arrow, are gone).
    h.state_mut().filter.clear();
    for _ in 0..2 {
        h.get_by_label("Sort by Owner").click();
        h.run_steps(3);
    }
    h.state_mut().doc.edit(|m| m.decisions.values_mut().for_each(|d| d.owner.clear()));
    h.run_steps(3);
    assert!(h.query_by_label("Sort by Owner").is_none());
    assert!(table_rows(&h)[0].starts_with("Very High"), "worst first again: {:?}", table_rows(&h));
}

#[test]
fn the_untouched_bundled_example_is_no_unsaved_work_and_a_changed_one_is() {
    let mut app = ThreatmapApp::with_example(None);
    assert!(!app.doc.model.elements.is_empty() && app.doc.path.is_none());
    assert!(!app.has_unsaved_work(), "nothing to save, recover or ask about");
    app.doc.edit(|m| m.elements.retain(|e| e.id != "web"));
    assert!(app.has_unsaved_work());
    app.doc.undo();
    assert!(!app.has_unsaved_work(), "undone back to the example");
}

#[test]
fn save_in_the_unsaved_changes_prompt_saves_then_does_what_was_asked() {
    use threatmap_app::files::Purpose;
    use threatmap_app::gui::Pending;
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(example());
    assert!(h.state().has_unsaved_work(), "an untitled model with elements");
    h.state_mut().request(Pending::New);
    h.run_steps(2);
    h.get_by_label("Save").click();
    h.run_steps(2);
    assert_eq!(h.state().files.asking(), Some(&Purpose::SaveAs), "an untitled model asks where to go");
    let path = dir.path().join("kept.threatmap.json");
    h.state_mut().answered(Purpose::SaveAs, path.clone());
    h.run_steps(2);
    assert!(path.is_file(), "saved");
    assert_eq!(h.state().doc.model.name, "Untitled threat model", "then New, as asked: {}", h.state().status);
    assert!(h.state().doc.model.elements.is_empty());
}

#[test]
fn a_second_click_on_the_sorting_column_turns_the_order_round() {
    let mut h = harness(example());
    h.state_mut().show_table = true;
    h.run_steps(3);
    let first = |h: &Harness<'_, ThreatmapApp>| table_rows(h).first().cloned().unwrap_or_default();
    h.get_by_label("Sort by ID").click();
    h.run_steps(3);
    let ascending = first(&h);
    h.get_by_label("Sort by ID").click();
    h.run_steps(3);
    let descending = first(&h);
    let id = |row: &str| row.split(' ').find(|w| w.contains('-')).unwrap_or_default().to_owned();
    assert!(id(&ascending) < id(&descending), "{ascending} then {descending}");
    h.get_by_label("Sort by ID").click();
    h.run_steps(3);
    assert_eq!(first(&h), ascending, "a third click sorts up again");
}

#[test]
fn choosing_a_finding_brings_its_element_into_view() {
    let mut h = harness(threatmap_core::synth::synthetic(200, 7));
    h.state_mut().show_table = true;
    h.state_mut().canvas.zoom = 1.0;
    h.state_mut().canvas.pan = vec2(0.0, 0.0);
    h.run_steps(3);
    // Whether the canvas shows element `id` whole.
    let shown = |h: &Harness<'_, ThreatmapApp>, id: &str| {
        let app = h.state();
        let e = app.doc.model.elements.iter().find(|e| e.id == id).expect("the element exists");
        let r = rect_of(&app.doc.model, app.canvas.diagram, id, e.kind).expect("the element is placed");
        let on_screen = egui::Rect::from_two_pos(app.canvas.screen_from_canvas(r.min), app.canvas.screen_from_canvas(r.max));
        app.canvas.screen_rect.contains_rect(on_screen)
    };
    // At 100 % most of 200 nodes lie outside the canvas: choose the finding of one of those.
    let rows = table_rows(&h);
    let element_of = |h: &Harness<'_, ThreatmapApp>, row: &str| {
        let app = h.state();
        app.doc.model.elements.iter().find(|e| e.kind.is_node() && row.ends_with(&format!(" on {}, Open", e.name))).map(|e| e.id.clone())
    };
    let (row, id) = rows
        .iter()
        .find_map(|r| element_of(&h, r).filter(|id| !shown(&h, id)).map(|id| (r.clone(), id)))
        .expect("a finding whose element is off screen");
    let pan = h.state().canvas.pan;
    h.get_by_label(&row).click();
    h.run_steps(3);
    assert_eq!(h.state().selection.iter().collect::<Vec<_>>(), [&id], "the finding's element is selected");
    assert!(shown(&h, &id), "the canvas shows {id} (pan {pan:?}, then {:?})", h.state().canvas.pan);
    // A finding of an element in view leaves the canvas where it is.
    let pan = h.state().canvas.pan;
    h.get_by_label(&row).click();
    h.run_steps(3);
    assert_eq!(h.state().canvas.pan, pan, "the canvas stays put");
}
