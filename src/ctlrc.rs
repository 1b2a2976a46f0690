//! `osipsctlrc`: the settings file of `osipsctl` and `osipsdbctl`, in `opensipsctlrc` syntax.
//!
//! The file is **parsed, never executed** (see [`parse`] for the accepted shell subset).
//! Cascade, later files winning: `/etc/osips/osipsctlrc`, `/usr/local/etc/osips/osipsctlrc`,
//! `~/.osipsctlrc`. The environment variable `OSIPSCTLRC` (or `osipsctlrc`, as OpenSIPS spells
//! it), or `--rc FILE`, names one file that is read alone.
//!
//! As with OpenSIPS, which sources the file into a shell, a variable the files do not set is
//! taken from the environment, then from its default.
//!
//! Differences from OpenSIPS, on purpose:
//! * `DBENGINE` defaults to `SQLITE` (OpenSIPS has no default and refuses to run);
//! * `DB_PATH` defaults to `/var/lib/osips/osips.sqlite` (OpenSIPS: `/usr/local/etc/opensips/sqlite`,
//!   a data file under `etc`);
//! * `STORE_PLAINTEXT_PW` defaults to `0`: only the HA1 hashes are stored unless asked
//!   (OpenSIPS 2.4 defaults to `1`);
//! * `DBURL=engine://user:pass@host:port/name` (or `sqlite:///path`) is accepted as a shortcut
//!   for `DBENGINE`, `DBHOST`, `DBPORT`, `DBNAME` / `DB_PATH`, `DBRWUSER` and `DBRWPW`;
//! * `CTLENGINE` also accepts `HTTP` and `DATAGRAM` (OpenSIPS 3.x MI transports).

mod parse;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::db::{DbUrl, Engine, url::parse_engine};

/// The files of the cascade, in reading order (the home file is added at load time).
pub const SYSTEM_FILES: &[&str] = &["/etc/osips/osipsctlrc", "/usr/local/etc/osips/osipsctlrc"];
/// The per-user file, relative to `$HOME`.
pub const HOME_FILE: &str = ".osipsctlrc";
/// Environment variables naming the one rc file to read (OpenSIPS spells it in lower case).
pub const ENV_RC: &[&str] = &["OSIPSCTLRC", "osipsctlrc"];
/// Default SQLite database file.
pub const DEFAULT_DB_PATH: &str = "/var/lib/osips/osips.sqlite";

/// Every variable osips understands (reference: opensipsctlrc of OpenSIPS 2.4, plus osips's).
pub const KNOWN_KEYS: &[&str] = &[
    // database
    "DBENGINE",
    "DBHOST",
    "DBPORT",
    "DBNAME",
    "DB_PATH",
    "DBRWUSER",
    "DBRWPW",
    "DBROUSER",
    "DBROPW",
    "DBROOTUSER",
    "DBROOTPW",
    "DBROOTHOST",
    "DBROOTPORT",
    "PW",
    "PGPASSWORD",
    "MYSQL_ENGINE",
    "DBURL",
    "INSTALL_EXTRA_TABLES",
    "INSTALL_PRESENCE_TABLES",
    "STANDARD_MODULES",
    "EXTRA_MODULES",
    "STANDARD_TABLES",
    "EXTRA_TABLES",
    "PRESENCE_TABLES",
    "USERCOL",
    // provisioning
    "SIP_DOMAIN",
    "ALIASES_TYPE",
    "VERIFY_ACL",
    "ACL_GROUPS",
    "STORE_PLAINTEXT_PW",
    "FOREVER",
    "DEFAULT_ALIASES_EXPIRES",
    "DEFAULT_Q",
    "DEFAULT_CALLID",
    "DEFAULT_CSEQ",
    "DEFAULT_LOCATION_EXPIRES",
    // management interface and process control
    "CTLENGINE",
    "OSIPS_FIFO",
    "OSIPS_UNIXSOCK",
    "OSIPS_MI_URL",
    "OSIPS_DATAGRAM",
    "OSIPS_FIFO_REPLY_DIR",
    "MI_CONNECTOR",
    "CHROOT_DIR",
    "PID_FILE",
    "STARTOPTIONS",
    "SYSLOG",
    "OSIPSBIN",
    "WATCH_PERIOD",
    "ETCDIR",
    // output
    "VERBOSE",
    "NOHLPRINT",
    // tool paths (accepted for compatibility; osips runs none of them)
    "MD5",
    "AWK",
    "GDB",
    "GREP",
    "EGREP",
    "SED",
    "EXPR",
    "FLOCK",
    "LAST_LINE",
    "MYSQL",
    "PGSQL",
    "SQLITE",
    "OSIPSUNIX",
    // table name overrides
    "UL_TABLE",
    "SUB_TABLE",
    "ACL_TABLE",
    "DOMAIN_TABLE",
    "URI_TABLE",
    "DA_TABLE",
    "SD_TABLE",
    "AVP_TABLE",
    "ADDRESS_TABLE",
    "DISPATCHER_TABLE",
    "DR_GW_TABLE",
    "DR_RULES_TABLE",
    "DR_CARRIER_TABLE",
    "DR_GROUPS_TABLE",
    "DR_PARTITIONS_TABLE",
    "DIALPLAN_TABLE",
    "REGISTRANT_TABLE",
    "ROUTE_TREE_TABLE",
    "CARRIERROUTE_TABLE",
    "CARRIERFAILUREROUTE_TABLE",
];

