//! The condition language: compile any text for every target kind and evaluate it on every
//! element of the example model (with `explain`, which walks the tree differently).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use threatmap_core::attr::KindSet;
use threatmap_core::engine::Prepared;
use threatmap_core::expr::Condition;
use threatmap_core::model::Model;

static MODEL: LazyLock<Model> = LazyLock::new(common::example);

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let Ok(condition) = Condition::compile(source, KindSet::ALL) else { return };
    let facts = Prepared::new(&MODEL);
    for i in 0..MODEL.elements.len() as u32 {
        let holds = condition.holds(&facts, i);
        let evidence = condition.explain(&facts, i);
        assert!(holds || evidence.is_empty(), "evidence for a condition that does not hold");
        let _ = condition.evaluate(&facts, i);
    }
});
