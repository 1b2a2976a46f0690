//! Database URLs: `mysql://user:pass@host:port/name`, `postgres://...`, `sqlite:///path`.

use std::fmt;
use std::path::PathBuf;

use super::Engine;

/// Where a database lives and who connects to it.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl {
    pub engine: Engine,
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// Database name (PostgreSQL / MySQL); `None` = connect without selecting one.
    pub database: Option<String>,
    /// SQLite file.
    pub path: Option<PathBuf>,
}

/// Parses an engine name as opensipsctlrc's `DBENGINE` or a URL scheme spells it.
pub fn parse_engine(s: &str) -> Result<Engine, String> {
    match s.to_ascii_lowercase().as_str() {
        "sqlite" | "sqlite3" => Ok(Engine::Sqlite),
        "pgsql" | "postgres" | "postgresql" | "pg" => Ok(Engine::Postgres),
        "mysql" | "mariadb" => Ok(Engine::Mysql),
        "oracle" | "dbtext" | "db_berkeley" | "berkeley" | "bdb" => Err(format!(
            "database engine `{s}` is not supported by osips: use SQLITE, PGSQL or MYSQL"
        )),
        _ => Err(format!(
            "unknown database engine `{s}`: use SQLITE, PGSQL (postgres) or MYSQL (mariadb)"
        )),
    }
}

/// The URL scheme osips writes for an engine.
pub fn engine_scheme(e: Engine) -> &'static str {
    match e {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
        Engine::Mysql => "mysql",
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad %-escape in `{s}`"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{s}` is not UTF-8 after %-decoding"))
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl DbUrl {
    /// A SQLite file.
    pub fn sqlite(path: impl Into<PathBuf>) -> DbUrl {
        DbUrl {
            engine: Engine::Sqlite,
            user: None,
            password: None,
            host: String::new(),
            port: None,
            database: None,
            path: Some(path.into()),
        }
    }

    /// Parses `engine://user:pass@host:port/name` or `sqlite:///path` (three slashes for an
    /// absolute path, as OpenSIPS writes it).
    pub fn parse(url: &str) -> Result<DbUrl, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("`{url}` is not a database URL (engine://user:pass@host:port/name or sqlite:///path)"))?;
        let engine = parse_engine(scheme)?;
        if engine == Engine::Sqlite {
            if rest.is_empty() {
                return Err(format!(
                    "`{url}`: the SQLite URL names no file (sqlite:///path/to/file)"
                ));
            }
            return Ok(DbUrl::sqlite(percent_decode(rest)?));
        }
        let (auth_host, database) = match rest.split_once('/') {
            Some((a, d)) => (a, (!d.is_empty()).then(|| d.to_string())),
            None => (rest, None),
        };
        let database = database.map(|d| percent_decode(&d)).transpose()?;
        let (userinfo, hostport) = match auth_host.rfind('@') {
            Some(i) => (Some(&auth_host[..i]), &auth_host[i + 1..]),
            None => (None, auth_host),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(ui) => match ui.split_once(':') {
                Some((u, p)) => (Some(percent_decode(u)?), Some(percent_decode(p)?)),
                None => (Some(percent_decode(ui)?), None),
            },
        };
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h, after) = h
                .split_once(']')
                .ok_or_else(|| format!("`{url}`: unclosed [ in the host"))?;
            let port = after.strip_prefix(':');
            (h.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .map_err(|_| format!("`{url}`: port `{p}` is not a number from 1 to 65535"))
            })
            .transpose()?;
        Ok(DbUrl {
            engine,
            user: user.filter(|u| !u.is_empty()),
            password,
            host: if host.is_empty() {
                "localhost".into()
            } else {
                host
            },
            port,
            database,
            path: None,
        })
    }

    /// The same server and user with another database selected.
    pub fn with_database(&self, db: Option<&str>) -> DbUrl {
        let mut u = self.clone();
        u.database = db.map(str::to_string);
        u
    }

    /// Human-readable form with the password hidden (for messages and logs).
    pub fn redacted(&self) -> String {
        self.render(true)
    }

    /// Full URL including the password.
    pub fn to_url_string(&self) -> String {
        self.render(false)
    }

    /// What a message should call this database: the file, or `host:port/name`.
    pub fn target(&self) -> String {
        match self.engine {
            Engine::Sqlite => self
                .path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            _ => format!(
                "{}{}{}",
                self.host,
                self.port.map(|p| format!(":{p}")).unwrap_or_default(),
                self.database
                    .as_ref()
                    .map(|d| format!("/{d}"))
                    .unwrap_or_default()
            ),
        }
    }

    fn render(&self, hide: bool) -> String {
        let scheme = engine_scheme(self.engine);
        if self.engine == Engine::Sqlite {
            return format!("{scheme}://{}", self.target());
        }
        let mut s = format!("{scheme}://");
        if let Some(u) = &self.user {
            s.push_str(&percent_encode(u));
            if let Some(p) = &self.password {
                s.push(':');
                s.push_str(if hide { "***" } else { p });
                if !hide {
                    s.truncate(s.len() - p.len());
                    s.push_str(&percent_encode(p));
                }
            }
            s.push('@');
        }
        if self.host.contains(':') {
            s.push_str(&format!("[{}]", self.host));
        } else {
            s.push_str(&self.host);
        }
        if let Some(p) = self.port {
            s.push_str(&format!(":{p}"));
        }
        if let Some(d) = &self.database {
            s.push('/');
            s.push_str(&percent_encode(d));
        }
        s
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_urls() {
        let u = DbUrl::parse("postgres://op:p%40ss@127.0.0.1:5433/opensips").unwrap();
        assert_eq!(u.engine, Engine::Postgres);
        assert_eq!(u.user.as_deref(), Some("op"));
        assert_eq!(u.password.as_deref(), Some("p@ss"));
        assert_eq!(u.host, "127.0.0.1");
        assert_eq!(u.port, Some(5433));
        assert_eq!(u.database.as_deref(), Some("opensips"));
        assert_eq!(u.redacted(), "postgres://op:***@127.0.0.1:5433/opensips");
        assert_eq!(DbUrl::parse(&u.to_url_string()).unwrap(), u);
        let m = DbUrl::parse("mysql://root@[::1]").unwrap();
        assert_eq!((m.host.as_str(), m.port, m.database), ("::1", None, None));
    }

    #[test]
    fn parses_sqlite_urls() {
        let u = DbUrl::parse("sqlite:///var/lib/osips/osips.sqlite").unwrap();
        assert_eq!(
            u.path.unwrap(),
            PathBuf::from("/var/lib/osips/osips.sqlite")
        );
    }

    #[test]
    fn rejects_bad_urls() {
        for bad in [
            "nothing",
            "oracle://x/y",
            "foo://x",
            "mysql://h:99999/x",
            "mysql://h:x/y",
            "sqlite://",
            "postgres://u%zz@h/d",
        ] {
            assert!(DbUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