/// The rc keys a `DBURL` sets.
const DBURL_KEYS: &[&str] = &[
    "DBENGINE", "DBHOST", "DBPORT", "DBNAME", "DB_PATH", "DBRWUSER", "DBRWPW",
];

/// A place in an rc file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A problem that does not stop loading (unknown key, undefined `$VAR`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RcWarning {
    pub origin: Origin,
    pub message: String,
}

impl fmt::Display for RcWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: warning: {}", self.origin, self.message)
    }
}

/// Why the rc settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RcError {
    #[error("{}: cannot read the rc file: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Syntax { origin: Origin, message: String },
    #[error("{key}={value:?}{}: {message}", origin.as_ref().map(|o| format!(" ({o})")).unwrap_or_default())]
    Value {
        key: String,
        value: String,
        origin: Option<Origin>,
        message: String,
    },
}

/// `yes` / `no` / `ask` of `INSTALL_EXTRA_TABLES` and `INSTALL_PRESENCE_TABLES`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YesNoAsk {
    Yes,
    No,
    Ask,
}

/// `CTLENGINE`: how osipsctl reaches the proxy's management interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtlEngine {
    Fifo,
    Unixsock,
    Http,
    Datagram,
}

#[derive(Clone, Debug)]
struct Setting {
    value: String,
    origin: Origin,
}

/// Loaded settings: values from the files, else the environment, else the defaults.
#[derive(Clone, Debug, Default)]
pub struct Rc {
    values: BTreeMap<String, Setting>,
    env: HashMap<String, String>,
    files: Vec<PathBuf>,
    warnings: Vec<RcWarning>,
}

/// What to load: the explicit file (`--rc`), the environment, the home directory.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `--rc FILE`: read this file alone.
    pub rc_file: Option<PathBuf>,
    /// The process environment (or a test's).
    pub env: HashMap<String, String>,
    /// The cascade's system files (default [`SYSTEM_FILES`]).
    pub system_files: Vec<PathBuf>,
}

impl LoadOptions {
    /// The real environment and cascade.
    pub fn from_process(rc_file: Option<PathBuf>) -> LoadOptions {
        LoadOptions {
            rc_file,
            env: std::env::vars().collect(),
            system_files: SYSTEM_FILES.iter().map(PathBuf::from).collect(),
        }
    }

