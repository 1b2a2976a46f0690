//! osipsconfig: generate OpenSIPS scripts from scenario templates, in a TUI (no subcommand)
//! or from the command line.

use clap::{Parser, Subcommand};
use osips::menuconfig::app::App;
use osips::menuconfig::checker::Checks;
use osips::menuconfig::{
    CtlrcDefaults, Library, OptionSet, Value, default_checker, optionfile, tui,
};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// `writeln!` into a String (cannot fail).
macro_rules! outln {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

#[derive(Parser)]
#[command(name = "osipsconfig", version = osips::VERSION, about = "Generate checked OpenSIPS scripts from scenario templates")]
struct Cli {
    /// Read catalogues and templates from this directory instead of the built-in ones.
    #[arg(long, global = true, value_name = "DIR")]
    templates: Option<PathBuf>,
    /// Ignore the osipsctlrc files (defaults come from the catalogues only).
    #[arg(long, global = true)]
    no_rc: bool,
    /// TUI: directory of the generated scripts and their option sets.
    #[arg(long, value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// List the scenario templates.
    List,
    /// Show a template's options with their types, defaults, dependencies and help.
    Show { name: String },
    /// Render a template to a file, checked first.
    Generate {
        /// Template name (residential, trunking, loadbalancer, platform); optional with --options.
        #[arg(long, short)]
        template: Option<String>,
        /// Set an option, e.g. --set USE_AUTH=yes --set DB_URL=postgres://u:p@localhost/opensips
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Start from a saved option set (TOML).
        #[arg(long, value_name = "FILE")]
        options: Option<PathBuf>,
        /// Output script ("-" for standard output); its option set is saved as FILE.options.toml.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let library = match &cli.templates {
        Some(dir) => match Library::from_dir(dir) {
            Ok(l) => l,
            Err(e) => return fail(2, &format!("templates: {e}")),
        },
        None => Library::embedded(),
    };
    let rc = if cli.no_rc {
        CtlrcDefaults::default()
    } else {
        CtlrcDefaults::load().unwrap_or_else(|e| {
            eprintln!("osipsconfig: warning: osipsctlrc: {e}; using the catalogue defaults");
            CtlrcDefaults::default()
        })
    };
    // the proxy's check when available, and the structural check (lenient for user templates)
    let checks = if cli.templates.is_some() {
        Checks::lenient(default_checker())
    } else {
        Checks::new(default_checker())
    };
    match cli.command {
        None => {
            let app = App::new(Arc::new(library), checks, &cli.dir, &rc);
            match tui::run(app) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(2, &format!("terminal: {e}")),
            }
        }
        Some(Command::List) => {
            let mut out = String::new();
            for c in library.catalogues() {
                outln!(out, "{:<14}{:<30}{}", c.name, c.title, c.description);
            }
            emit(&out)
        }
        Some(Command::Show { name }) => show(&library, &rc, &name),
        Some(Command::Generate {
            template,
            set,
            options,
            output,
        }) => generate(
            &library,
            &checks,
            &rc,
            template.as_deref(),
            &set,
            options.as_deref(),
            &output,
        ),
    }
}

/// Writes to standard output; a closed pipe (`| head`) ends quietly instead of panicking.
fn emit(text: &str) -> ExitCode {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => fail(2, &format!("standard output: {e}")),
    }
}

fn fail(code: u8, msg: &str) -> ExitCode {
    eprintln!("osipsconfig: {msg}");
    ExitCode::from(code)
}

