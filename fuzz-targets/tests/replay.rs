//! Replays every committed fuzz input through its target on the stable toolchain: the minimised
//! corpora (`fuzz/corpus/<target>/`) and the inputs that once crashed (`fuzz/regressions/<target>/`,
//! each fixed in `shared/`). A target whose folder is missing or empty fails the test, so a renamed
//! target cannot silently stop being replayed.

use std::fs;
use std::path::{Path, PathBuf};

use imcredits_fuzz_targets::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn inputs(folder: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable folder").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

fn replay(folder: &Path, run: fn(&[u8])) -> usize {
    let files = inputs(folder);
    for file in &files {
        let bytes = fs::read(file).expect("a readable input");
        // Name the input if it panics, so the failure points at a file.
        eprintln!("replaying {}", file.display());
        run(&bytes);
    }
    files.len()
}

#[test]
fn every_corpus_input_runs_clean() {
    for target in TARGETS {
        let folder = fuzz_dir().join("corpus").join(target.name);
        let count = replay(&folder, target.run);
        assert!(
            count > 0,
            "no corpus for {} in {}",
            target.name,
            folder.display()
        );
    }
}

#[test]
fn every_regression_input_runs_clean() {
    let root = fuzz_dir().join("regressions");
    if let Some(stray) = inputs(&root).first() {
        panic!(
            "a regression file belongs in a target's folder: {}",
            stray.display()
        );
    }
    for entry in fs::read_dir(&root).into_iter().flatten() {
        let folder = entry.expect("a readable folder").path();
        let name = folder
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        let target = TARGETS
            .iter()
            .find(|target| target.name == name)
            .unwrap_or_else(|| panic!("{} names no fuzz target", folder.display()));
        replay(&folder, target.run);
    }
}
