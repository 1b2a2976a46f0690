//! Defaults taken from the osipsctlrc files (read by [`crate::ctlrc::Rc`], the reader of
//! `osipsctl` and `osipsdbctl`): the database URL, the MI FIFO path and the HTTP MI address,
//! so that a generated script uses the database and management interface the tools use.

use super::catalogue::DefaultSource;
use super::options::{OptionSet, Value, validate_value};
use crate::ctlrc::{LoadOptions, Rc, RcError};
use std::path::PathBuf;

/// Option defaults found in the rc files (None when the rc files do not say).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CtlrcDefaults {
    pub db_url: Option<String>,
    pub mi_fifo: Option<String>,
    /// Host and port of `OSIPS_MI_URL` (`http://HOST:PORT/mi`).
    pub mi_http: Option<(String, u16)>,
    /// The files that were read, for the TUI's help screen.
    pub files: Vec<PathBuf>,
}

impl CtlrcDefaults {
    /// Reads the rc cascade (or the file `$OSIPSCTLRC` names) as `osipsctl` does.
    pub fn load() -> Result<CtlrcDefaults, RcError> {
        Self::from_rc(&Rc::load(None)?)
    }

    /// Reads these files in order (later ones win), without the environment.
    pub fn from_files(files: &[PathBuf]) -> Result<CtlrcDefaults, RcError> {
        Self::from_rc(&Rc::load_with(&LoadOptions {
            system_files: files.to_vec(),
            ..LoadOptions::default()
        })?)
    }

    /// Maps rc settings to defaults: the database URL when `DBENGINE` (or `DBURL`) is set, built
    /// by [`Rc::db_url`] from `DBHOST`, `DBPORT`, `DBNAME`, `DBRWUSER`, `DBRWPW`, `DB_PATH`;
    /// the FIFO when `OSIPS_FIFO` is set ([`Rc::osips_fifo`], under `CHROOT_DIR`); the HTTP MI
    /// host and port when `OSIPS_MI_URL` is set ([`Rc::mi_url`]). What the rc
    /// does not set keeps the catalogue's default rather than the tools' built-in one.
    pub fn from_rc(rc: &Rc) -> Result<CtlrcDefaults, RcError> {
        let set = |k: &str| rc.get(k).is_some_and(|v| !v.is_empty());
        let db_url = if set("DBENGINE") {
            Some(rc.db_url()?.to_url_string())
        } else {
            None
        };
        let mi_fifo = set("OSIPS_FIFO").then(|| rc.osips_fifo().display().to_string());
        let mi_http = if set("OSIPS_MI_URL") {
            Some(http_host_port(rc.mi_url()).ok_or_else(|| RcError::Value {
                key: "OSIPS_MI_URL".into(),
                value: rc.mi_url().to_string(),
                origin: rc.origin("OSIPS_MI_URL").cloned(),
                message: "expected http://HOST:PORT/PATH".into(),
            })?)
        } else {
            None
        };
        Ok(CtlrcDefaults {
            db_url,
            mi_fifo,
            mi_http,
            files: rc.files().to_vec(),
        })
    }

    /// Replaces the catalogue defaults of options marked with a `source` by the rc values that
    /// pass the option's checks; returns the names changed.
    pub fn apply(&self, set: &mut OptionSet) -> Vec<String> {
        let cat = set.catalogue().clone();
        let mut changed = Vec::new();
        for o in &cat.options {
            let v = match o.source {
                Some(DefaultSource::CtlrcDbUrl) => self.db_url.clone(),
                Some(DefaultSource::CtlrcFifo) => self.mi_fifo.clone(),
                Some(DefaultSource::CtlrcMiHttpIp) => self.mi_http.as_ref().map(|h| h.0.clone()),
                Some(DefaultSource::CtlrcMiHttpPort) => {
                    self.mi_http.as_ref().map(|h| h.1.to_string())
                }
                None => None,
            };
            if let Some(v) = v
                && let Ok(value) = Value::parse(o, &v)
                && validate_value(o, &value).is_ok()
                && set.set_value_unchecked(&o.name, value).is_ok()
            {
                changed.push(o.name.clone());
            }
        }
        changed
    }

    pub fn is_empty(&self) -> bool {
        self.db_url.is_none() && self.mi_fifo.is_none() && self.mi_http.is_none()
    }
}

/// Host and port of `http://HOST:PORT/...` (IPv6 hosts in brackets; port 80 when absent).
fn http_host_port(url: &str) -> Option<(String, u16)> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split('/').next()?;
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']')?;
            (h, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    let port = match port {
        Some(p) => p.parse().ok().filter(|p| *p > 0)?,
        None => 80,
    };
    (!host.is_empty()).then(|| (host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(text: &str) -> CtlrcDefaults {
        CtlrcDefaults::from_rc(&Rc::from_str_named(text, "rc").unwrap()).unwrap()
    }

    #[test]
    fn pgsql_rc_gives_postgres_url() {
        let d = from(
            "# comment\nDBENGINE=PGSQL\nDBHOST=127.0.0.1\nDBPORT=5433\nDBRWUSER=\"sip\"\nDBRWPW='pw'\nOSIPS_FIFO=/run/x_fifo\n",
        );
        assert_eq!(
            d.db_url.as_deref(),
            Some("postgres://sip:pw@127.0.0.1:5433/opensips")
        );
        assert_eq!(d.mi_fifo.as_deref(), Some("/run/x_fifo"));
    }

    #[test]
    fn sqlite_rc_gives_three_slash_url() {
        let d = from("DBENGINE=SQLITE\nDB_PATH=/var/db/osips.sqlite\n");
        assert_eq!(d.db_url.as_deref(), Some("sqlite:///var/db/osips.sqlite"));
        let d = from("DBURL=mysql://u:p@db:3307/x\n");
        assert_eq!(d.db_url.as_deref(), Some("mysql://u:p@db:3307/x"));
    }

    #[test]
    fn fifo_goes_under_the_chroot() {
        let d = from("CHROOT_DIR=/srv/jail\nOSIPS_FIFO=/tmp/fifo\n");
        assert_eq!(d.mi_fifo.as_deref(), Some("/srv/jail/tmp/fifo"));
    }

    #[test]
    fn mi_url_gives_http_address_and_port() {
        let d = from("OSIPS_MI_URL=http://127.0.0.5:8899/mi\n");
        assert_eq!(d.mi_http, Some(("127.0.0.5".into(), 8899)));
        let d = from("OSIPS_MI_URL=http://[::1]/mi\n");
        assert_eq!(d.mi_http, Some(("::1".into(), 80)));
        let rc = Rc::from_str_named("OSIPS_MI_URL=https://x:1/mi\n", "rc").unwrap();
        let e = CtlrcDefaults::from_rc(&rc).unwrap_err().to_string();
        assert!(e.contains("OSIPS_MI_URL") && e.contains("rc:1"), "{e}");
    }

    #[test]
    fn no_engine_means_no_url() {
        let d = from("DBHOST=db\n");
        assert!(d.db_url.is_none() && d.mi_fifo.is_none());
    }

    #[test]
    fn bad_engine_is_an_error_naming_the_place() {
        let rc = Rc::from_str_named("DBENGINE=ORACLE\n", "rc").unwrap();
        let e = CtlrcDefaults::from_rc(&rc).unwrap_err().to_string();
        assert!(e.contains("DBENGINE") && e.contains("rc:1"), "{e}");
    }
}
