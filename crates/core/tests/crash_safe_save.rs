//! Saves survive being killed: a child process saves two different models in turn, as fast as
//! it can, and is killed with SIGKILL at a random moment, 200 times; after every kill the file on
//! disk must be one of the two models, whole and loadable.
//!
//! The child is this test binary itself, running the ignored `save_loop_child` with
//! `THREATMAP_SAVE_LOOP` naming the file.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};
use threatmap_core::{file, synth};

const KILLS: usize = 200;

/// Models A and B: large enough that writing one takes a few milliseconds, so kills land in
/// every phase (load, serialize, write, fsync, rename).
fn models() -> (String, String) {
    let a = synth::synthetic(400, 1);
    let b = synth::synthetic(420, 2);
    (file::to_canonical_json(&a), file::to_canonical_json(&b))
}

/// The child's side: save A and B in turn forever. Not a test of its own (ignored); the test
/// below starts it with `--ignored --exact save_loop_child`.
#[test]
#[ignore = "the child process of the kill test"]
fn save_loop_child() {
    let Some(path) = std::env::var_os("THREATMAP_SAVE_LOOP") else { return };
    let a = synth::synthetic(400, 1);
    let b = synth::synthetic(420, 2);
    let path = Path::new(&path);
    println!("ready");
    std::io::Write::flush(&mut std::io::stdout()).unwrap();
    loop {
        file::save(&a, path).unwrap();
        file::save(&b, path).unwrap();
    }
}

/// A small deterministic generator; the seed is printed so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn a_save_killed_at_any_moment_leaves_the_old_or_the_new_model() {
    if std::env::var_os("THREATMAP_SAVE_LOOP").is_some() {
        return;
    }
    let (a, b) = models();
    assert_ne!(a, b);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.threatmap.json");
    std::fs::write(&path, &a).unwrap();
    let seed = std::env::var("THREATMAP_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1);
    println!("seed {seed} (THREATMAP_KILL_SEED replays it)");
    let mut rng = Rng(seed);
    // How long one save takes here: kills are spread over about three of them.
    let model_b = file::parse(&b, "b").unwrap();
    let t = Instant::now();
    for _ in 0..3 {
        file::save(&model_b, &dir.path().join("probe.json")).unwrap();
    }
    let save_time = t.elapsed() / 3;
    let spread = (save_time * 6).as_micros() as u64 + 1;
    println!("one save takes {save_time:?}; kills spread over {spread} µs after the child is ready");
    let (mut saw_a, mut saw_b) = (0, 0);
    for round in 0..KILLS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "save_loop_child", "--nocapture", "--test-threads=1"])
            .env("THREATMAP_SAVE_LOOP", &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait for the child to be ready, then anywhere from before its first save to a few
        // saves in.
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("ready") {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "the child ended before it was ready");
        }
        let wait = Duration::from_micros(rng.below(spread));
        let started = Instant::now();
        while started.elapsed() < wait {
            std::thread::sleep(Duration::from_micros(200));
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let on_disk = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("round {round} (seed {seed}): {e}"));
        if on_disk == a {
            saw_a += 1;
        } else if on_disk == b {
            saw_b += 1;
        } else {
            panic!("round {round} (seed {seed}), killed after {wait:?}: the file is neither model ({} bytes)", on_disk.len());
        }
        file::parse(&on_disk, "model.threatmap.json").unwrap();
    }
    println!("{KILLS} kills: {saw_a} times the first model, {saw_b} times the second");
    // The kills landed both before and after renames.
    assert!(saw_a > 0 && saw_b > 0, "kills never interrupted the loop between saves: {saw_a} / {saw_b}");
}
