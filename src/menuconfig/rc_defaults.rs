//! Defaults taken from the osipsctlrc files (read by [`crate::ctlrc::Rc`], the reader of
//! `osipsctl` and `osipsdbctl`): the database URL and the MI FIFO path, so that a generated
//! script uses the database and FIFO the tools provision and talk to.

use super::catalogue::DefaultSource;
use super::options::{OptionSet, Value, validate_value};
use crate::ctlrc::{LoadOptions, Rc, RcError};
use std::path::PathBuf;

/// Option defaults found in the rc files (None when the rc files do not say).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CtlrcDefaults {
    pub db_url: Option<String>,
    pub mi_fifo: Option<String>,
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
    /// the FIFO when `OSIPS_FIFO` is set ([`Rc::osips_fifo`], under `CHROOT_DIR`). What the rc
    /// does not set keeps the catalogue's default rather than the tools' built-in one.
    pub fn from_rc(rc: &Rc) -> Result<CtlrcDefaults, RcError> {
        let set = |k: &str| rc.get(k).is_some_and(|v| !v.is_empty());
        let db_url = if set("DBENGINE") {
            Some(rc.db_url()?.to_url_string())
        } else {
            None
        };
        let mi_fifo = set("OSIPS_FIFO").then(|| rc.osips_fifo().display().to_string());
        Ok(CtlrcDefaults {
            db_url,
            mi_fifo,
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
                Some(DefaultSource::CtlrcDbUrl) => self.db_url.as_ref(),
                Some(DefaultSource::CtlrcFifo) => self.mi_fifo.as_ref(),
                None => None,
            };
            if let Some(v) = v {
                let value = Value::Text(v.clone());
                if validate_value(o, &value).is_ok()
                    && set.set_value_unchecked(&o.name, value).is_ok()
                {
                    changed.push(o.name.clone());
                }
            }
        }
        changed
    }

    pub fn is_empty(&self) -> bool {
        self.db_url.is_none() && self.mi_fifo.is_none()
    }
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
