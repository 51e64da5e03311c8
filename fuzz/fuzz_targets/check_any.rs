//! Any bytes, format detected, then every checker on whatever loads, with small
//! budgets: an error, or a verdict; never a panic. (Arithmetic overflow panics here,
//! since fuzz builds check it.)
#![no_main]
use faultline_checkers::elle::{self, ElleOptions, TxnKind};
use faultline_checkers::import::import_str;
use faultline_checkers::linear::{self, LinearOptions, RegisterModel};
use faultline_checkers::{bank, counter, long_fork, set, set_full, stats, unique_ids, History};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(imported) = import_str(text, std::path::Path::new("fuzz"), None, None) else { return };
    let Ok(h) = History::new(imported.ops) else { return };
    let bare = faultline_checkers::bare_values(&h);
    for model in [RegisterModel::Register, RegisterModel::CasRegister, RegisterModel::Kv, RegisterModel::Mutex, RegisterModel::MultiRegister] {
        let opts = LinearOptions { single_key: bare, time_budget: Duration::from_millis(50), memory_budget_bytes: 8 << 20, initial: imported.initial_value.clone(), ..LinearOptions::new(model) };
        let _ = linear::check(&h, &opts);
    }
    let _ = set_full::check(&h, &set_full::SetFullOptions { single_key: bare, ..Default::default() });
    let _ = set::check(&h);
    let _ = long_fork::check(&h);
    let _ = counter::check(&h);
    let _ = bank::check(&h, &bank::BankOptions::default());
    let _ = unique_ids::check(&h);
    let _ = stats::check(&h);
    for kind in [TxnKind::ListAppend, TxnKind::RwRegister] {
        let _ = elle::check(&h, &ElleOptions { time_budget: Duration::from_millis(50), ..ElleOptions::new(kind) });
    }
});