fn show(library: &Library, rc: &CtlrcDefaults, name: &str) -> ExitCode {
    let cat = match library.catalogue(name) {
        Ok(c) => c,
        Err(e) => return fail(2, &e.to_string()),
    };
    let mut set = OptionSet::defaults(cat.clone());
    let from_rc = rc.apply(&mut set);
    let mut out = String::new();
    outln!(out, "{} ({}): {}\n", cat.title, cat.name, cat.description);
    for o in &cat.options {
        let value = set.get(&o.name).map(Value::display).unwrap_or_default();
        let origin = if from_rc.contains(&o.name) {
            " (from osipsctlrc)"
        } else {
            ""
        };
        outln!(
            out,
            "{:<32}{:<8} default: {value}{origin}",
            o.name,
            o.kind.label()
        );
        outln!(out, "    {}", o.help);
        if !o.depends_on.is_empty() {
            let needs: Vec<String> = o
                .depends_on
                .iter()
                .map(|d| d.replace('|', " or "))
                .collect();
            outln!(out, "    needs: {}", needs.join(" and "));
        }
        if !o.conflicts_with.is_empty() {
            outln!(out, "    conflicts with: {}", o.conflicts_with.join(", "));
        }
        if !o.choices.is_empty() {
            outln!(out, "    choices: {}", o.choices.join(", "));
        }
        if !o.schemes.is_empty() {
            outln!(out, "    schemes: {}", o.schemes.join(", "));
        }
    }
    for d in &cat.derived {
        if !d.help.is_empty() {
            outln!(out, "{:<32}derived  {}", d.name, d.help);
        }
    }
    emit(&out)
}

fn generate(
    library: &Library,
    checks: &Checks,
    rc: &CtlrcDefaults,
    template: Option<&str>,
    sets: &[String],
    options: Option<&Path>,
    output: &Path,
) -> ExitCode {
    let mut set = match (template, options) {
        (_, Some(file)) => {
            let base = template.and_then(|t| library.catalogue(t).ok()).map(|c| {
                let mut s = OptionSet::defaults(c);
                rc.apply(&mut s);
                s
            });
            match optionfile::load(library, file, template, base) {
                Ok(s) => s,
                Err(e) => return fail(2, &e.to_string()),
            }
        }
        (Some(t), None) => match library.catalogue(t) {
            Ok(c) => {
                let mut s = OptionSet::defaults(c);
                rc.apply(&mut s);
                s
            }
            Err(e) => return fail(2, &e.to_string()),
        },
        (None, None) => return fail(2, "generate needs --template NAME or --options FILE"),
    };
    for kv in sets {
        let Some((k, v)) = kv.split_once('=') else {
            return fail(2, &format!("--set {kv}: expected KEY=VALUE"));
        };
        if let Err(e) = set.set_unchecked(k.trim(), v) {
            return fail(2, &format!("--set {kv}: {e}"));
        }
    }
    if let Err(errors) = set.validate() {
        for e in &errors {
            eprintln!("osipsconfig: impossible combination: {e}");
        }
        return ExitCode::from(2);
    }
    let script = match library.render(&set) {
        Ok(s) => s,
        Err(e) => return fail(2, &e.to_string()),
    };
    let report = checks.run(&script);
    if !report.passed() {
        for e in report.errors() {
            match e.column {
                Some(c) => eprintln!("{}:{}:{c}: error: {}", output.display(), e.line, e.message),
                None => eprintln!("{}:{}: error: {}", output.display(), e.line, e.message),
            }
        }
        return fail(
            1,
            &format!("{} does not pass the check; not written", output.display()),
        );
    }
    if !report.not_implemented().is_empty() {
        eprintln!(
            "osipsconfig: warning: {} uses modules osips does not implement yet: {} \
             (valid OpenSIPS; osips cannot run it until they exist)",
            output.display(),
            report.not_implemented().join(", ")
        );
    }
    if output == Path::new("-") {
        return emit(&script);
    }
    if let Err(e) = std::fs::write(output, &script) {
        return fail(2, &format!("{}: {e}", output.display()));
    }
    let opts = optionfile::options_path(output);
    if let Err(e) = optionfile::save(&set, &opts) {
        return fail(2, &e.to_string());
    }
    let checked = if report.not_implemented().is_empty() {
        report.summary()
    } else {
        "checked: no errors".to_string()
    };
    eprintln!(
        "osipsconfig: wrote {} ({checked}); options in {}",
        output.display(),
        opts.display()
    );
    ExitCode::SUCCESS
}
