//! OWASP Threat Dragon JSON. The model, with the threats it carries, must survive the rules, the
//! canonical round trip and the drawing.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use threatmap_core::threat_dragon;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(converted) = threat_dragon::import(text, "fuzz.json") {
        common::exercise_converted(&converted);
    }
});
