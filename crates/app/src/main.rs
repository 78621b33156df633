//! `threatmap`: the desktop app when run with no subcommand (on a file, the last file or the
//! bundled example), the headless command line otherwise.

use std::process::ExitCode;

fn main() -> ExitCode {
    threatmap_app::cli::main()
}
