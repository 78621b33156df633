//! The real desktop app in a real X server (Xvfb, with the openbox window manager), driven as a
//! person drives it: xdotool moves the mouse and types, and every step is checked against what
//! the window shows, read back from screenshots (ImageMagick `import`, tesseract for text,
//! pixel colours for badges). No file dialog portal and no zenity are available to the app, as
//! on minimal desktops: it must offer its own dialog.
//!
//! - `a_first_hour_in_the_app`: the journey of a new user, each step asserting what they see
//!   (see the test for the steps), and idle CPU counted in repaints.
//! - `autosave_recovers_the_last_edit_after_the_app_is_killed`: crash recovery.
//!
//! Needs `Xvfb`, `xdotool`, `openbox`, ImageMagick and `tesseract` (CI installs them and sets
//! `THREATMAP_REQUIRE_XVFB=1`); without them the tests say so and pass only when not required.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool}")).stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// True if the tools are here; otherwise says what is missing (and fails if they are required).
fn tools(needed: &[&str], what: &str) -> bool {
    let missing: Vec<&str> = needed.iter().copied().filter(|t| !have(t)).collect();
    if missing.is_empty() {
        return true;
    }
    assert!(std::env::var_os("THREATMAP_REQUIRE_XVFB").is_none(), "THREATMAP_REQUIRE_XVFB is set but {missing:?} are missing");
    eprintln!("SKIPPED: {missing:?} not found (apt-get install xvfb xdotool openbox imagemagick tesseract-ocr); {what} not checked");
    false
}

/// One real-window test at a time: two software-rendered windows side by side starve each other
/// on a small machine.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Where `text` (one word, or the last word of a phrase on one line) is among `words` (letter
/// case aside: OCR confuses `I` and `i`).
fn find_in(words: &[Word], text: &str) -> Option<(i32, i32)> {
    let parts: Vec<String> = text.split(' ').map(str::to_lowercase).collect();
    words.iter().enumerate().find_map(|(k, w)| {
        let matches = parts
            .iter()
            .enumerate()
            .all(|(j, p)| words.get(k + j).is_some_and(|x| x.text.to_lowercase().contains(p.as_str()) && x.line == w.line));
        matches.then(|| words[k + parts.len() - 1].at.center())
    })
}

/// Kills the process when dropped, so a failed assertion leaves nothing running.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `f` gives a value, or fails after `secs` seconds naming `what`.
fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// An X server of our own (it tells its display number on the given descriptor), with a
/// window manager if asked. `-noreset`: without it the server resets when its last client
/// leaves (the app killed with no window manager running), and the next app to connect in
/// that moment is refused.
struct Desktop {
    display: String,
    _wm: Option<Killed>,
    _xvfb: Killed,
}

