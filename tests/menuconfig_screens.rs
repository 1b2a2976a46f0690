//! Snapshots of every TUI screen, drawn with ratatui's TestBackend, plus a key-mashing run over
//! many terminal sizes that must never panic.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use osips::menuconfig::app::{App, Modal, Screen};
use osips::menuconfig::checker::{Checks, LibraryChecker};
use osips::menuconfig::{CtlrcDefaults, Library, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::PathBuf;
use std::sync::Arc;

/// The real script check, against no module at all: the status lines list every module a
/// scenario loads, so these screens do not change each time osips implements another module.
fn checker() -> LibraryChecker {
    LibraryChecker::with_registry(osips::script::Registry::with(&[]))
}

/// A fresh app whose files go to `target/menuconfig-screens/NAME` (a relative path, so the
/// screens that show it are the same on every machine).
fn app(name: &str) -> (App, PathBuf) {
    let dir = PathBuf::from("target/menuconfig-screens").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let checks = Checks::new(Box::new(checker()));
    let app = App::new(
        Arc::new(Library::embedded()),
        checks,
        &dir,
        &CtlrcDefaults::default(),
    );
    (app, dir)
}

fn press(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn presses(app: &mut App, code: KeyCode, n: usize) {
    for _ in 0..n {
        press(app, code);
    }
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

fn draw(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::draw(app, f)).unwrap();
    t
}

fn snap(name: &str, app: &App, w: u16, h: u16) {
    let t = draw(app, w, h);
    insta::assert_snapshot!(name, t.backend());
}

/// Main menu → Generate OpenSIPS Script → scenario `n` → Configure.
fn open_configure(app: &mut App, n: usize) {
    press(app, KeyCode::Enter);
    presses(app, KeyCode::Down, n);
    press(app, KeyCode::Enter);
    press(app, KeyCode::Enter);
    assert_eq!(app.screen(), Screen::Configure(n));
}

fn move_to(app: &mut App, option: &str) {
    let Screen::Configure(i) = app.screen() else {
        panic!("not on the configure screen")
    };
    let pos = app.scenarios[i]
        .options()
        .iter()
        .position(|o| o.name == option)
        .unwrap();
    presses(app, KeyCode::Up, 60);
    presses(app, KeyCode::Down, pos);
}

#[test]
fn menus() {
    let (mut a, _) = app("menus");
    snap("main_menu", &a, 80, 24);
    press(&mut a, KeyCode::Enter);
    press(&mut a, KeyCode::Down);
    snap("scripts_menu", &a, 80, 24);
    press(&mut a, KeyCode::Up);
    press(&mut a, KeyCode::Right);
    snap("residential_menu", &a, 80, 24);
    press(&mut a, KeyCode::Char('h'));
    snap("help", &a, 80, 24);
    press(&mut a, KeyCode::Char('x'));
    assert_eq!(a.modal, None);
    press(&mut a, KeyCode::Left);
    assert_eq!(a.screen(), Screen::Scripts);
}

#[test]
fn configure_screen_toggle_and_refusal() {
    let (mut a, _) = app("configure");
    open_configure(&mut a, 0);
    snap("configure_residential", &a, 80, 24);
    move_to(&mut a, "USE_AUTH");
    press(&mut a, KeyCode::Char(' '));
    snap("configure_use_auth_on", &a, 80, 24);
    move_to(&mut a, "USE_DR_PSTN");
    press(&mut a, KeyCode::Char(' '));
    snap("configure_refused_dependency", &a, 80, 24);
    assert!(!a.scenarios[0].set.is_on("USE_DR_PSTN"));
    // leaving with unsaved changes asks first
    press(&mut a, KeyCode::Char('q'));
    press(&mut a, KeyCode::Char('q'));
    snap("unsaved_question", &a, 80, 24);
    press(&mut a, KeyCode::Char('n'));
    assert!(matches!(a.screen(), Screen::Scenario(0)));
}

#[test]
fn edit_a_value() {
    let (mut a, _) = app("edit");
    open_configure(&mut a, 0);
    move_to(&mut a, "LISTEN_IP");
    press(&mut a, KeyCode::Enter);
    a.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    typed(&mut a, "127.0.0.300");
    press(&mut a, KeyCode::Enter);
    snap("edit_value_refused", &a, 80, 24);
    presses(&mut a, KeyCode::Backspace, 3);
    typed(&mut a, "9");
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.modal, None);
    snap("edit_value_accepted", &a, 80, 24);
    assert!(
        a.scenarios[0]
            .script
            .as_ref()
            .unwrap()
            .contains("socket=udp:127.0.0.9:5060")
    );
}

#[test]
fn generate_asks_before_overwriting() {
    let (mut a, dir) = app("generate");
    open_configure(&mut a, 0);
    press(&mut a, KeyCode::Char('g'));
    snap("generate_prompt", &a, 80, 24);
    press(&mut a, KeyCode::Enter);
    snap("generate_done", &a, 80, 24);
    let out = dir.join("opensips_residential.cfg");
    assert!(std::fs::read_to_string(&out).unwrap().contains("route {"));
    assert!(dir.join("opensips_residential.cfg.options.toml").exists());
    press(&mut a, KeyCode::Char(' '));
    press(&mut a, KeyCode::Char('g'));
    press(&mut a, KeyCode::Enter);
    snap("generate_overwrite_question", &a, 80, 24);
    press(&mut a, KeyCode::Char('n'));
    assert_eq!(a.modal, None);
}

#[test]
fn saved_options_are_reloaded() {
    let (mut a, dir) = app("reload");
    open_configure(&mut a, 1);
    move_to(&mut a, "USE_DIALOG");
    press(&mut a, KeyCode::Char(' '));
    press(&mut a, KeyCode::Char('s'));
    assert!(matches!(&a.modal, Some(Modal::Notice(n)) if n.contains("saved for Trunking Script")));
    let checks = Checks::new(Box::new(checker()));
    let b = App::new(
        Arc::new(Library::embedded()),
        checks,
        &dir,
        &CtlrcDefaults::default(),
    );
    assert!(b.scenarios[1].set.is_on("USE_DIALOG"));
    assert!(!b.scenarios[1].unsaved());
}

#[test]
fn platform_and_other_sizes() {
    let (mut a, _) = app("sizes");
    open_configure(&mut a, 3);
    snap("configure_platform_120x40", &a, 120, 40);
    snap("configure_platform_60x16", &a, 60, 16);
    snap("tiny_terminal", &a, 40, 10);
}

#[test]
fn no_panic_on_any_key_at_any_size() {
    let (mut a, _) = app("mash");
    let keys = [
        KeyCode::Up,
        KeyCode::Down,
        KeyCode::Left,
        KeyCode::Right,
        KeyCode::Enter,
        KeyCode::Char(' '),
        KeyCode::Char('h'),
        KeyCode::Char('s'),
        KeyCode::Char('x'),
        KeyCode::Char('y'),
        KeyCode::Char('n'),
        KeyCode::Backspace,
        KeyCode::PageDown,
        KeyCode::PageUp,
        KeyCode::Esc,
        KeyCode::Char('1'),
    ];
    let mut seed: u64 = 0x5eed;
    for step in 0..3000 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let k = keys[(seed >> 33) as usize % keys.len()];
        if !a.quit {
            a.on_key(KeyEvent::new(k, KeyModifiers::NONE));
        } else {
            a.quit = false;
        }
        let w = 1 + ((seed >> 20) % 140) as u16;
        let h = 1 + ((seed >> 40) % 50) as u16;
        if step % 7 == 0 {
            draw(&a, w, h);
        }
    }
}