    /// The files to read, in order: the explicit one alone, else the cascade's existing files.
    pub fn files(&self) -> Result<Vec<PathBuf>, RcError> {
        if let Some(f) = &self.rc_file {
            return Ok(vec![f.clone()]);
        }
        for var in ENV_RC {
            if let Some(f) = self.env.get(*var).filter(|f| !f.is_empty()) {
                return Ok(vec![PathBuf::from(f)]);
            }
        }
        let mut files: Vec<PathBuf> = self.system_files.clone();
        if let Some(home) = self.env.get("HOME").filter(|h| !h.is_empty()) {
            files.push(Path::new(home).join(HOME_FILE));
        }
        Ok(files.into_iter().filter(|f| f.is_file()).collect())
    }
}

struct FileScope<'a> {
    rc: &'a mut Rc,
    file: PathBuf,
}

impl parse::Scope for FileScope<'_> {
    fn lookup(&self, name: &str) -> Option<String> {
        self.rc
            .values
            .get(name)
            .map(|s| s.value.clone())
            .or_else(|| self.rc.env.get(name).cloned())
    }

    fn assign(&mut self, name: &str, value: String, line: usize) -> Result<(), String> {
        let origin = Origin {
            file: self.file.clone(),
            line,
        };
        if name == "DBURL" {
            let url = DbUrl::parse(&value)?;
            self.rc.apply_url(&url, &origin);
        } else if !KNOWN_KEYS.contains(&name) {
            self.rc.warnings.push(RcWarning {
                origin: origin.clone(),
                message: format!(
                    "unknown variable {name} (ignored by osips; kept for $-expansion)"
                ),
            });
        }
        self.rc
            .values
            .insert(name.to_string(), Setting { value, origin });
        Ok(())
    }

    fn warn(&mut self, line: usize, message: String) {
        self.rc.warnings.push(RcWarning {
            origin: Origin {
                file: self.file.clone(),
                line,
            },
            message,
        });
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" | "y" => Some(true),
        "0" | "no" | "false" | "off" | "n" | "" => Some(false),
        _ => None,
    }
}

impl Rc {
    /// Loads the cascade (or the one named file) of the real environment.
    pub fn load(rc_file: Option<&Path>) -> Result<Rc, RcError> {
        Rc::load_with(&LoadOptions::from_process(rc_file.map(Path::to_path_buf)))
    }

    /// Loads with an explicit environment and file set.
    pub fn load_with(opts: &LoadOptions) -> Result<Rc, RcError> {
        let mut rc = Rc {
            env: opts.env.clone(),
            ..Rc::default()
        };
        for f in opts.files()? {
            let bytes = std::fs::read(&f).map_err(|source| RcError::Read {
                path: f.clone(),
                source,
            })?;
            let text = String::from_utf8_lossy(&bytes);
            rc.read_str(&text, &f)?;
        }
        Ok(rc)
    }

    /// Rc from one text (tests, `--rc -`), with no environment.
    pub fn from_str_named(text: &str, name: &str) -> Result<Rc, RcError> {
        let mut rc = Rc::default();
        rc.read_str(text, Path::new(name))?;
        Ok(rc)
    }