impl Desktop {
    fn start(window_manager: bool) -> Desktop {
        let mut xvfb = Killed(
            Command::new("Xvfb")
                .args(["-displayfd", "1", "-noreset", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let mut line = String::new();
        BufReader::new(xvfb.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(!line.trim().is_empty(), "Xvfb did not start (no display number)");
        let display = format!(":{}", line.trim());
        let wm = window_manager
            .then(|| Killed(Command::new("openbox").env("DISPLAY", &display).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()));
        Desktop { display, _wm: wm, _xvfb: xvfb }
    }

    fn xdotool(&self, args: &[&str]) -> String {
        let o = Command::new("xdotool").args(args).env("DISPLAY", &self.display).output().unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    }
}

/// A rectangle in window coordinates (pixels).
#[derive(Debug, Clone, Copy)]
struct Area {
    x: i32,
    y: i32,
    w: i32,
    h: i32,
}

impl Area {
    fn center(&self) -> (i32, i32) {
        (self.x + self.w / 2, self.y + self.h / 2)
    }
}

/// A word read from the window, with where it is.
#[derive(Debug, Clone)]
struct Word {
    text: String,
    at: Area,
    line: (u32, u32, u32),
}

/// The running app: its window, and the frames it painted (counted from its trace).
struct App<'d> {
    desktop: &'d Desktop,
    wid: String,
    pid: u32,
    frames: Arc<AtomicU64>,
    shots: PathBuf,
    shot_no: std::cell::Cell<u32>,
    _child: Killed,
}

impl<'d> App<'d> {
    /// Starts the app in `dir` (its working folder) on `args`, with nothing that could show a
    /// system file dialog (no D-Bus session, no zenity on its PATH), and waits for its window.
    fn start(desktop: &'d Desktop, dir: &Path, args: &[&Path], title: &str) -> App<'d> {
        let home = dir.join("home");
        std::fs::create_dir_all(home.join("bin")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_threatmap"))
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("DISPLAY", &desktop.display)
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("PATH", home.join("bin"))
            .env("LIBGL_ALWAYS_SOFTWARE", "1")
            .env("THREATMAP_TRACE_FRAMES", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let frames = Arc::new(AtomicU64::new(0));
        let stderr = child.stderr.take().unwrap();
        let counter = frames.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.starts_with("threatmap: frame ") {
                    counter.fetch_add(1, Ordering::Relaxed);
                } else {
                    eprintln!("app: {line}");
                }
            }
        });
        let pid = child.id();
        let wid = wait_for(120, "the app's window", || {
            let ids = desktop.xdotool(&["search", "--pid", &pid.to_string()]);
            ids.lines().find(|w| desktop.xdotool(&["getwindowname", w]).contains(title)).map(str::to_owned)
        });
        // THREATMAP_SHOTS keeps the screenshots somewhere to look at.
        let shots = std::env::var_os("THREATMAP_SHOTS").map_or_else(|| dir.join("shots"), PathBuf::from);
        std::fs::create_dir_all(&shots).unwrap();
        let app = App { desktop, wid, pid, frames, shots, shot_no: std::cell::Cell::new(0), _child: Killed(child) };
        app.focus();
        // The first frames (fonts, fit to window) settle.
        app.settle();
        app
    }

    /// Gives the window the keyboard focus and waits until it has it. The window manager starts
    /// beside the app and may take the focus back while it comes up, so one activation is not
    /// enough: a key pressed then goes to no window.
    fn focus(&self) {
        wait_for(30, "the app's window to have the keyboard focus", || {
            if self.desktop.xdotool(&["getwindowfocus"]) == self.wid {
                return Some(());
            }
            self.desktop.xdotool(&["windowactivate", "--sync", &self.wid]);
            self.desktop.xdotool(&["windowfocus", "--sync", &self.wid]);
            None
        });
    }

    fn title(&self) -> String {
        self.desktop.xdotool(&["getwindowname", &self.wid])
    }

    fn size(&self) -> (i32, i32) {
        let g = self.desktop.xdotool(&["getwindowgeometry", "--shell", &self.wid]);
        let get = |k: &str| g.lines().find_map(|l| l.strip_prefix(k)).and_then(|v| v.parse().ok()).unwrap_or(0);
        (get("WIDTH="), get("HEIGHT="))
    }

    /// Waits until the window has painted everything the last input caused: frames stop, or
    /// come no faster than a text cursor blinks (a focused field repaints to blink).
    fn settle(&self) {
        let mut last = self.frames.load(Ordering::Relaxed);
        let mut calm = 0;
        // A few seconds at most: the built-in file dialog repaints while it lists a folder.
        let until = Instant::now() + Duration::from_secs(6);
        while calm < 2 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(300));
            let now = self.frames.load(Ordering::Relaxed);
            calm = if now - last <= 1 { calm + 1 } else { 0 };
            last = now;
        }
    }

    fn key(&self, keys: &str) {
        self.focus();
        self.desktop.xdotool(&["key", "--delay", "60", keys]);
        self.settle();
    }

    /// Types `text` as key presses (keysyms of the current layout: `xdotool type` remaps keys
    /// for every character, which costs the app a keymap reload each time).
    fn type_text(&self, text: &str) {
        let keys: Vec<String> = text
            .chars()
            .map(|c| match c {
                ' ' => "space".to_owned(),
                '/' => "slash".to_owned(),
                '.' => "period".to_owned(),
                '-' => "minus".to_owned(),
                '_' => "underscore".to_owned(),
                c if c.is_ascii_alphanumeric() => c.to_string(),
                c => panic!("type_text: no key for {c:?}"),
            })
            .collect();
        self.focus();
        let mut args = vec!["key", "--delay", "40"];
        args.extend(keys.iter().map(String::as_str));
        self.desktop.xdotool(&args);
        self.settle();
    }

    fn move_to(&self, (x, y): (i32, i32)) {
        self.desktop.xdotool(&["mousemove", "--window", &self.wid, &x.to_string(), &y.to_string()]);
    }

    fn click(&self, at: (i32, i32)) {
        self.move_to(at);
        std::thread::sleep(Duration::from_millis(150));
        self.desktop.xdotool(&["click", "1"]);
        self.settle();
    }

    /// Presses at `from`, moves to `to` in paced steps, releases.
    fn drag(&self, from: (i32, i32), to: (i32, i32)) {
        self.move_to(from);
        std::thread::sleep(Duration::from_millis(150));
        self.desktop.xdotool(&["mousedown", "1"]);
        std::thread::sleep(Duration::from_millis(150));
        for k in 1..=10 {
            self.move_to((from.0 + (to.0 - from.0) * k / 10, from.1 + (to.1 - from.1) * k / 10));
            std::thread::sleep(Duration::from_millis(80));
        }
        std::thread::sleep(Duration::from_millis(150));
        self.desktop.xdotool(&["mouseup", "1"]);
        self.settle();
    }

    /// A screenshot of the window (kept in the test folder for a person to look at).
    fn shot(&self, name: &str) -> PathBuf {
        let n = self.shot_no.get() + 1;
        self.shot_no.set(n);
        let path = self.shots.join(format!("{n:02}-{name}.png"));
        let ok = Command::new("import")
            .args(["-window", &self.wid, path.to_str().unwrap()])
            .env("DISPLAY", &self.desktop.display)
            .status()
            .unwrap()
            .success();
        assert!(ok, "screenshot failed");
        path
    }

    /// The words tesseract reads in `area` of a screenshot (scaled up three times first; read as a
    /// column of text, which suits panels, tables and the status bar).
    fn words(&self, shot: &Path, area: Area) -> Vec<Word> {
        self.words_as(shot, area, "4")
    }

    /// The words in `area` read as scattered text (tesseract's page mode 11), which suits the
    /// canvas.
    fn sparse_words(&self, shot: &Path, area: Area) -> Vec<Word> {
        self.words_as(shot, area, "11")
    }

    fn words_as(&self, shot: &Path, area: Area, psm: &str) -> Vec<Word> {
        let crop = shot.with_extension(format!("{}-{}.ocr.png", area.x, area.y));
        let ok = Command::new("convert")
            .arg(shot)
            .args(["-crop", &format!("{}x{}+{}+{}", area.w, area.h, area.x, area.y), "+repage"])
            .args(["-resize", "300%", "-colorspace", "Gray"])
            .arg(&crop)
            .status()
            .unwrap()
            .success();
        assert!(ok, "crop failed");
        let out = Command::new("tesseract").arg(&crop).args(["-", "--psm", psm, "tsv"]).output().unwrap();
        let _ = std::fs::remove_file(&crop);
        let tsv = String::from_utf8_lossy(&out.stdout);
        tsv.lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                let text = f.get(11)?.trim();
                if f.len() < 12 || text.is_empty() {
                    return None;
                }
                let n = |k: usize| f[k].parse::<i32>().unwrap_or(0);
                Some(Word {
                    text: text.to_owned(),
                    at: Area { x: area.x + n(6) / 3, y: area.y + n(7) / 3, w: n(8) / 3, h: n(9) / 3 },
                    line: (n(2) as u32, n(3) as u32, n(4) as u32),
                })
            })
            .collect()
    }

    /// The text in `area`, words joined in reading order.
    fn read(&self, shot: &Path, area: Area) -> String {
        let words = self.words(shot, area);
        let mut lines: Vec<((u32, u32, u32), Vec<String>)> = Vec::new();
        for w in words {
            match lines.iter_mut().find(|(l, _)| *l == w.line) {
                Some((_, ws)) => ws.push(w.text),
                None => lines.push((w.line, vec![w.text])),
            }
        }
        lines.into_iter().map(|(_, ws)| ws.join(" ")).collect::<Vec<_>>().join("\n")
    }

    /// Where `text` (one word, or the last word of a phrase on one line) is shown in `area`
    /// (letter case aside: OCR confuses `I` and `i`).
    fn find(&self, shot: &Path, area: Area, text: &str) -> Option<(i32, i32)> {
        find_in(&self.words(shot, area), text)
    }

    /// Waits until `area` shows `text`, read as a column or, failing that, as scattered text
    /// (a menu drawn over the diagram: its lines throw the column reading off); returns where.
    fn wait_for_text_over_canvas(&self, area: Area, text: &str, what: &str) -> (i32, i32) {
        wait_for(40, &format!("{what}: `{text}` on screen"), || {
            let shot = self.shot(what);
            self.find(&shot, area, text).or_else(|| find_in(&self.sparse_words(&shot, area), text))
        })
    }

    /// Waits until `area` shows `text`; returns where.
    fn wait_for_text(&self, area: Area, text: &str, what: &str) -> (i32, i32) {
        wait_for(40, &format!("{what}: `{text}` on screen"), || {
            let shot = self.shot(what);
            self.find(&shot, area, text)
        })
    }

    /// CPU time the process used so far, in clock ticks (1/100 s).
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = after.split(' ').collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    }

    // Areas of the window, from its layout: menu bar, palette, canvas, inspector, findings
    // table, status bar.
    fn menu_bar(&self) -> Area {
        Area { x: 0, y: 0, w: 400, h: 24 }
    }
    fn palette(&self) -> Area {
        Area { x: 0, y: 24, w: 150, h: 300 }
    }
    fn status_bar(&self) -> Area {
        let (w, h) = self.size();
        Area { x: 0, y: h - 26, w, h: 26 }
    }
    /// The inspector: its width is the app's (27 % of the window, 240 to 400 px), so the
    /// findings table's last columns stay out of what is read as the inspector.
    fn inspector(&self) -> Area {
        let (w, h) = self.size();
        let iw = (w as f32 * 0.27).clamp(240.0, 400.0) as i32 + 4;
        Area { x: w - iw, y: 24, w: iw, h: h - 52 }
    }
    /// The findings table's height, as the app opens it.
    fn table_height(&self) -> i32 {
        224
    }
    fn table(&self) -> Area {
        let (w, h) = self.size();
        let t = self.table_height();
        Area { x: 150, y: h - 26 - t, w: w - 150 - 430, h: t }
    }
    fn canvas(&self) -> Area {
        let (w, h) = self.size();
        Area { x: 150, y: 24, w: w - 150 - 430, h: h - 24 - 26 - self.table_height() }
    }

    fn status(&self) -> String {
        let shot = self.shot("status");
        self.read(&shot, self.status_bar())
    }

    /// The counts in the status bar: elements, open, decided.
    fn counts(&self) -> (u32, u32, u32) {
        let s = self.status();
        let num = |label: &str| -> u32 {
            let words: Vec<&str> = s.split_whitespace().collect();
            let k = words.iter().position(|w| w.starts_with(label)).unwrap_or_else(|| panic!("no `{label}` in the status bar: {s}"));
            words[k - 1].trim_matches(|c: char| !c.is_ascii_digit()).parse().unwrap_or_else(|_| panic!("no count before `{label}`: {s}"))
        };
        (num("elements"), num("open"), num("decided"))
    }

    /// Drags the stencil `name` from the palette onto the canvas at `to`.
    fn add_stencil(&self, name: &str, to: (i32, i32)) {
        let shot = self.shot("palette");
        let from = self.find(&shot, self.palette(), name).unwrap_or_else(|| panic!("stencil {name} not in the palette"));
        self.drag(from, to);
    }

    /// Clicks a menu, then an entry of it (and of a submenu).
    fn menu(&self, path: &[&str]) {
        let shot = self.shot("menu");
        let at = self.find(&shot, self.menu_bar(), path[0]).unwrap_or_else(|| panic!("menu {} not found", path[0]));
        self.click(at);
        // The menu and its submenus, and little of the canvas beside them (drawings behind a
        // wide crop throw tesseract's layout off).
        let (w, h) = self.size();
        let x = (at.0 - 40).max(0);
        let popup = Area { x, y: 20, w: 460.min(w - x), h: h / 2 };
        for entry in &path[1..] {
            let at = self.wait_for_text_over_canvas(popup, entry, "menu entry");
            self.click(at);
        }
    }

    /// Answers the app's own file dialog with `path` (typed into its path field).
    fn choose_file(&self, path: &Path) {
        let (w, h) = self.size();
        self.wait_for_text(Area { x: 0, y: 0, w, h }, "Cancel", "the file dialog");
        self.key("slash");
        self.key("ctrl+a");
        self.type_text(path.to_str().unwrap());
        self.key("Return");
    }

    /// Pixels of `area` as RGB triples (row by row).
    fn pixels(&self, shot: &Path, area: Area) -> Vec<[u8; 3]> {
        let out = Command::new("convert")
            .arg(shot)
            .args(["-crop", &format!("{}x{}+{}+{}", area.w, area.h, area.x, area.y), "+repage", "-depth", "8", "rgb:-"])
            .output()
            .unwrap();
        out.stdout.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect()
    }

    /// Where a pixel of exactly `color` is in `area` (the first, row by row).
    fn find_color(&self, shot: &Path, area: Area, color: [u8; 3]) -> Option<(i32, i32)> {
        let px = self.pixels(shot, area);
        let k = px.iter().position(|p| *p == color)?;
        Some((area.x + (k as i32 % area.w), area.y + (k as i32 / area.w)))
    }
}

