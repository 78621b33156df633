//! `threatmap`: the headless command line (and, once it lands, the desktop app when run with
//! no subcommand).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
