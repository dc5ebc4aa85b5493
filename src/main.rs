//! The `cm` binary: parse the command line, run it, print any error once, exit with its code.

use clap::Parser;

fn main() {
    let cli = cm::cli::Cli::parse();
    if let Err(e) = cm::run(cli) {
        eprintln!("cm: {e}");
        std::process::exit(e.exit_code());
    }
}