fn elements_in(path: &Path, key: Option<&str>) -> Option<usize> {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let m = match key {
        Some(k) => v.get(k)?,
        None => &v,
    };
    Some(m.get("elements")?.as_array()?.len())
}

/// The journey of a new user's first hour, in a real window. Every step checks what the person
/// sees; the defects each step would catch are named beside it.
#[test]
fn a_first_hour_in_the_app() {
    if !tools(&["Xvfb", "xdotool", "openbox", "import", "convert", "tesseract"], "the first-hour journey in a real window") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let start_model = dir.path().join("web-app.threatmap.json");
    std::fs::copy(common::example("web-app.threatmap.json"), &start_model).unwrap();
    let other = dir.path().join("iot-board.threatmap.json");
    std::fs::copy(common::example("iot-board.threatmap.json"), &other).unwrap();
    let desktop = Desktop::start(true);
    let app = App::start(&desktop, dir.path(), &[&start_model], "web-app.threatmap.json");

    // Idle: 30 s with no input paint nothing and use (almost) no CPU.
    let (frames0, ticks0) = (app.frames.load(Ordering::Relaxed), app.cpu_ticks());
    std::thread::sleep(Duration::from_secs(30));
    let (idle_frames, idle_ticks) = (app.frames.load(Ordering::Relaxed) - frames0, app.cpu_ticks() - ticks0);
    eprintln!("idle for 30 s: {idle_frames} frame(s) painted, {:.2} % of one core", idle_ticks as f64 / 30.0);
    assert!(idle_frames <= 1, "an idle window painted {idle_frames} frames in 30 s");

    // The example: its findings in the table and the status bar.
    let (elements, open, _) = app.counts();
    assert_eq!(elements, 12, "the example's elements");
    assert!(open > 40, "the example's open findings: {open}");

    // New: an empty model, an empty table, and the status line says so (not "Opened ...").
    app.key("ctrl+n");
    let status = app.status();
    assert!(status.contains("New model"), "status after New: {status}");
    assert_eq!(app.counts(), (0, 0, 0));
    let shot = app.shot("new");
    let table = app.read(&shot, app.table());
    assert!(!table.contains("GEN-"), "the previous model's findings are still listed after New:\n{table}");
    assert!(app.title().contains("Untitled"), "title after New: {}", app.title());

    // Four nodes, then a boundary dropped over two of them, then three flows.
    let c = app.canvas();
    let at = |x: i32, y: i32| (c.x + x, c.y + y);
    app.add_stencil("Actor", at(150, 150));
    app.add_stencil("Server", at(500, 150));
    app.add_stencil("Datastore", at(500, 270));
    app.add_stencil("Process", at(150, 380));
    assert_eq!(app.counts().0, 4);
    app.add_stencil("Boundary", at(500, 210));
    assert_eq!(app.counts().0, 5);
    // The boundary drawn over the server makes it a member: the inspector says so.
    app.click(at(500, 150));
    app.wait_for_text(app.inspector(), "Inside boundary", "membership of the server");
    // Flows from the blue handle at the right of each node.
    let handle = |x: i32, y: i32, w: i32| at(x + w / 2 + 10, y);
    app.click(at(150, 150));
    app.drag(handle(150, 150, 130), at(500, 150));
    app.click(at(500, 150));
    app.drag(handle(500, 150, 140), at(500, 270));
    app.click(at(150, 380));
    app.drag(handle(150, 380, 140), at(500, 150));
    assert_eq!(app.counts().0, 8, "4 nodes, a boundary and 3 flows");

    // Rename the server; one Ctrl+Z undoes the whole rename.
    app.click(at(500, 150));
    let shot = app.shot("server-selected");
    let name_label = app.find(&shot, app.inspector(), "Name").expect("the inspector's Name field");
    app.click((name_label.0 + 40, name_label.1 + 20));
    app.key("ctrl+a");
    app.type_text("Orders API");
    app.click(at(700, 480)); // empty canvas: the field loses focus
    let around = |(x, y): (i32, i32)| Area { x: x - 65, y: y - 13, w: 130, h: 26 };
    app.wait_for_text(around(at(500, 150)), "Orders", "the renamed server on the canvas");
    app.key("ctrl+z");
    let shot = app.shot("after-undo");
    let name = app.read(&shot, around(at(500, 150)));
    assert!(name.contains("Server") && !name.contains("Orders"), "one Ctrl+Z should undo the rename: the canvas shows {name:?}");

    // A control changes the findings: the open count and the server's badge follow.
    let (_, open_before, _) = app.counts();
    app.click(at(500, 150));
    let shot = app.shot("inspector");
    let search = app.find(&shot, app.inspector(), "Search").expect("the inspector's search field");
    app.click((search.0 + 80, search.1));
    app.type_text("sanitizes");
    let checkbox = app.wait_for_text(app.inspector(), "sanitizesInput", "the control");
    app.click((checkbox.0 - 40, checkbox.1));
    let (_, open_after, _) = app.counts();
    assert!(open_after < open_before, "setting sanitizesInput should close findings: {open_before} → {open_after}");

    // Another element starts with its attributes unfiltered.
    app.click(at(150, 150));
    let shot = app.shot("actor");
    let inspector = app.read(&shot, app.inspector());
    assert!(!inspector.contains("sanitizes"), "the search typed for the server still filters the actor's attributes:\n{inspector}");

    // A click on a badge selects its element (it used to clear the selection).
    app.click(at(700, 480));
    let shot = app.shot("badges");
    let very_high = [0x7f, 0x1d, 0x1d];
    let badge = app.find_color(&shot, Area { x: c.x + 380, y: c.y + 80, w: 300, h: 120 }, very_high).expect("the server's badge");
    app.click((badge.0, badge.1 + 3));
    app.wait_for_text(app.inspector(), "Findings", "the server's findings after a click on its badge");

    // Triage from the table: a click anywhere on a row opens the finding; Mitigated moves it
    // from open to decided everywhere.
    let (_, open_before, decided_before) = app.counts();
    let shot = app.shot("table");
    let row = app.find(&shot, app.table(), "GEN-").expect("a finding in the table");
    app.click((row.0 + 250, row.1));
    let status_combo = app.wait_for_text(app.inspector(), "Status Open", "the finding's status");
    app.click(status_combo);
    // The list opens under the combo box: read there only (the labels beside it run into it).
    let (w, _) = app.size();
    let list = Area { x: status_combo.0 - 30, y: status_combo.1, w: w - (status_combo.0 - 30), h: 240 };
    let mitigated = app.wait_for_text(list, "Mitigated", "the status list");
    app.click(mitigated);
    let (_, open_after, decided_after) = app.counts();
    assert_eq!((open_after, decided_after), (open_before - 1, decided_before + 1), "one finding triaged as mitigated");
    app.wait_for_text(app.inspector(), "Mitigated on", "the triage history");

    // Save an untitled model: the app offers its own dialog, since the desktop offers none.
    app.click(at(700, 480));
    app.key("ctrl+s");
    let saved = dir.path().join("orders.threatmap.json");
    app.choose_file(&saved);
    wait_for(20, "the saved model", || (elements_in(&saved, None) == Some(8)).then_some(()));
    wait_for(10, "the title of the saved model", || app.title().starts_with("orders.threatmap.json").then_some(()));

    // Open another model through File → Open: its nodes, flows and findings in the first frame.
    app.menu(&["File", "Open"]);
    app.choose_file(&other);
    wait_for(20, "the opened model", || app.title().starts_with("iot-board.threatmap.json").then_some(()));
    let shot = app.shot("opened");
    let drawn: String = app.sparse_words(&shot, c).iter().map(|w| w.text.to_lowercase() + " ").collect();
    // A drawing too wide to fit legibly opens at a legible zoom on its start (its left part).
    let names = [
        "board",
        "telemetry to radio",
        "flash firmware",
        "programming workstation",
        "save firmware image",
        "pc data store",
        "generic process",
    ];
    let legible: Vec<&str> = names.iter().copied().filter(|n| drawn.contains(n)).collect();
    assert!(legible.len() >= 4, "the opened model's nodes and flows are not drawn legibly: read {legible:?} in {drawn}");
    let table = app.read(&shot, app.table());
    assert!(table.contains("Telemetry"), "the opened model's findings are not listed:\n{table}");
    let status = app.read(&shot, app.status_bar());
    assert!(status.contains("iot-board"), "status after Open: {status}");

    // Export the diagram as PNG and the report as HTML through the menu and the dialog.
    app.menu(&["File", "Export", "PNG"]);
    let png = dir.path().join("iot.png");
    app.choose_file(&png);
    wait_for(20, "the PNG", || std::fs::read(&png).ok().filter(|b| b.starts_with(b"\x89PNG") && b.len() > 10_000).map(|_| ()));
    app.menu(&["File", "Export", "HTML"]);
    let html = dir.path().join("iot.html");
    app.choose_file(&html);
    wait_for(20, "the report", || std::fs::read_to_string(&html).ok().filter(|t| t.contains("Connected sensor board")).map(|_| ()));

    // A failed write is shown, naming the file and the reason.
    app.menu(&["File", "Export", "SVG"]);
    let unwritable = dir.path().join("no-such-folder").join("x.svg");
    app.choose_file(&unwritable);
    let (w, h) = app.size();
    let whole = Area { x: 0, y: 0, w, h };
    app.wait_for_text(whole, "Cannot export", "the error window");
    app.key("Return");
}

