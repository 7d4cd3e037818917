//! `meta_rates_csv` must reach the CSV parser: the market list and `effective_from` it hands
//! `card_from_csv` have to be ones the product accepts, or every input is refused before parsing
//! and the fuzzer only ever covers the refusal (the first 10M-execution run stayed at 239 edges).

use std::fs;
use std::path::{Path, PathBuf};

use imcredits::pricing::built_in_market_lists;
use imcredits_fuzz_targets::{import_parameters, meta_rates_import};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Meta's rates files as committed (made-up figures), one per currency; not the tiers file.
fn example_files() -> Vec<(PathBuf, String)> {
    let folder = repo().join("shared/rate-cards/meta-format-examples");
    let mut files: Vec<(PathBuf, String)> = fs::read_dir(&folder)
        .expect("the example rates files")
        .map(|entry| entry.expect("a readable folder").path())
        .filter(|path| {
            let name = path
                .file_name()
                .and_then(|name| name.to_str())
                .unwrap_or("");
            name.starts_with("rates-") && name.ends_with(".csv")
        })
        .map(|path| {
            let text = fs::read_to_string(&path).expect("a readable rates file");
            (path, text)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no rates file in {}", folder.display());
    files
}

fn with_selector(selector: u8, text: &str) -> Vec<u8> {
    let mut bytes = vec![selector];
    bytes.extend_from_slice(text.as_bytes());
    bytes
}

#[test]
fn every_shipped_market_list_is_imported_by_its_own_selector() {
    let lists = built_in_market_lists().lists();
    assert!(import_parameters().len() > lists.len(), "refusals too");
    for (path, text) in example_files() {
        for (index, list) in lists.iter().enumerate() {
            let selector = u8::try_from(index).expect("few lists");
            let card = meta_rates_import(&with_selector(selector, &text))
                .expect("a selector and UTF-8")
                .unwrap_or_else(|error| {
                    panic!("{} under {:?}: {error:?}", path.display(), list.version())
                });
            assert_eq!(card.market_list(), Some(list.version()));
        }
    }
}

#[test]
fn the_other_selectors_are_refused_as_the_route_refuses_them() {
    let lists = built_in_market_lists().lists().len();
    let (_, text) = &example_files()[0];
    for index in lists..import_parameters().len() {
        let selector = u8::try_from(index).expect("few parameters");
        let error = meta_rates_import(&with_selector(selector, text))
            .expect("a selector and UTF-8")
            .expect_err("a list not in force, or a date before every list");
        assert!(error.status.is_client_error(), "{error:?}");
        let body = format!("{error:?}");
        assert!(
            body.contains("market_list") || body.contains("effective_from"),
            "{body}"
        );
    }
}

#[test]
fn the_committed_seeds_produce_a_card() {
    let folder = repo().join("fuzz/corpus/meta_rates_csv");
    let mut seeds = 0;
    for entry in fs::read_dir(&folder).expect("the meta_rates_csv corpus") {
        let path = entry.expect("a readable folder").path();
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("");
        if !name.starts_with("seed-") {
            continue;
        }
        let bytes = fs::read(&path).expect("a readable seed");
        let result = meta_rates_import(&bytes).expect("a selector and UTF-8");
        if let Err(error) = result {
            panic!("{} refused: {error:?}", path.display());
        }
        seeds += 1;
    }
    assert!(seeds > 0, "no seed in {}", folder.display());
}
