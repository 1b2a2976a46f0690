//! osipsctl: argument parsing only; the work is in `osips::ctl`.

use clap::Parser;
use osips::ctl::{self, cli::Cli};

fn main() {
    std::process::exit(ctl::run(Cli::parse()));
}