#[test]
fn autosave_recovers_the_last_edit_after_the_app_is_killed() {
    if !tools(&["Xvfb", "xdotool"], "crash recovery in a real window") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.threatmap.json");
    std::fs::copy(common::example("web-app.threatmap.json"), &model).unwrap();
    let before = elements_in(&model, None).unwrap();
    assert!(before > 0);
    let desktop = Desktop::start(false);

    // Edit: select everything and delete it. The title gets its unsaved-changes dot.
    let app = App::start(&desktop, dir.path(), &[&model], "m.threatmap.json");
    app.move_to((700, 400));
    wait_for(30, "the edit", || {
        app.key("ctrl+a");
        app.key("Delete");
        app.title().starts_with('•').then_some(())
    });
    // The recovery file catches up on its own (no input needed).
    let recovery = dir.path().join("home/data/threatmap/recovery.threatmap.json");
    wait_for(30, "the recovery file with the edit", || (elements_in(&recovery, Some("model")) == Some(0)).then_some(()));
    assert_eq!(elements_in(&model, None), Some(before), "the model file is untouched until the user saves");
    drop(app); // SIGKILL: no chance to clean up

    // Started again, the app offers the work back: Tab to "Restore", Enter, then save.
    let app = App::start(&desktop, dir.path(), &[&model], "m.threatmap.json");
    app.key("Tab");
    app.key("Return");
    wait_for(30, "the restored work (dirty title)", || app.title().starts_with('•').then_some(()));
    wait_for(30, "the save", || {
        app.key("ctrl+s");
        (elements_in(&model, None) == Some(0)).then_some(())
    });
    // Saved: nothing left to recover.
    wait_for(10, "the recovery file to go", || (!recovery.exists()).then_some(()));
}

