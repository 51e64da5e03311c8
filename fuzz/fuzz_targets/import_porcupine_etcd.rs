//! Any bytes read as this format: an error with a line, or a history; never a panic,
//! a stack overflow or unbounded memory.
#![no_main]
use faultline_checkers::import::{import_str, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(imported) = import_str(text, std::path::Path::new("fuzz"), Some(Format::PorcupineEtcd), None) {
            let _ = faultline_checkers::History::new(imported.ops);
        }
    }
});
