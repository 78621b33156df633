//! Microsoft Threat Modeling Tool .tm7 files. The generated rule pack must load, and the model must survive the rules, the
//! canonical round trip and the drawing.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use threatmap_core::tmt;
use threatmap_core::engine::{Options, analyze};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(converted) = tmt::import(text, "fuzz.tm7", "fuzz", "fuzz.template.toml") else { return };
    common::exercise(&converted.model);
    let mut rules = common::builtin_rules();
    if let Err(e) = rules.add_text(&converted.pack, "pack.toml", "pack") {
        panic!("generated pack does not load: {e:?}\n{}", converted.pack);
    }
    let _ = analyze(&converted.model, &rules, &Options::default());
});
