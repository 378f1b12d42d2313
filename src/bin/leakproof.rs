//! The `leakproof` command-line tool; all of its logic lives in the `leakproof-cli` crate.

use std::process::ExitCode;

fn main() -> ExitCode {
    leakproof_cli::main()
}