/// The workflows TMT and Threat Dragon users rely on, in a real window: the command palette,
/// a threat of one's own, bulk triage, every template, and a model built and triaged from the
/// keyboard alone. What the window shows is read back; what was saved is read from the file.
#[test]
fn palette_threats_bulk_triage_templates_and_keyboard_in_a_real_window() {
    if !tools(&["Xvfb", "xdotool", "openbox", "import", "convert", "tesseract"], "the new workflows in a real window") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("web-app.threatmap.json");
    std::fs::copy(common::example("web-app.threatmap.json"), &model).unwrap();
    let desktop = Desktop::start(true);
    let app = App::start(&desktop, dir.path(), &[&model], "web-app.threatmap.json");
    let (w, h) = app.size();
    let whole = Area { x: 0, y: 0, w, h };
    // The table and its toolbar, up to the inspector (narrower than `table()` allows for).
    let t = app.table_height();
    let table = Area { x: 150, y: h - 36 - t, w: w - 150 - (w as f32 * 0.27) as i32, h: t + 10 };
    let prompt = Area { x: w / 2 - 220, y: h / 2 - 100, w: 440, h: 200 };
    let palette = Area { x: w / 4 - 10, y: 50, w: w / 2 + 20, h: 330 };
    let command = |text: &str| {
        app.key("ctrl+k");
        app.wait_for_text(palette, "from template", "the command palette");
        app.type_text(text);
        app.key("Return");
    };
    // Answers the unsaved-changes prompt with Discard, which sits between Save and Cancel
    // (tesseract misreads it once it has the focus frame an earlier click leaves on it).
    let discard = || {
        let cancel = app.wait_for_text(prompt, "Cancel", "the unsaved-changes prompt");
        let shot = app.shot("prompt");
        let at = app.find(&shot, prompt, "Discard").unwrap_or((cancel.0 - 57, cancel.1));
        app.click(at);
    };
    let saved = |path: &Path| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap() };

    // The palette: a command by a few letters, then an element by name.
    let zoom_before = app.status();
    command("zoom in");
    let zoom_after = app.status();
    assert_ne!(zoom_before, zoom_after, "Zoom In from the palette changes the zoom in the status bar");
    command("go sql");
    // The inspector shows its attributes (its operating system) and scrolls to its findings.
    app.wait_for_text(app.inspector(), "CentOS", "the element the palette jumped to");

    // A threat of one's own on the selected element: the new threat has the keyboard in its title.
    let (_, open_before, _) = app.counts();
    let header = app.wait_for_text(app.inspector(), "Threats written", "the hand-written threats section");
    app.click(header);
    let add = app.wait_for_text(app.inspector(), "Add threat", "the Add threat button");
    app.click(add);
    app.key("ctrl+a");
    app.type_text("Backups copied to a public bucket");
    app.key("Escape");
    let (_, open_after, _) = app.counts();
    assert_eq!(open_after, open_before + 1, "the new threat is an open finding");
    let filter = app.wait_for_text(app.table(), "Filter", "the table's filter");
    app.click(filter);
    app.type_text("Backups");
    // The threat is a row of the table (read under the toolbar, whose filter holds the word).
    let rows = Area { y: app.table().y + 36, h: app.table().h - 36, ..app.table() };
    app.wait_for_text(rows, "Backups copied", "the threat in the findings table");
    app.key("ctrl+a");
    app.key("BackSpace");
    app.key("ctrl+s");
    wait_for(20, "the saved threat", || {
        std::fs::read_to_string(&model).ok().filter(|t| t.contains("Backups copied to a public bucket")).map(|_| ())
    });
    let out = |args: &[&str]| String::from_utf8(Command::new(env!("CARGO_BIN_EXE_threatmap")).args(args).output().unwrap().stdout).unwrap();
    let path = model.to_str().unwrap();
    assert!(out(&["export", path, "--format", "sarif"]).contains("Backups copied to a public bucket"), "SARIF carries the threat");
    assert!(out(&["report", path]).contains("Backups copied to a public bucket"), "the report carries the threat");

    // Bulk triage: every finding shown, one status for all, saved.
    app.key("Escape");
    let select = app.wait_for_text(table, "Select shown", "the Select shown button");
    app.click(select);
    let keep = app.wait_for_text(table, "(keep)", "the bulk status choice");
    app.click(keep);
    let mitigated = app.wait_for_text(whole, "Mitigated", "the status list");
    app.click(mitigated);
    let apply = app.wait_for_text(table, "Apply", "the Apply button");
    app.click(apply);
    let (_, open_now, decided_now) = app.counts();
    assert!(open_now == 0 && decided_now >= 20, "bulk triage decided {decided_now} findings, {open_now} left open");
    app.key("ctrl+s");
    wait_for(20, "the saved decisions", || {
        let v = saved(&model);
        let n = v["decisions"].as_object().map_or(0, |d| d.values().filter(|d| d["status"] == "mitigated").count());
        (n >= 20).then_some(())
    });

    // Every template starts a model with findings; an untouched template is replaced without
    // a question (it holds no work of the user's), a changed one only after one.
    for (k, (query, title)) in [
        ("template web", "Web application"),
        ("template mobile", "Mobile app with API"),
        ("template kubernetes", "Cloud microservices on Kubernetes"),
        ("template iot", "IoT device"),
        ("template llm", "LLM application with tools"),
    ]
    .into_iter()
    .enumerate()
    {
        if k == 2 {
            // A change to the template shown: the next one asks first.
            command("add process");
            app.key("ctrl+a");
            app.type_text("Billing");
            app.key("Escape");
            command(query);
            discard();
        } else {
            command(query);
        }
        wait_for(20, "the template's model", || app.title().contains("Untitled").then_some(()));
        app.wait_for_text(app.inspector(), title.rsplit(' ').next().unwrap(), "the template's name in the inspector");
        let (elements, open, _) = app.counts();
        assert!(elements >= 8 && open > 0, "{title}: {elements} elements, {open} open findings");
    }

    // The keyboard alone: two nodes, a flow, a finding triaged, Save As.
    app.key("ctrl+n");
    app.focus();
    command("add process");
    app.key("ctrl+a");
    app.type_text("Checkout");
    app.key("Escape");
    command("add data store");
    app.key("ctrl+a");
    app.type_text("Orders");
    app.key("Escape");
    command("add flow");
    app.key("ctrl+a");
    app.type_text("Save order");
    app.key("Escape");
    let (elements, open, decided) = app.counts();
    assert_eq!((elements, decided), (3, 0), "three elements drawn from the keyboard");
    assert!(open > 0);
    command("triage");
    app.wait_for_text(palette, "Transferred", "the palette asking for a status");
    app.type_text("mitigated");
    app.key("Return");
    let (_, open_after, decided_after) = app.counts();
    assert_eq!((open_after, decided_after), (open - 1, 1), "one finding triaged from the keyboard");
    app.key("ctrl+shift+s");
    let kb = dir.path().join("keyboard.threatmap.json");
    app.choose_file(&kb);
    wait_for(20, "the model drawn from the keyboard", || (elements_in(&kb, None) == Some(3)).then_some(()));
    let v = saved(&kb);
    assert_eq!(v["decisions"].as_object().map_or(0, |d| d.len()), 1);
    let flow = &v["elements"][2];
    assert_eq!((flow["kind"].as_str(), flow["name"].as_str()), (Some("Dataflow"), Some("Save order")));
}
