//! The `cm` binary: parse the command line, run it, print any error once, exit with its code.

use clap::Parser;

fn main() {
    let cli = cm::cli::Cli::parse();
    let code = cm::run(cli).unwrap_or_else(|e| {
        eprintln!("cm: {e}");
        e.exit_code()
    });
    std::process::exit(code);
}
