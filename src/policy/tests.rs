//! Unit tests of loading and validation.

use std::path::Path;

use super::*;

/// The problems of `text` as `rekeyd check` prints them (file `p.toml`).
fn problems(text: &str) -> String {
    match parse(Path::new("p.toml"), text) {
        Ok(_) => String::new(),
        Err(problems) => problems.to_string(),
    }
}

#[test]
fn scratch() {
    let text = std::fs::read_to_string("/tmp/scratch.toml").unwrap_or_default();
    eprintln!("{}", problems(&text));
    eprintln!("{:#?}", parse(Path::new("p.toml"), &text));
}