    /// Applies one more file's text over the current settings.
    pub fn read_str(&mut self, text: &str, file: &Path) -> Result<(), RcError> {
        self.files.push(file.to_path_buf());
        let mut scope = FileScope {
            rc: self,
            file: file.to_path_buf(),
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        parse::parse(text, &mut scope).map_err(|e| RcError::Syntax {
            origin: Origin {
                file: file.to_path_buf(),
                line: e.line,
            },
            message: e.message,
        })
    }

    fn apply_url(&mut self, url: &DbUrl, origin: &Origin) {
        for k in DBURL_KEYS {
            self.values.remove(*k);
        }
        let mut set = |k: &str, v: String| {
            self.values.insert(
                k.to_string(),
                Setting {
                    value: v,
                    origin: origin.clone(),
                },
            );
        };
        set(
            "DBENGINE",
            crate::db::url::engine_scheme(url.engine).to_string(),
        );
        if let Some(p) = &url.path {
            set("DB_PATH", p.display().to_string());
        } else {
            set("DBHOST", url.host.clone());
        }
        if let Some(p) = url.port {
            set("DBPORT", p.to_string());
        }
        if let Some(d) = &url.database {
            set("DBNAME", d.clone());
        }
        if let Some(u) = &url.user {
            set("DBRWUSER", u.clone());
        }
        if let Some(p) = &url.password {
            set("DBRWPW", p.clone());
        }
    }

    /// Sets a value from the command line (wins over the files).
    pub fn set(&mut self, key: &str, value: &str) {
        let origin = Origin {
            file: PathBuf::from("<command line>"),
            line: 0,
        };
        if key == "DBURL"
            && let Ok(u) = DbUrl::parse(value)
        {
            self.apply_url(&u, &origin);
        }
        self.values.insert(
            key.to_string(),
            Setting {
                value: value.to_string(),
                origin,
            },
        );
    }

    /// The raw value: from the files, else the environment.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(|s| s.value.as_str())
            .or_else(|| self.env.get(key).map(String::as_str))
    }

    /// Where a key was set (`None`: environment or default).
    pub fn origin(&self, key: &str) -> Option<&Origin> {
        self.values.get(key).map(|s| &s.origin)
    }

    /// Files read, in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Unknown keys and undefined references, with file and line.
    pub fn warnings(&self) -> &[RcWarning] {
        &self.warnings
    }

    fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    fn or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.non_empty(key).unwrap_or(default)
    }

    fn bad(&self, key: &str, message: impl Into<String>) -> RcError {
        RcError::Value {
            key: key.to_string(),
            value: self.get(key).unwrap_or_default().to_string(),
            origin: self.origin(key).cloned(),
            message: message.into(),
        }
    }

    fn flag(&self, key: &str, default: bool) -> Result<bool, RcError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => parse_bool(v).ok_or_else(|| self.bad(key, "expected 1/0 or yes/no")),
        }
    }

    /// `DBENGINE` (default SQLite).
    pub fn db_engine(&self) -> Result<Engine, RcError> {
        match self.non_empty("DBENGINE") {
            None => Ok(Engine::Sqlite),
            Some(v) => parse_engine(v).map_err(|m| self.bad("DBENGINE", m)),
        }
    }

    /// `DBHOST` (default `localhost`).
    pub fn db_host(&self) -> &str {
        self.or("DBHOST", "localhost")
    }

    /// `DBPORT` (default: the engine's).
    pub fn db_port(&self) -> Result<Option<u16>, RcError> {
        self.port("DBPORT")
    }

    fn port(&self, key: &str) -> Result<Option<u16>, RcError> {
        match self.non_empty(key) {
            None => Ok(None),
            Some(p) => p
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .map(Some)
                .ok_or_else(|| self.bad(key, "expected a port number from 1 to 65535")),
        }
    }

    /// `DBNAME` (default `opensips`).
    pub fn db_name(&self) -> &str {
        self.or("DBNAME", "opensips")
    }

    /// `DB_PATH`: the SQLite file (default [`DEFAULT_DB_PATH`]).
    pub fn db_path(&self) -> PathBuf {
        PathBuf::from(self.or("DB_PATH", DEFAULT_DB_PATH))
    }

    /// `DBRWUSER` (default `opensips`).
    pub fn db_rw_user(&self) -> &str {
        self.or("DBRWUSER", "opensips")
    }

    /// `DBRWPW` as set (osipsctl prompts when unset).
    pub fn db_rw_password_set(&self) -> Option<&str> {
        self.get("DBRWPW")
    }

    /// `DBRWPW` with opensipsdbctl's default `opensipsrw`.
    pub fn db_rw_password(&self) -> &str {
        self.get("DBRWPW").unwrap_or("opensipsrw")
    }

    /// `DBROOTUSER` (default `root`; `postgres` on PostgreSQL, whose superuser has that name).
    pub fn db_root_user(&self, engine: Engine) -> &str {
        self.non_empty("DBROOTUSER").unwrap_or(match engine {
            Engine::Postgres => "postgres",
            _ => "root",
        })
    }

    /// The superuser's password: `DBROOTPW`, else `PGPASSWORD` (PostgreSQL) or `PW` (MySQL);
    /// `None` = ask on the terminal.
    /// An empty value counts as unset.
    pub fn db_root_password(&self, engine: Engine) -> Option<&str> {
        self.non_empty("DBROOTPW").or_else(|| match engine {
            Engine::Postgres => self
                .non_empty("PGPASSWORD")
                .or_else(|| self.non_empty("PW")),
            _ => self.non_empty("PW"),
        })
    }

    /// `DBROOTHOST` / `DBROOTPORT` (kamctlrc), else `DBHOST` / `DBPORT`.
    pub fn db_root_host(&self) -> &str {
        self.non_empty("DBROOTHOST").unwrap_or(self.db_host())
    }

    /// The read-write connection: SQLite file, or server, database and `DBRWUSER`.
    pub fn db_url(&self) -> Result<DbUrl, RcError> {
        let engine = self.db_engine()?;
        if engine == Engine::Sqlite {
            return Ok(DbUrl::sqlite(self.db_path()));
        }
        Ok(DbUrl {
            engine,
            user: Some(self.db_rw_user().to_string()),
            password: Some(self.db_rw_password().to_string()),
            host: self.db_host().to_string(),
            port: self.db_port()?,
            database: Some(self.db_name().to_string()),
            path: None,
        })
    }

    /// The superuser connection (no database selected); `password` overrides the rc's.
    pub fn admin_url(&self, password: Option<&str>) -> Result<DbUrl, RcError> {
        let engine = self.db_engine()?;
        if engine == Engine::Sqlite {
            return Ok(DbUrl::sqlite(self.db_path()));
        }
        let port = match self.port("DBROOTPORT")? {
            Some(p) => Some(p),
            None => self.db_port()?,
        };
        Ok(DbUrl {
            engine,
            user: Some(self.db_root_user(engine).to_string()),
            password: password
                .or_else(|| self.db_root_password(engine))
                .map(str::to_string),
            host: self.db_root_host().to_string(),
            port,
            database: None,
            path: None,
        })
    }

    /// `MYSQL_ENGINE` (default `InnoDB`).
    pub fn mysql_engine(&self) -> Result<&str, RcError> {
        let v = self.or("MYSQL_ENGINE", "InnoDB");
        if v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            Ok(v)
        } else {
            Err(self.bad(
                "MYSQL_ENGINE",
                "expected a storage engine name such as InnoDB",
            ))
        }
    }

    fn yes_no_ask(&self, key: &str) -> Result<YesNoAsk, RcError> {
        match self.non_empty(key).map(|v| v.to_ascii_lowercase()) {
            None => Ok(YesNoAsk::Ask),
            Some(v) => match v.as_str() {
                "yes" | "y" | "1" | "true" => Ok(YesNoAsk::Yes),
                "no" | "n" | "0" | "false" => Ok(YesNoAsk::No),
                "ask" => Ok(YesNoAsk::Ask),
                _ => Err(self.bad(key, "expected yes, no or ask")),
            },
        }
    }

    /// `INSTALL_EXTRA_TABLES` (default `ask`).
    pub fn install_extra_tables(&self) -> Result<YesNoAsk, RcError> {
        self.yes_no_ask("INSTALL_EXTRA_TABLES")
    }

    /// `INSTALL_PRESENCE_TABLES` (default `ask`).
    pub fn install_presence_tables(&self) -> Result<YesNoAsk, RcError> {
        self.yes_no_ask("INSTALL_PRESENCE_TABLES")
    }

    /// `STANDARD_MODULES` / `EXTRA_MODULES` as word lists, when set.
    pub fn module_list(&self, key: &str) -> Option<Vec<String>> {
        self.non_empty(key)
            .map(|v| v.split_whitespace().map(str::to_string).collect())
    }

    /// `STORE_PLAINTEXT_PW` (osips default 0: hashes only; OpenSIPS 2.4 default 1).
    pub fn store_plaintext_pw(&self) -> Result<bool, RcError> {
        self.flag("STORE_PLAINTEXT_PW", false)
    }

    /// `SIP_DOMAIN`.
    pub fn sip_domain(&self) -> Option<&str> {
        self.non_empty("SIP_DOMAIN")
    }

    /// `CHROOT_DIR`.
    pub fn chroot_dir(&self) -> Option<&str> {
        self.non_empty("CHROOT_DIR")
    }

    /// `USERCOL` (default `username`).
    pub fn user_column(&self) -> &str {
        self.or("USERCOL", "username")
    }

    /// `ALIASES_TYPE` (`DB` or `UL`).
    pub fn aliases_type(&self) -> Option<&str> {
        self.non_empty("ALIASES_TYPE")
    }

    /// `VERIFY_ACL` (default on).
    pub fn verify_acl(&self) -> Result<bool, RcError> {
        self.flag("VERIFY_ACL", true)
    }

    /// `ACL_GROUPS` (default `local ld int voicemail free-pstn`).
    pub fn acl_groups(&self) -> Vec<String> {
        self.or("ACL_GROUPS", "local ld int voicemail free-pstn")
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    /// `CTLENGINE` (default FIFO).
    pub fn ctl_engine(&self) -> Result<CtlEngine, RcError> {
        match self.non_empty("CTLENGINE").map(|v| v.to_ascii_uppercase()) {
            None => Ok(CtlEngine::Fifo),
            Some(v) => match v.as_str() {
                "FIFO" => Ok(CtlEngine::Fifo),
                "UNIXSOCK" => Ok(CtlEngine::Unixsock),
                "HTTP" | "JSON" => Ok(CtlEngine::Http),
                "DATAGRAM" | "UDP" => Ok(CtlEngine::Datagram),
                _ => Err(self.bad("CTLENGINE", "expected FIFO, UNIXSOCK, HTTP or DATAGRAM")),
            },
        }
    }

    /// `OSIPS_FIFO` (default `/tmp/opensips_fifo`, under `CHROOT_DIR` when set).
    pub fn osips_fifo(&self) -> PathBuf {
        self.chrooted(self.or("OSIPS_FIFO", "/tmp/opensips_fifo"))
    }

    /// `OSIPS_UNIXSOCK` (default `$CHROOT_DIR/tmp/opensips.sock`).
    pub fn osips_unixsock(&self) -> PathBuf {
        match self.non_empty("OSIPS_UNIXSOCK") {
            Some(v) => PathBuf::from(v),
            None => self.chrooted("/tmp/opensips.sock"),
        }
    }

    /// `OSIPS_MI_URL`: the HTTP MI (default `http://127.0.0.1:8888/mi`).
    pub fn mi_url(&self) -> &str {
        self.or("OSIPS_MI_URL", "http://127.0.0.1:8888/mi")
    }

    /// `OSIPS_DATAGRAM`: the datagram MI (default `127.0.0.1:8080`).
    pub fn mi_datagram(&self) -> &str {
        self.or("OSIPS_DATAGRAM", "127.0.0.1:8080")
    }

    fn chrooted(&self, p: &str) -> PathBuf {
        match self.chroot_dir() {
            Some(root) => Path::new(root).join(p.trim_start_matches('/')),
            None => PathBuf::from(p),
        }
    }

    /// `PID_FILE` (default `/var/run/osips.pid`; OpenSIPS: `/var/run/opensips.pid`).
    pub fn pid_file(&self) -> PathBuf {
        PathBuf::from(self.or("PID_FILE", "/var/run/osips.pid"))
    }

    /// `STARTOPTIONS`, split on blanks.
    pub fn start_options(&self) -> Vec<String> {
        self.get("STARTOPTIONS")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    /// `OSIPSBIN` (default `osips`, found on `PATH`).
    pub fn osips_bin(&self) -> &str {
        self.or("OSIPSBIN", "osips")
    }

    /// `SYSLOG` (default 1).
    pub fn syslog(&self) -> Result<bool, RcError> {
        self.flag("SYSLOG", true)
    }

    /// `WATCH_PERIOD` seconds for `monitor` (default 2).
    pub fn watch_period(&self) -> Result<u64, RcError> {
        match self.non_empty("WATCH_PERIOD") {
            None => Ok(2),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| self.bad("WATCH_PERIOD", "expected a number of seconds")),
        }
    }

    /// `ETCDIR` (default `/etc/osips`; OpenSIPS: `/usr/local/etc/opensips`).
    pub fn etc_dir(&self) -> PathBuf {
        PathBuf::from(self.or("ETCDIR", "/etc/osips"))
    }

    /// `VERBOSE`.
    pub fn verbose(&self) -> bool {
        self.get("VERBOSE").and_then(parse_bool).unwrap_or(false)
    }

    /// `NOHLPRINT`: no colours.
    pub fn no_highlight(&self) -> bool {
        self.get("NOHLPRINT").and_then(parse_bool).unwrap_or(false)
    }

    /// `FOREVER` (default `2020-05-28 21:32:15`).
    pub fn forever(&self) -> &str {
        self.or("FOREVER", "2020-05-28 21:32:15")
    }

    /// A table name with its `*_TABLE` override (`table("SUB_TABLE", "subscriber")`).
    pub fn table<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.or(key, default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(files: &[&Path], env: &[(&str, &str)]) -> LoadOptions {
        LoadOptions {
            rc_file: None,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            system_files: files.iter().map(|p| p.to_path_buf()).collect(),
        }
    }

    #[test]
    fn defaults() {
        let rc = Rc::default();
        assert_eq!(rc.db_engine().unwrap(), Engine::Sqlite);
        assert_eq!(rc.db_path(), PathBuf::from(DEFAULT_DB_PATH));
        assert_eq!(rc.db_name(), "opensips");
        assert_eq!(rc.db_rw_user(), "opensips");
        assert_eq!(rc.db_rw_password(), "opensipsrw");
        assert_eq!(rc.db_root_user(Engine::Mysql), "root");
        assert_eq!(rc.db_root_user(Engine::Postgres), "postgres");
        assert_eq!(rc.mysql_engine().unwrap(), "InnoDB");
        assert_eq!(rc.install_extra_tables().unwrap(), YesNoAsk::Ask);
        assert!(!rc.store_plaintext_pw().unwrap());
        assert_eq!(rc.ctl_engine().unwrap(), CtlEngine::Fifo);
        assert_eq!(rc.osips_fifo(), PathBuf::from("/tmp/opensips_fifo"));
        assert!(rc.verify_acl().unwrap());
        assert_eq!(rc.acl_groups().len(), 5);
    }

    #[test]
    fn cascade_later_wins_and_env_fills_gaps() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a");
        let b = d.path().join("b");
        let home = d.path().join("home");
        std::fs::create_dir(&home).unwrap();
        std::fs::write(&a, "DBENGINE=MYSQL\nDBNAME=first\nDBHOST=h1\n").unwrap();
        std::fs::write(&b, "DBNAME=second\nDBRWUSER=${DBNAME}_user\n").unwrap();
        std::fs::write(home.join(HOME_FILE), "DBHOST=$MYHOST\n").unwrap();
        let home_s = home.to_str().unwrap();
        let rc = Rc::load_with(&opts(
            &[&a, &b, &d.path().join("missing")],
            &[("HOME", home_s), ("MYHOST", "envhost"), ("DBPORT", "3307")],
        ))
        .unwrap();
        assert_eq!(rc.files().len(), 3);
        assert_eq!(rc.db_engine().unwrap(), Engine::Mysql);
        assert_eq!(rc.db_name(), "second");
        assert_eq!(rc.db_rw_user(), "second_user");
        assert_eq!(rc.db_host(), "envhost");
        assert_eq!(rc.db_port().unwrap(), Some(3307));
        assert_eq!(rc.origin("DBNAME").unwrap().line, 1);
    }

    #[test]
    fn env_or_flag_names_one_file_read_alone() {
        let d = tempfile::tempdir().unwrap();
        let sys = d.path().join("sys");
        let one = d.path().join("one");
        std::fs::write(&sys, "DBNAME=sys\nSIP_DOMAIN=sys.example\n").unwrap();
        std::fs::write(&one, "DBNAME=one\n").unwrap();
        for var in ENV_RC {
            let rc = Rc::load_with(&opts(&[&sys], &[(var, one.to_str().unwrap())])).unwrap();
            assert_eq!(rc.db_name(), "one");
            assert_eq!(rc.sip_domain(), None);
        }
        let mut o = opts(&[&sys], &[]);
        o.rc_file = Some(one.clone());
        assert_eq!(Rc::load_with(&o).unwrap().db_name(), "one");
        o.rc_file = Some(d.path().join("nope"));
        let e = Rc::load_with(&o).unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn unknown_key_warns_and_bad_line_errors_with_place() {
        let rc = Rc::from_str_named("DBNAME=x\nFOO_BAR=1\n", "f.rc").unwrap();
        assert_eq!(rc.warnings().len(), 1);
        assert_eq!(
            rc.warnings()[0].to_string(),
            "f.rc:2: warning: unknown variable FOO_BAR (ignored by osips; kept for $-expansion)"
        );
        let e = Rc::from_str_named("DBNAME=x\n\necho hi\n", "f.rc").unwrap_err();
        assert!(
            e.to_string().starts_with("f.rc:3: not an assignment"),
            "{e}"
        );
    }

    #[test]
    fn crlf_and_byte_order_mark_are_accepted() {
        let rc = Rc::from_str_named("\u{feff}DBNAME=x\r\nDBHOST=\"h\"\r\n", "f").unwrap();
        assert_eq!((rc.db_name(), rc.db_host()), ("x", "h"));
    }

    #[test]
    fn dburl_shortcut_sets_the_parts() {
        let rc = Rc::from_str_named(
            "DBURL=postgres://u:p@db.example:5433/osdb\nDBRWUSER=other\n",
            "f",
        )
        .unwrap();
        let u = rc.db_url().unwrap();
        assert_eq!(u.engine, Engine::Postgres);
        assert_eq!(u.user.as_deref(), Some("other"));
        assert_eq!(u.password.as_deref(), Some("p"));
        assert_eq!((u.host.as_str(), u.port), ("db.example", Some(5433)));
        assert_eq!(u.database.as_deref(), Some("osdb"));
        let rc = Rc::from_str_named("DBURL=sqlite:///tmp/x.db\n", "f").unwrap();
        assert_eq!(rc.db_url().unwrap(), DbUrl::sqlite("/tmp/x.db"));
        let e = Rc::from_str_named("\nDBURL=oracle://x\n", "f").unwrap_err();
        assert!(e.to_string().starts_with("f:2: "), "{e}");
    }

    #[test]
    fn bad_values_name_key_and_place() {
        let rc = Rc::from_str_named(
            "DBENGINE=ORACLE\nDBPORT=x\nINSTALL_EXTRA_TABLES=maybe\n",
            "f",
        )
        .unwrap();
        let e = rc.db_engine().unwrap_err().to_string();
        assert!(
            e.contains("DBENGINE") && e.contains("f:1") && e.contains("not supported"),
            "{e}"
        );
        assert!(rc.db_port().unwrap_err().to_string().contains("f:2"));
        assert!(rc.install_extra_tables().is_err());
        let rc = Rc::from_str_named("DBENGINE=informix\n", "f").unwrap();
        assert!(
            rc.db_engine()
                .unwrap_err()
                .to_string()
                .contains("unknown database engine")
        );
    }
}
