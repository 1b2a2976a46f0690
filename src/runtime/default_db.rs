//! The embedded default's database: an SQLite file created on first use from the rc defaults
//! (`DB_PATH`, cascade of osipsctlrc files), with the tables `osipsdbctl create` installs.

use std::path::PathBuf;

use crate::ctlrc::Rc;
use crate::db::Engine;
use crate::dbctl::create;
use crate::dbctl::ctx::Ctx;

/// What [`ensure`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultDb {
    /// The SQLite file already existed.
    Existing(PathBuf),
    /// It was created now (the message says with how many tables).
    Created(PathBuf, String),
    /// The rc names a server engine: osips does not create server databases on its own.
    Server(String),
}

/// Creates the rc's SQLite database when it does not exist yet.
pub fn ensure() -> Result<DefaultDb, String> {
    let rc = Rc::load(None).map_err(|e| format!("osipsctlrc: {e}"))?;
    let engine = rc.db_engine().map_err(|e| format!("osipsctlrc: {e}"))?;
    if engine != Engine::Sqlite {
        return Ok(DefaultDb::Server(create::engine_name(engine).to_string()));
    }
    let path = rc.db_path();
    if path.exists() {
        return Ok(DefaultDb::Existing(path));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let ctx = Ctx::new(rc, true);
    match create::create(&ctx, None) {
        Ok(msg) => Ok(DefaultDb::Created(path, msg)),
        Err(f) => Err(format!("{} ({})", f.message, f.hint)),
    }
}
