//! What every command needs: the rc settings, one database connection, table names, prompts.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::{Failure, Outcome, exit};
use crate::ctlrc::Rc;
use crate::db::{Db, Engine, sql::check_name};

/// Settings and state of one osipsctl run.
pub struct Ctx {
    pub rc: Rc,
    /// `--yes`: confirm destructive commands without asking.
    pub yes: bool,
    /// stdin is a terminal: prompts are allowed.
    pub interactive: bool,
    /// `--json`: commands that print as they go (`monitor`) print JSON.
    pub json: bool,
    db: OnceLock<Db>,
    tables: OnceLock<Vec<String>>,
}

impl Ctx {
    pub fn new(rc: Rc, yes: bool) -> Ctx {
        Ctx {
            rc,
            yes,
            interactive: std::io::stdin().is_terminal(),
            json: false,
            db: OnceLock::new(),
            tables: OnceLock::new(),
        }
    }

    /// The read-write connection named by the rc file (opened on first use).
    pub fn db(&self) -> Outcome<&Db> {
        if let Some(db) = self.db.get() {
            return Ok(db);
        }
        let db = Db::connect_rc(&self.rc)?;
        Ok(self.db.get_or_init(|| db))
    }

    /// Whether the database has table `name` (unquoted; case-insensitive).
    pub fn has_table(&self, name: &str) -> Outcome<bool> {
        if self.tables.get().is_none() {
            let list = crate::db::admin::list_tables(self.db()?)?;
            let _ = self.tables.set(list);
        }
        Ok(self
            .tables
            .get()
            .is_some_and(|t| t.iter().any(|n| n.eq_ignore_ascii_case(name))))
    }

    pub fn engine(&self) -> Outcome<Engine> {
        Ok(self.db()?.engine())
    }

    /// A table name with its rc override (`SUB_TABLE` ...), checked and quoted for SQL.
    pub fn table(&self, key: &str, default: &str) -> Outcome<String> {
        let name = self.rc.table(key, default);
        check_name("table", name)
            .map_err(|e| Failure::usage(format!("{key}: {e}"), "fix the rc file (or --rc FILE)"))?;
        Ok(self.engine()?.quote(name))
    }

    /// The unquoted table name (for the `version` row).
    pub fn table_name<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.rc.table(key, default)
    }

    /// `USERCOL`, checked and quoted.
    pub fn user_col(&self) -> Outcome<String> {
        let col = self.rc.user_column();
        check_name("column", col)
            .map_err(|e| Failure::usage(format!("USERCOL: {e}"), "fix the rc file"))?;
        Ok(self.engine()?.quote(col))
    }

    /// A password from the command line, or asked twice on a terminal.
    pub fn password(&self, given: Option<&str>, whom: &str) -> Outcome<String> {
        if let Some(p) = given {
            return Ok(p.to_string());
        }
        if !self.interactive {
            return Err(Failure::usage(
                format!("no password given for {whom}"),
                "give it as the last argument (stdin is not a terminal, so osipsctl does not ask)",
            ));
        }
        let read = |prompt: &str| {
            rpassword::prompt_password(prompt)
                .map_err(|e| Failure::failed(format!("cannot read the password: {e}"), ""))
        };
        let p1 = read(&format!("Password for {whom}: "))?;
        let p2 = read("Again: ")?;
        if p1 != p2 {
            return Err(Failure::usage(
                "the two passwords differ",
                "nothing was changed",
            ));
        }
        Ok(p1)
    }

    /// Asks before a step the user may not expect; without a terminal, `--yes` is required.
    pub fn confirm(&self, question: &str) -> Outcome<()> {
        if self.yes {
            return Ok(());
        }
        if !self.interactive {
            return Err(Failure::new(
                exit::FAILED,
                format!("{question}: not confirmed"),
                "add --yes (-y) to run it without a terminal",
            ));
        }
        eprint!("{question} [y/N] ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::failed(format!("cannot read the answer: {e}"), ""))?;
        if matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            Ok(())
        } else {
            Err(Failure::failed(
                format!("{question}: answered no"),
                "nothing was changed",
            ))
        }
    }
}

/// Seconds since the epoch.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) for the `last_modified` columns.
pub fn now_text() -> String {
    datetime_text(unix_now())
}

fn datetime_text(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_text_is_utc_calendar_time() {
        assert_eq!(datetime_text(0), "1970-01-01 00:00:00");
        assert_eq!(datetime_text(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(datetime_text(1_709_251_199), "2024-02-29 23:59:59");
    }
}
