//! The policy corpus in tests/policies: each invalid file must fail with every
//! `# expect: SUBSTRING` of its leading comment lines in the output, and each
//! valid file must parse. `rekeyd check` is run over the same files by the
//! CLI tests.

use std::fs;
use std::path::{Path, PathBuf};

use super::parse;

fn corpus(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/policies")
        .join(kind);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// The `# expect: ` lines at the top of `text`.
fn expectations(text: &str) -> Vec<&str> {
    text.lines()
        .map_while(|line| line.strip_prefix("# expect: "))
        .collect()
}

#[test]
fn every_invalid_policy_fails_with_its_expected_problems() {
    let files = corpus("invalid");
    assert!(files.len() >= 30, "only {} invalid policies", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("readable policy");
        let expected = expectations(&text);
        assert!(
            !expected.is_empty(),
            "{}: no `# expect:` line",
            file.display()
        );
        match parse(file, &text) {
            Ok(_) => failures.push(format!("{}: parsed, but should fail", file.display())),
            Err(problems) => {
                let output = problems.to_string();
                for expectation in expected {
                    if !output.contains(expectation) {
                        failures.push(format!(
                            "{}: no {expectation:?} in:\n{output}",
                            file.display()
                        ));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_valid_policy_parses() {
    let files = corpus("valid");
    assert!(!files.is_empty());
    for file in files {
        let text = fs::read_to_string(&file).expect("readable policy");
        if let Err(problems) = parse(&file, &text) {
            panic!("{} should be valid:\n{problems}", file.display());
        }
    }
}
