//! The README and `--help` come from one truth: every flag a command takes is in the
//! README, and `faultline test`'s synopsis lists all of its flags.

use std::process::Command;

/// The long flags `faultline <command> --help` lists.
fn flags(command: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_faultline")).args([command, "--help"]).output().expect("faultline runs");
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut flags: Vec<String> = help
        .lines()
        .filter_map(|l| l.trim_start().split([' ', ',', '=', '<']).find(|w| w.starts_with("--")).map(str::to_owned))
        .filter(|f| f != "--help" && f != "--version")
        .collect();
    flags.dedup();
    flags
}

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md")
}

#[test]
fn the_test_synopsis_lists_every_flag_of_faultline_test() {
    let readme = readme();
    let start = readme.find("faultline test --design").expect("the synopsis");
    let synopsis = &readme[start..start + readme[start..].find("```").expect("its end")];
    let flags = flags("test");
    assert!(flags.len() > 15, "{flags:?}");
    let missing: Vec<&String> = flags.iter().filter(|f| !synopsis.contains(&format!("{f} ")) && !synopsis.contains(&format!("{f}]"))).collect();
    assert!(missing.is_empty(), "the README's `faultline test` synopsis lacks {missing:?}");
}

#[test]
fn the_readme_names_every_flag_of_check_grade_and_serve() {
    let readme = readme();
    for command in ["check", "grade", "serve", "cluster", "images"] {
        let missing: Vec<String> = flags(command).into_iter().filter(|f| !readme.contains(f.as_str())).collect();
        assert!(missing.is_empty(), "the README does not mention {missing:?} of `faultline {command}`");
    }
}
