//! osipsdbctl: argument parsing only; the work is in `osips::dbctl`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use osips::dbctl::{self, Command, Options};

const AFTER_HELP: &str = "\
Settings come from osipsctlrc (opensipsctlrc syntax, read and never executed):
  /etc/osips/osipsctlrc, /usr/local/etc/osips/osipsctlrc, ~/.osipsctlrc (later files win),
  or the one file named by $OSIPSCTLRC or --rc FILE.
  DBENGINE=SQLITE|PGSQL|MYSQL (default SQLITE), DB_PATH (SQLite file, default
  /var/lib/osips/osips.sqlite), DBHOST, DBPORT, DBNAME (default opensips), DBRWUSER/DBRWPW
  (default opensips/opensipsrw), DBROOTUSER (root; postgres on PostgreSQL) with its password in
  PW / PGPASSWORD / DBROOTPW or asked on a terminal, INSTALL_EXTRA_TABLES and
  INSTALL_PRESENCE_TABLES (yes/no/ask), MYSQL_ENGINE (InnoDB).
  DBURL=engine://user:pass@host:port/name or sqlite:///path sets engine, server, name and rw user.

Examples:
  osipsdbctl create                          SQLite database at DB_PATH, standard tables
  DBENGINE=PGSQL PGPASSWORD=secret osipsdbctl create opensips
  osipsdbctl --rc ./osipsctlrc backup /var/backups/opensips.dump
  osipsdbctl restore opensips.dump --force --yes   replace the rows of a non-empty database
  osipsdbctl copy opensips_test              same engine, new database with the same rows
  osipsdbctl add dialplan                    one module's tables into the existing database
  osipsdbctl migrate --yes                   OpenSIPS 2.4 / 3.x tables to the 3.6 level
  osipsdbctl check --json                    differences from the 3.6 definition as JSON

Destructive commands (drop, reinit, restore --force, migrate) ask on a terminal and need --yes
otherwise. A failed command leaves the database as it was.

Exit codes:
  0 success      1 operation failed          2 usage, rc file or engine error
  3 server unreachable                       4 wrong user/password or permission denied
  5 database exists / target not empty       6 database or table missing
  7 unusable dump (other engine, truncated, damaged)
  8 check found differences                  9 not confirmed (no --yes)";

#[derive(Parser, Debug)]
#[command(
    name = "osipsdbctl",
    version = osips::VERSION,
    about = "Create, drop, back up, restore, copy, migrate and check the OpenSIPS database (SQLite, PostgreSQL, MySQL/MariaDB)",
    after_help = AFTER_HELP
)]
struct Cli {
    /// Read this rc file alone (instead of the osipsctlrc cascade)
    #[arg(long, global = true, value_name = "FILE")]
    rc: Option<PathBuf>,
    /// Print one JSON object on stdout (result or error)
    #[arg(long, global = true)]
    json: bool,
    /// Do not ask before destructive commands
    #[arg(short = 'y', long = "yes", global = true)]
    yes: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Create the database (SQLite file, or server database + rw user) with the standard tables
    Create {
        /// Database name (server engines) or file (SQLite); default DBNAME / DB_PATH
        db: Option<String>,
    },
    /// Drop the database and all its data
    Drop {
        /// Database name or SQLite file; default DBNAME / DB_PATH
        db: Option<String>,
    },
    /// Drop (when present) and create again
    Reinit {
        /// Database name or SQLite file; default DBNAME / DB_PATH
        db: Option<String>,
    },
    /// Write every table's rows to FILE (osips dump format, checked on restore)
    Backup { file: PathBuf },
    /// Load a backup (creates the database when missing)
    Restore {
        file: PathBuf,
        /// Replace the rows of a database that is not empty
        #[arg(long)]
        force: bool,
    },
    /// Copy the database into a new one on the same engine
    Copy {
        /// New database name (server engines) or file (SQLite)
        new_db: String,
    },
    /// Add the presence tables (presence, rls)
    Presence,
    /// Add the extra tables (b2b, call_center, carrierroute, registrant, ...)
    Extra,
    /// Add one module's tables (e.g. dialplan, drouting, avpops/sqlops)
    Add { module: String },
    /// Bring tables of an older OpenSIPS schema (2.4, 3.x) to the current one, keeping rows
    Migrate,
    /// Compare the database with the schema definition (exit 0 only when it matches)
    Check,
    /// Print the version and schema level
    Version,
}

fn main() {
    let cli = Cli::parse();
    let command = match cli.command {
        Cmd::Create { db } => Command::Create { db },
        Cmd::Drop { db } => Command::Drop { db },
        Cmd::Reinit { db } => Command::Reinit { db },
        Cmd::Backup { file } => Command::Backup { file },
        Cmd::Restore { file, force } => Command::Restore { file, force },
        Cmd::Copy { new_db } => Command::Copy { new_db },
        Cmd::Presence => Command::Presence,
        Cmd::Extra => Command::Extra,
        Cmd::Add { module } => Command::Add { module },
        Cmd::Migrate => Command::Migrate,
        Cmd::Check => Command::Check,
        Cmd::Version => Command::Version,
    };
    let opts = Options {
        rc_file: cli.rc,
        json: cli.json,
        yes: cli.yes,
    };
    std::process::exit(dbctl::run(command, &opts));
}
