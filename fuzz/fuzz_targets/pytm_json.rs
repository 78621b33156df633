//! pytm's JSON model output (`tm.py --json`).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use threatmap_core::pytm;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(imported) = pytm::import(text, "fuzz.json") {
        common::exercise(&imported.model);
    }
});