#[test]
fn failing_check_is_shown_and_blocks_generation() {
    // a template directory whose script has a real error, found by the real script checker
    let dir = PathBuf::from("target/menuconfig-screens/failing");
    let _ = std::fs::remove_dir_all(&dir);
    let templates = dir.join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(
        templates.join("broken.toml"),
        "name = \"broken\"\ntitle = \"Broken Script\"\ndescription = \"has an error\"\n",
    )
    .unwrap();
    let mut body = String::from("loadmodule \"tm.so\"\n\nroute {\n");
    for n in 0..20 {
        body.push_str(&format!("\txlog(\"L_INFO\", \"step {n}\\n\");\n"));
    }
    body.push_str("\t$var(x) = ;\n\texit;\n}\n");
    std::fs::write(templates.join("broken.cfg.j2"), body).unwrap();
    let checks = Checks::lenient(Box::new(checker()));
    let mut a = App::new(
        Arc::new(Library::from_dir(&templates).unwrap()),
        checks,
        &dir,
        &CtlrcDefaults::default(),
    );
    open_configure(&mut a, 0);
    let report = a.scenarios[0].report.clone().unwrap();
    let errors = report.errors();
    assert_eq!(
        (errors[0].line, errors[0].column),
        (24, Some(12)),
        "{errors:?}"
    );
    press(&mut a, KeyCode::Char('e'));
    assert_eq!(a.scenarios[0].preview_scroll, 21);
    snap("check_failed", &a, 100, 30);
    press(&mut a, KeyCode::Char('g'));
    press(&mut a, KeyCode::Enter);
    snap("check_failed_not_generated", &a, 100, 30);
    assert!(!dir.join("opensips_broken.cfg").exists());
}
