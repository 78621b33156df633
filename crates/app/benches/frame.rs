//! The desktop app's cost on synthetic models of 1,000 and 10,000 elements with half again
//! as many flows (`threatmap_core::synth`, laid out by the render crate, saved and opened as a
//! user's file), headless: opening the file up to the first painted frame, the CPU work eframe
//! does per frame (the app's UI code, egui, tessellation into triangles; no GPU upload), and the
//! time from an edit to updated badges (the rules the edit touched re-run). Targets: open ≤ 1 s,
//! frame ≤ 8 ms, edit to badges ≤ 2 ms at 1,000 elements and ≤ 10 ms at 10,000.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use egui::{RawInput, Rect, pos2, vec2};
use threatmap_app::gui::ThreatmapApp;
use threatmap_core::synth::synthetic;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// One frame as eframe runs it: UI, then tessellation.
fn frame(ctx: &egui::Context, app: &mut ThreatmapApp) -> usize {
    let input = RawInput { screen_rect: Some(Rect::from_min_size(pos2(0.0, 0.0), vec2(1440.0, 900.0))), ..Default::default() };
    let out = ctx.run_ui(input, |ui| app.ui(ui));
    ctx.tessellate(out.shapes, out.pixels_per_point).len()
}

/// Opens the model saved at `path` the way File > Open does (read, parse, rules, badges) and
/// paints the first frame.
fn open_and_paint(ctx: &egui::Context, path: &std::path::Path) -> ThreatmapApp {
    let mut app = ThreatmapApp::new(threatmap_core::model::Model::new("Untitled"), None, None);
    app.open(path);
    app.refresh();
    frame(ctx, &mut app);
    app
}

fn bench_at(c: &mut Criterion, n: usize) {
    let model = synthetic(n, 7);
    let flows = model.elements.iter().filter(|e| e.kind == threatmap_core::attr::Kind::Dataflow).count();
    // Laid out once, saved as a user's file: opening it reads positions, it does not lay out.
    let laid_out = ThreatmapApp::new(model, None, None);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("synthetic-{n}.threatmap.json"));
    threatmap_core::file::save(&laid_out.doc.model, &path).unwrap();
    drop(laid_out);
    let ctx = egui::Context::default();
    let opens: Vec<Duration> = (0..3)
        .map(|_| {
            let t = Instant::now();
            black_box(open_and_paint(&ctx, &path).cache.badges.len());
            t.elapsed()
        })
        .collect();
    let mut app = open_and_paint(&ctx, &path);
    assert!(app.failure.is_none() && app.cache.findings.len() > n, "the saved model opens with its findings");
    for _ in 0..3 {
        frame(&ctx, &mut app);
    }
    // Select an element so the inspector shows its properties and findings too.
    let first = app.doc.model.elements.iter().find(|e| e.kind.is_node()).unwrap().id.clone();
    app.selection.insert(first.clone());
    frame(&ctx, &mut app);

    let mut group = c.benchmark_group("app");
    group.sample_size(if n > 1000 { 10 } else { 20 });
    // The whole model fitted in the window (overview), then at 100 % around the selection.
    group.bench_function(format!("frame_overview/{n}"), |b| b.iter(|| black_box(frame(&ctx, &mut app))));
    let time_frames = |app: &mut ThreatmapApp| -> Duration {
        median(
            (0..30)
                .map(|_| {
                    let t = Instant::now();
                    black_box(frame(&ctx, app));
                    t.elapsed()
                })
                .collect(),
        )
    };
    let overview = time_frames(&mut app);
    app.canvas.zoom = 1.0;
    let r = threatmap_app::document::rect_of(&app.doc.model, 0, &first, threatmap_core::attr::Kind::Server)
        .unwrap_or(Rect::from_min_size(pos2(0.0, 0.0), vec2(1.0, 1.0)));
    app.canvas.pan = vec2(400.0, 300.0) - r.min.to_vec2();
    frame(&ctx, &mut app);
    group.bench_function(format!("frame_100_percent/{n}"), |b| b.iter(|| black_box(frame(&ctx, &mut app))));
    let at_100 = time_frames(&mut app);
    let mut flip = false;
    let mut edit = |app: &mut ThreatmapApp| {
        flip = !flip;
        let id = first.clone();
        app.doc.edit(|m| {
            if let Some(e) = m.elements.iter_mut().find(|e| e.id == id) {
                e.controls.sanitizes_input = Some(flip);
            }
        });
        app.refresh();
        black_box(app.cache.badges.len());
    };
    group.bench_function(format!("edit_to_badges/{n}"), |b| b.iter(|| edit(&mut app)));
    let edits: Vec<Duration> = (0..15)
        .map(|_| {
            let t = Instant::now();
            edit(&mut app);
            t.elapsed()
        })
        .collect();
    // What the user waits for: the edit, then the frame that shows it (the findings table
    // and the inspector catch up there).
    let edit_and_frame = median(
        (0..15)
            .map(|_| {
                let t = Instant::now();
                edit(&mut app);
                black_box(frame(&ctx, &mut app));
                t.elapsed()
            })
            .collect(),
    );
    group.finish();
    let rules_only = median(
        (0..15)
            .map(|_| {
                let t = Instant::now();
                black_box(threatmap_core::engine::analyze(&app.doc.model, &app.rules, &Default::default()).findings.len());
                t.elapsed()
            })
            .collect(),
    );
    let mut k = false;
    let edit_only = median(
        (0..15)
            .map(|_| {
                k = !k;
                let id = first.clone();
                let t = Instant::now();
                app.doc.edit(|m| {
                    if let Some(e) = m.elements.iter_mut().find(|e| e.id == id) {
                        e.controls.validates_input = Some(k);
                    }
                });
                t.elapsed()
            })
            .collect(),
    );
    let refresh_only = median(
        (0..15)
            .map(|_| {
                app.doc.changed();
                let t = Instant::now();
                app.refresh();
                t.elapsed()
            })
            .collect(),
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("\nThreatmap app, medians at {n} elements ({flows} flows, {} findings):", app.cache.findings.len());
    println!("  open the saved model, first frame {:>7.2} ms", ms(median(opens)));
    println!("  frame at 100 % zoom               {:>7.2} ms", ms(at_100));
    println!("  frame with the whole model fitted {:>7.2} ms", ms(overview));
    println!("  edit to updated badges            {:>7.2} ms", ms(median(edits)));
    println!("  edit to the next painted frame    {:>7.2} ms", ms(edit_and_frame));
    println!(
        "    of which: whole-model rules {:.2} ms, undoable edit {:.2} ms, refresh (rules, scene, badges) {:.2} ms",
        ms(rules_only),
        ms(edit_only),
        ms(refresh_only)
    );
}

fn bench(c: &mut Criterion) {
    for n in [1_000, 10_000] {
        bench_at(c, n);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
