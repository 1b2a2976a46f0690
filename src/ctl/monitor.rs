//! `monitor`: opensipsctl's refreshing view (version, uptime, transactions, replies,
//! registrations) every `WATCH_PERIOD` seconds, until `q` / Ctrl-C or `--count` refreshes.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use serde_json::{Map, Value as Json, json};

use super::ctx::Ctx;
use super::error::{Failure, Outcome};
use super::mi_link::{MiFailure, MiLink};
use super::output::Report;

/// The statistics opensipsctl's monitor asked for, with the usrloc group.
const STATS: &[&str] = &[
    "UAS_transactions",
    "UAC_transactions",
    "inuse_transactions",
    "sent_replies",
    "sent_err_replies",
    "received_ACKs",
    "registered_users",
    "usrloc:",
];

/// One refresh.
pub fn snapshot(link: &MiLink) -> Outcome<Json> {
    let version = link.run("version", json!([]))?;
    let uptime = link.run("uptime", json!([]))?;
    let stats = match link.call("get_statistics", json!({ "statistics": STATS })) {
        Ok(v) => v,
        // none of them registered (no tm, sl or usrloc loaded)
        Err(MiFailure::Refused { code: 404, .. }) => json!({}),
        Err(f) => return Err(link.failure("get_statistics", f)),
    };
    Ok(json!({
        "version": version.get("Server").cloned().unwrap_or(version.clone()),
        "uptime": uptime,
        "statistics": stats,
    }))
}

fn stat(s: &Map<String, Json>, name: &str) -> String {
    s.iter()
        .find(|(k, _)| k.rsplit(':').next() == Some(name))
        .map(|(_, v)| match v {
            Json::String(t) => t.clone(),
            other => other.to_string(),
        })
        .unwrap_or_else(|| "-".into())
}

/// The text view of one snapshot.
pub fn render(snap: &Json, period: u64) -> String {
    let empty = Map::new();
    let s = snap["statistics"].as_object().unwrap_or(&empty);
    let up = &snap["uptime"];
    let text = |v: &Json| v.as_str().unwrap_or("-").to_string();
    let mut out = String::new();
    out.push_str(&format!(
        "osips monitor: {}  (every {period} s; q or Ctrl-C quits)\n",
        text(&snap["version"])
    ));
    out.push_str(&format!(
        "Now: {}   Up since: {}   Up time: {}\n\n",
        text(&up["Now"]),
        text(&up["Up since"]),
        text(&up["Up time"])
    ));
    out.push_str(&format!(
        "Transactions   UAS {}   UAC {}   in use {}\n",
        stat(s, "UAS_transactions"),
        stat(s, "UAC_transactions"),
        stat(s, "inuse_transactions")
    ));
    out.push_str(&format!(
        "Replies        sent {}   errors {}   ACKs received {}\n",
        stat(s, "sent_replies"),
        stat(s, "sent_err_replies"),
        stat(s, "received_ACKs")
    ));
    let mut reg = format!("Registrations  users {}", stat(s, "registered_users"));
    for (k, v) in s {
        if k.starts_with("usrloc:") && !k.ends_with("registered_users") {
            reg.push_str(&format!("   {} {v}", &k["usrloc:".len()..]));
        }
    }
    out.push_str(&reg);
    out.push('\n');
    out
}

/// Waits `period` seconds; true when the user asked to quit (q, Esc or Ctrl-C on a terminal).
fn wait_or_quit(period: Duration) -> bool {
    use crossterm::event::{self, Event, KeyCode, KeyModifiers};
    if !std::io::stdin().is_terminal() || crossterm::terminal::enable_raw_mode().is_err() {
        std::thread::sleep(period);
        return false;
    }
    let end = Instant::now() + period;
    let mut quit = false;
    while !quit {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match event::poll(left) {
            Ok(true) => {
                if let Ok(Event::Key(k)) = event::read() {
                    quit = matches!(
                        k.code,
                        KeyCode::Char('q') | KeyCode::Char('Q') | KeyCode::Esc
                    ) || (k.code == KeyCode::Char('c')
                        && k.modifiers.contains(KeyModifiers::CONTROL));
                }
            }
            Ok(false) => break,
            Err(_) => {
                std::thread::sleep(left);
                break;
            }
        }
    }
    let _ = crossterm::terminal::disable_raw_mode();
    quit
}

/// `monitor [--count N]`: prints every refresh itself (JSON: one object per line).
pub fn run(ctx: &Ctx, count: Option<u64>) -> Outcome<Report> {
    let period = ctx.rc.watch_period().map_err(Failure::from)?;
    if count == Some(0) {
        return Err(Failure::usage(
            "--count must be at least 1",
            "leave it out to refresh until q",
        ));
    }
    let link = MiLink::from_rc(&ctx.rc)?;
    let clear = !ctx.json && std::io::stdout().is_terminal();
    let mut done = 0u64;
    loop {
        let snap = snapshot(&link)?;
        let mut out = std::io::stdout().lock();
        if ctx.json {
            let mut o = json!({"ok": true, "command": "monitor", "result": snap, "exit": 0});
            o["refresh"] = json!(done + 1);
            let _ = writeln!(out, "{o}");
        } else {
            if clear {
                let _ = write!(out, "\x1b[H\x1b[2J");
            } else if done > 0 {
                let _ = writeln!(out);
            }
            let _ = write!(out, "{}", render(&snap, period));
        }
        let _ = out.flush();
        drop(out);
        done += 1;
        if count.is_some_and(|n| done >= n) {
            break;
        }
        if wait_or_quit(Duration::from_secs(period.max(1))) {
            break;
        }
    }
    Ok(Report {
        silent: true,
        ..Report::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_shows_the_counters() {
        let snap = json!({
            "version": "osips (0.1)",
            "uptime": {"Now": "n", "Up since": "s", "Up time": "5 [sec]"},
            "statistics": {"tm:UAS_transactions": 3, "sl:sent_replies": 7,
                           "usrloc:registered_users": 2, "usrloc:location-contacts": 4}
        });
        let t = render(&snap, 2);
        assert!(t.contains("osips monitor: osips (0.1)"), "{t}");
        assert!(t.contains("Up time: 5 [sec]"), "{t}");
        assert!(t.contains("UAS 3   UAC -"), "{t}");
        assert!(t.contains("sent 7"), "{t}");
        assert!(t.contains("users 2   location-contacts 4"), "{t}");
    }
}
