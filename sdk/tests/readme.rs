//! The plugin shown in the READMEs (this crate's and cm's) is `examples/upper.rs` byte for byte,
//! so the code users copy is code that compiles.

/// The bodies of a Markdown text's Rust code blocks.
fn rust_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match current.as_mut() {
            None if line.starts_with("```rust") => current = Some(String::new()),
            None => {}
            Some(_) if line == "```" => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    blocks
}

#[test]
fn the_readme_examples_are_the_example_plugin() {
    let example = include_str!("../examples/upper.rs");
    let code: String = example
        .lines()
        .skip_while(|l| l.starts_with("//!") || l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        code.contains(r#"cm_plugin_sdk::serve(plugin_info!("UPPER"), Upper)"#),
        "{code}"
    );
    for (name, readme) in [
        ("sdk/README.md", include_str!("../README.md")),
        ("README.md", include_str!("../../README.md")),
    ] {
        assert!(
            rust_blocks(readme).contains(&code),
            "{name} does not show examples/upper.rs as it is:\n{code}"
        );
    }
}
