//! What every command needs: the rc settings, where the database is, connections, prompts.

use std::cell::RefCell;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use super::error::{Failure, Outcome, exit};
use crate::ctlrc::{Rc, YesNoAsk};
use crate::db::{Db, DbError, DbUrl, Engine, sql::check_name};

/// Where the database of a command lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    Sqlite(PathBuf),
    Server(String),
}

impl Place {
    pub fn name(&self) -> String {
        match self {
            Place::Sqlite(p) => p.display().to_string(),
            Place::Server(n) => n.clone(),
        }
    }
}

/// Settings and state of one osipsdbctl run.
pub struct Ctx {
    pub rc: Rc,
    pub yes: bool,
    /// stdin and stderr are terminals: prompts are allowed.
    pub interactive: bool,
    root_password: RefCell<Option<String>>,
}

impl Ctx {
    pub fn new(rc: Rc, yes: bool) -> Ctx {
        Ctx {
            rc,
            yes,
            interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
            root_password: RefCell::new(None),
        }
    }

    pub fn engine(&self) -> Outcome<Engine> {
        Ok(self.rc.db_engine()?)
    }

    /// The database a command works on: `arg` (a file for SQLite, a name otherwise) or the rc's.
    pub fn place(&self, arg: Option<&str>) -> Outcome<Place> {
        match self.engine()? {
            Engine::Sqlite => Ok(Place::Sqlite(
                arg.map(PathBuf::from).unwrap_or_else(|| self.rc.db_path()),
            )),
            _ => {
                let name = arg.unwrap_or(self.rc.db_name()).to_string();
                check_name("database", &name)?;
                Ok(Place::Server(name))
            }
        }
    }

    fn admin_url(&self) -> Outcome<DbUrl> {
        let engine = self.engine()?;
        let mut url = self.rc.admin_url(None)?;
        if url.password.is_none() {
            if let Some(p) = self.root_password.borrow().clone() {
                url.password = Some(p);
            } else if self.interactive {
                let user = self.rc.db_root_user(engine);
                let p = rpassword::prompt_password(format!(
                    "Password for the database superuser {user}@{}: ",
                    url.host
                ))
                .map_err(|e| {
                    Failure::new(exit::FAILED, format!("cannot read the password: {e}"), "")
                })?;
                *self.root_password.borrow_mut() = Some(p.clone());
                url.password = Some(p);
            }
        }
        Ok(url)
    }

    /// A superuser connection with no database selected (server engines only).
    pub fn admin(&self) -> Outcome<Db> {
        let url = self.admin_url()?;
        Db::connect(&url).map_err(|e| self.explain(e, &url))
    }

    /// A superuser connection to `place` (SQLite: the file, which must exist).
    pub fn admin_in(&self, place: &Place) -> Outcome<Db> {
        match place {
            Place::Sqlite(p) => Ok(Db::open_sqlite(p, false)?),
            Place::Server(name) => {
                let url = self.admin_url()?.with_database(Some(name));
                Db::connect(&url).map_err(|e| self.explain(e, &url))
            }
        }
    }

    /// The read-write user's connection to `place`. When the server refuses it and the
    /// superuser's password is at hand, a missing database is reported as such.
    pub fn rw_in(&self, place: &Place) -> Outcome<Db> {
        match place {
            Place::Sqlite(p) => Ok(Db::open_sqlite(p, false)?),
            Place::Server(name) => {
                let url = self.rc.db_url()?.with_database(Some(name));
                match Db::connect(&url) {
                    Ok(db) => Ok(db),
                    Err(e @ DbError::AuthFailed { .. }) => {
                        let engine = self.engine()?;
                        if self.rc.db_root_password(engine).is_some()
                            && let Ok(admin) = Db::connect(&self.rc.admin_url(None)?)
                        {
                            let exists = crate::db::admin::database_exists(&admin, name);
                            admin.close();
                            if let Ok(false) = exists {
                                return Err(DbError::DatabaseMissing(name.clone()).into());
                            }
                        }
                        Err(self.explain(e, &url))
                    }
                    Err(e) => Err(self.explain(e, &url)),
                }
            }
        }
    }

    fn explain(&self, e: DbError, url: &DbUrl) -> Failure {
        let auth = matches!(e, DbError::AuthFailed { .. });
        let mut f = Failure::from(e);
        if auth && url.password.is_none() {
            f.hint = format!(
                "no password was given for `{}`: export {} (or set DBROOTPW in the rc file), or run on a terminal to be asked",
                url.user.as_deref().unwrap_or(""),
                if url.engine == Engine::Postgres {
                    "PGPASSWORD"
                } else {
                    "PW"
                }
            );
        }
        f
    }

    /// Asks before a destructive step; without a terminal, `--yes` is required.
    pub fn confirm(&self, question: &str) -> Outcome<()> {
        if self.yes {
            return Ok(());
        }
        if !self.interactive {
            return Err(Failure::new(
                exit::NOT_CONFIRMED,
                format!("{question}: not confirmed"),
                "add --yes (-y) to run it without a terminal",
            ));
        }
        if ask(&format!("{question} [y/N] "))? {
            Ok(())
        } else {
            Err(Failure::new(
                exit::NOT_CONFIRMED,
                format!("{question}: answered no"),
                "nothing was changed",
            ))
        }
    }

    /// `INSTALL_*_TABLES`: yes, no, or ask on a terminal (no without one).
    pub fn want(&self, setting: YesNoAsk, what: &str) -> Outcome<bool> {
        Ok(match setting {
            YesNoAsk::Yes => true,
            YesNoAsk::No => false,
            YesNoAsk::Ask if self.yes => false,
            YesNoAsk::Ask if self.interactive => {
                ask(&format!("Install the {what} tables? [y/N] "))?
            }
            YesNoAsk::Ask => false,
        })
    }
}

fn ask(prompt: &str) -> Outcome<bool> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::new(exit::FAILED, format!("cannot read the answer: {e}"), ""))?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
