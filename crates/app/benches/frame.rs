//! The desktop app's frame cost on a synthetic model of 1,000 elements and 1,500 flows
//! (`threatmap_core::synth`, laid out by the render crate), headless: the CPU work eframe does
//! per frame (the app's UI code, egui, tessellation into triangles; no GPU upload), and the
//! time from an edit to updated badges (rules re-run). Targets: ≤ 8 ms per frame, ≤ 16 ms per
//! edit.

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

fn bench(c: &mut Criterion) {
    let model = synthetic(1000, 7);
    let flows = model.elements.iter().filter(|e| e.kind == threatmap_core::attr::Kind::Dataflow).count();
    let mut app = ThreatmapApp::new(model, None, None);
    let ctx = egui::Context::default();
    for _ in 0..3 {
        frame(&ctx, &mut app);
    }
    // Select an element so the inspector shows its properties and findings too.
    let first = app.doc.model.elements.iter().find(|e| e.kind.is_node()).unwrap().id.clone();
    app.selection.insert(first.clone());
    frame(&ctx, &mut app);

    let mut group = c.benchmark_group("app");
    group.sample_size(20);
    // The whole model fitted in the window (overview), then at 100 % around the selection.
    group.bench_function("frame_overview/1000", |b| b.iter(|| black_box(frame(&ctx, &mut app))));
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
    group.bench_function("frame_100_percent/1000", |b| b.iter(|| black_box(frame(&ctx, &mut app))));
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
    group.bench_function("edit_to_badges/1000", |b| b.iter(|| edit(&mut app)));
    let edits: Vec<Duration> = (0..15)
        .map(|_| {
            let t = Instant::now();
            edit(&mut app);
            t.elapsed()
        })
        .collect();
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
    println!("\nThreatmap app, medians at 1,000 elements ({flows} flows, {} findings):", app.cache.findings.len());
    println!("  frame at 100 % zoom               {:>7.2} ms", at_100.as_secs_f64() * 1e3);
    println!("  frame with the whole model fitted {:>7.2} ms", overview.as_secs_f64() * 1e3);
    println!("  edit to updated badges            {:>7.2} ms", median(edits).as_secs_f64() * 1e3);
    println!(
        "    of which: rules {:.2} ms, undoable edit {:.2} ms, refresh (rules, scene, badges) {:.2} ms",
        rules_only.as_secs_f64() * 1e3,
        edit_only.as_secs_f64() * 1e3,
        refresh_only.as_secs_f64() * 1e3
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
