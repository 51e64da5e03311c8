//! `faultline grade merge` through the binary: shards' scorecards, as sharded gradings
//! write them, merge into the unsharded scorecard; foreign shards are refused.

use faultline::grade::matrix::{Matrix, Overrides};
use faultline::grade::scorecard::{CellResult, MatrixId, Scorecard};
use faultline::grade::shard::Shard;
use std::path::Path;
use std::process::Command;

fn nightly(o: &Overrides) -> Matrix {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("grade/nightly.toml");
    Matrix::read(&path, o).expect("the nightly matrix")
}

/// The scorecard a grading of `m` would write, every cell found `invalid`.
fn graded(m: &Matrix) -> Scorecard {
    let cells = m
        .cells
        .iter()
        .map(|c| {
            let mut r = CellResult::unfinished(c, String::new(), 38.0);
            r.verdict = "invalid".into();
            r.passed = c.expect != faultline::grade::matrix::Expect::Valid;
            r.why = "made up for the test".into();
            r
        })
        .collect();
    Scorecard::new(&MatrixId::of(m), "2026-12-02T10:00:00+00:00".into(), 400.0, cells)
}

fn write(card: &Scorecard, dir: &Path) {
    faultline::grade::write(card, dir).expect("a scorecard is written");
}

fn merge(args: &[&Path], out: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_faultline")).arg("grade").arg("merge").args(args).arg("--out").arg(out).output().expect("faultline runs")
}

#[test]
fn three_shards_merge_into_the_unsharded_scorecard() {
    let tmp = tempfile::tempdir().unwrap();
    let m = nightly(&Overrides::default());
    let dirs: Vec<_> = (1..=3).map(|k| tmp.path().join(format!("shard-{k}"))).collect();
    for (k, dir) in dirs.iter().enumerate() {
        write(&graded(&m.shard(Shard { k: k + 1, n: 3 })), dir);
    }
    let out = tmp.path().join("merged");
    let run = merge(&dirs.iter().map(|d| d.as_path()).collect::<Vec<_>>(), &out);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.code().is_some(), "{stderr}");
    let merged: Scorecard = serde_json::from_str(&std::fs::read_to_string(out.join("scorecard.json")).unwrap()).unwrap();
    assert_eq!(merged, graded(&m), "the merged scorecard is the unsharded one");
    assert!(out.join("scorecard.html").is_file() && out.join("junit.xml").is_file());
    let expected = if merged.deviations == 0 { 0 } else { 1 };
    assert_eq!(run.status.code(), Some(expected), "{stderr}");

    // A shard missing: merged without it, said, exit 1.
    let run = merge(&[&dirs[0], &dirs[2]], &tmp.path().join("partial"));
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("shard(s) 2 not given"), "{}", String::from_utf8_lossy(&run.stderr));
}

#[test]
fn a_shard_of_another_matrix_is_refused_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let ours = nightly(&Overrides::default());
    let theirs = nightly(&Overrides { time_limit: Some(5.0), ..Overrides::default() });
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    write(&graded(&ours.shard(Shard { k: 1, n: 2 })), &a);
    write(&graded(&theirs.shard(Shard { k: 2, n: 2 })), &b);
    let run = merge(&[&a, &b], &tmp.path().join("out"));
    assert_eq!(run.status.code(), Some(254));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("grade different matrices") && stderr.contains("not shards of one grading"), "{stderr}");
    assert!(!tmp.path().join("out").exists(), "nothing is written");
}
