//! The native model file: load and check any text; what loads must survive the rules, the
//! canonical round trip and the drawing.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use threatmap_core::file;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(loaded) = file::parse_checked(text, "fuzz.threatmap.json") {
        common::exercise(&loaded.model);
    }
});
