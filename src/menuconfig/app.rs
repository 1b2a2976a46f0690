//! The TUI's state and key handling (no drawing, no terminal): the menu tree of OpenSIPS's
//! menuconfig, the scenario screen with its option list, and the dialogs. Files are written
//! only when the user saves or generates.

use super::checker::{CheckReport, Checks};
use super::input::Input;
use super::library::Library;
use super::optionfile;
use super::options::{OptionSet, Value};
use super::rc_defaults::CtlrcDefaults;
use super::{OptionKind, OptionSpec};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const MAIN_TITLE: &str = "OpenSIPS Main Configuration Menu";
pub const MAIN_ITEMS: &[&str] = &["Generate OpenSIPS Script", "Exit & Save All Changes"];
pub const SCRIPT_MENU_TITLE: &str = "Generate OpenSIPS Script";

/// Where the user is in the menu tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Main,
    Scripts,
    Scenario(usize),
    Configure(usize),
}

/// What a yes/no question does on yes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    LeaveScenario,
    Quit,
    Overwrite(PathBuf),
}

/// What the text prompt's value is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptFor {
    Value(String),
    OutputFile,
}

/// A window over the screen that takes the keys until closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modal {
    Help,
    Notice(String),
    Confirm {
        question: String,
        on_yes: Confirm,
    },
    Prompt {
        label: String,
        input: Input,
        error: Option<String>,
        purpose: PromptFor,
    },
}

/// One scenario's working state.
#[derive(Debug, Clone)]
pub struct ScenarioState {
    pub set: OptionSet,
    saved: OptionSet,
    pub script: Result<String, String>,
    pub report: Option<CheckReport>,
    /// Where the script is generated; the option set is saved beside it.
    pub output: PathBuf,
    pub cursor: usize,
    pub preview_scroll: usize,
    /// The last refusal or confirmation on the configure screen.
    pub message: Option<(bool, String)>,
}

impl ScenarioState {
    pub fn title(&self) -> &str {
        &self.set.catalogue().title
    }

    pub fn unsaved(&self) -> bool {
        self.set != self.saved
    }

    pub fn options(&self) -> &[OptionSpec] {
        &self.set.catalogue().options
    }

    pub fn current(&self) -> Option<&OptionSpec> {
        self.options().get(self.cursor)
    }
}

/// The whole TUI state.
pub struct App {
    pub library: Arc<Library>,
    pub checks: Checks,
    pub scenarios: Vec<ScenarioState>,
    /// The path from the main menu to the current screen.
    pub stack: Vec<Screen>,
    /// Highlighted item of each menu screen.
    pub menu_cursor: [usize; 3],
    pub modal: Option<Modal>,
    pub quit: bool,
    pub rc_files: Vec<PathBuf>,
}

impl App {
    /// Builds the state: for each scenario the output `workdir/opensips_<name>.cfg`, its saved
    /// option set if one is there, else the catalogue defaults with the osipsctlrc values.
    pub fn new(library: Arc<Library>, checks: Checks, workdir: &Path, rc: &CtlrcDefaults) -> App {
        let mut notices = Vec::new();
        let scenarios = library
            .catalogues()
            .iter()
            .map(|cat| {
                let output = workdir.join(format!("opensips_{}.cfg", cat.name));
                let mut defaults = OptionSet::defaults(cat.clone());
                rc.apply(&mut defaults);
                let opts = optionfile::options_path(&output);
                let (set, saved) = if opts.exists() {
                    match optionfile::load(&library, &opts, Some(&cat.name), Some(defaults.clone()))
                    {
                        Ok(s) => (s.clone(), s),
                        Err(e) => {
                            notices.push(format!("Not loaded, defaults used: {e}"));
                            (defaults.clone(), defaults)
                        }
                    }
                } else {
                    (defaults.clone(), defaults)
                };
                ScenarioState {
                    set,
                    saved,
                    script: Err(String::new()),
                    report: None,
                    output,
                    cursor: 0,
                    preview_scroll: 0,
                    message: None,
                }
            })
            .collect();
        let mut app = App {
            library,
            checks,
            scenarios,
            stack: vec![Screen::Main],
            menu_cursor: [0; 3],
            modal: None,
            quit: false,
            rc_files: rc.files.clone(),
        };
        for i in 0..app.scenarios.len() {
            app.refresh(i);
        }
        if !notices.is_empty() {
            app.modal = Some(Modal::Notice(notices.join("\n")));
        }
        app
    }

    pub fn screen(&self) -> Screen {
        *self.stack.last().unwrap_or(&Screen::Main)
    }

    /// Re-renders and re-checks a scenario's script.
    fn refresh(&mut self, i: usize) {
        let sc = &mut self.scenarios[i];
        sc.script = self.library.render(&sc.set).map_err(|e| e.to_string());
        sc.report = sc.script.as_ref().ok().map(|s| self.checks.run(s));
    }

    /// After a change: re-render, and scroll the preview to the first line that changed.
    fn changed(&mut self, i: usize) {
        let before = self.scenarios[i].script.clone().unwrap_or_default();
        self.refresh(i);
        let sc = &mut self.scenarios[i];
        if let Ok(after) = &sc.script {
            let first = before
                .lines()
                .zip(after.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| before.lines().count().min(after.lines().count()));
            sc.preview_scroll = first.saturating_sub(2);
        }
    }

    pub fn on_event(&mut self, ev: Event) {
        if let Event::Key(k) = ev
            && k.kind != KeyEventKind::Release
        {
            self.on_key(k);
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        if let Some(modal) = self.modal.take() {
            self.on_modal_key(modal, key);
            return;
        }
        match self.screen() {
            Screen::Main | Screen::Scripts | Screen::Scenario(_) => self.on_menu_key(key),
            Screen::Configure(i) => self.on_configure_key(i, key),
        }
    }

    fn on_modal_key(&mut self, modal: Modal, key: KeyEvent) {
        match modal {
            Modal::Help | Modal::Notice(_) => {}
            Modal::Confirm { question, on_yes } => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => self.confirmed(on_yes),
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {}
                _ => self.modal = Some(Modal::Confirm { question, on_yes }),
            },
            Modal::Prompt {
                label,
                mut input,
                purpose,
                error,
            } => match key.code {
                KeyCode::Esc => {}
                KeyCode::Enter => self.prompt_done(label, input, purpose),
                _ => {
                    let error = if input.edit(key) { None } else { error };
                    self.modal = Some(Modal::Prompt {
                        label,
                        input,
                        error,
                        purpose,
                    });
                }
            },
        }
    }

    /// The items of a menu screen.
    pub fn menu_items(&self, screen: Screen) -> Vec<String> {
        match screen {
            Screen::Main => MAIN_ITEMS.iter().map(|s| s.to_string()).collect(),
            Screen::Scripts => self
                .scenarios
                .iter()
                .map(|s| s.title().to_string())
                .collect(),
            Screen::Scenario(i) => {
                let t = self.scenarios[i].title();
                vec![
                    format!("Configure {t}"),
                    format!("Save {t}"),
                    format!("Generate {t}"),
                ]
            }
            Screen::Configure(_) => Vec::new(),
        }
    }

    fn menu_index(screen: Screen) -> usize {
        match screen {
            Screen::Main => 0,
            Screen::Scripts => 1,
            _ => 2,
        }
    }

    fn on_menu_key(&mut self, key: KeyEvent) {
        let screen = self.screen();
        let idx = Self::menu_index(screen);
        let n = self.menu_items(screen).len();
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => {
                self.menu_cursor[idx] = self.menu_cursor[idx].saturating_sub(1)
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.menu_cursor[idx] = (self.menu_cursor[idx] + 1).min(n.saturating_sub(1))
            }
            KeyCode::Right | KeyCode::Enter => self.menu_select(screen, self.menu_cursor[idx]),
            KeyCode::Left | KeyCode::Char('q') | KeyCode::Char('Q') | KeyCode::Esc => self.back(),
            KeyCode::Char('h') | KeyCode::Char('H') => self.modal = Some(Modal::Help),
            _ => {}
        }
    }

    fn menu_select(&mut self, screen: Screen, item: usize) {
        match (screen, item) {
            (Screen::Main, 0) => self.stack.push(Screen::Scripts),
            (Screen::Main, _) => self.exit_and_save(),
            (Screen::Scripts, i) => {
                self.menu_cursor[2] = 0;
                self.stack.push(Screen::Scenario(i));
            }
            (Screen::Scenario(i), 0) => self.stack.push(Screen::Configure(i)),
            (Screen::Scenario(i), 1) => self.save(i),
            (Screen::Scenario(i), _) => self.ask_output(i),
            (Screen::Configure(_), _) => {}
        }
    }

    fn back(&mut self) {
        match self.screen() {
            Screen::Main => {
                if self.scenarios.iter().any(ScenarioState::unsaved) {
                    self.modal = Some(Modal::Confirm {
                        question: "You have not saved changes. Quit anyway ? [y/n]".into(),
                        on_yes: Confirm::Quit,
                    });
                } else {
                    self.quit = true;
                }
            }
            Screen::Scenario(i) if self.scenarios[i].unsaved() => {
                self.modal = Some(Modal::Confirm {
                    question: "You have not saved changes. Go back anyway ? [y/n]".into(),
                    on_yes: Confirm::LeaveScenario,
                });
            }
            _ => {
                self.stack.pop();
            }
        }
    }

    fn confirmed(&mut self, what: Confirm) {
        match what {
            Confirm::Quit => self.quit = true,
            Confirm::LeaveScenario => {
                self.stack.pop();
            }
            Confirm::Overwrite(path) => {
                if let Some(i) = self.current_scenario() {
                    self.generate(i, &path);
                }
            }
        }
    }

    fn current_scenario(&self) -> Option<usize> {
        self.stack.iter().rev().find_map(|s| match s {
            Screen::Scenario(i) | Screen::Configure(i) => Some(*i),
            _ => None,
        })
    }

    fn on_configure_key(&mut self, i: usize, key: KeyEvent) {
        let n = self.scenarios[i].options().len();
        let sc = &mut self.scenarios[i];
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => sc.cursor = sc.cursor.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                sc.cursor = (sc.cursor + 1).min(n.saturating_sub(1))
            }
            KeyCode::PageUp => sc.preview_scroll = sc.preview_scroll.saturating_sub(10),
            KeyCode::PageDown => sc.preview_scroll += 10,
            KeyCode::Char('e') | KeyCode::Char('E') => {
                let first = sc
                    .report
                    .as_ref()
                    .and_then(|r| r.errors().first().map(|e| e.line));
                match first {
                    Some(line) => sc.preview_scroll = line.saturating_sub(3),
                    None => sc.message = Some((true, "The script has no check errors".into())),
                }
            }
            KeyCode::Left | KeyCode::Char('q') | KeyCode::Char('Q') | KeyCode::Esc => {
                self.stack.pop();
            }
            KeyCode::Char('h') | KeyCode::Char('H') => self.modal = Some(Modal::Help),
            KeyCode::Char(' ') => self.toggle_current(i),
            KeyCode::Enter | KeyCode::Right => self.edit_current(i),
            KeyCode::Char('s') | KeyCode::Char('S') => self.save(i),
            KeyCode::Char('g') | KeyCode::Char('G') => self.ask_output(i),
            _ => {}
        }
    }

    /// Space: flips a toggle, steps a choice to its next value.
    fn toggle_current(&mut self, i: usize) {
        let Some(spec) = self.scenarios[i].current().cloned() else {
            return;
        };
        let sc = &mut self.scenarios[i];
        let result = match spec.kind {
            OptionKind::Toggle => sc.set.toggle(&spec.name).map(|on| {
                format!(
                    "{} {}",
                    spec.name,
                    if on { "switched on" } else { "switched off" }
                )
            }),
            OptionKind::Choice => {
                let cur = sc
                    .set
                    .get(&spec.name)
                    .map(Value::display)
                    .unwrap_or_default();
                let pos = spec.choices.iter().position(|c| *c == cur).unwrap_or(0);
                let next = &spec.choices[(pos + 1) % spec.choices.len()];
                sc.set
                    .set(&spec.name, next)
                    .map(|_| format!("{} = {next}", spec.name))
            }
            _ => {
                self.edit_current(i);
                return;
            }
        };
        match result {
            Ok(msg) => {
                self.scenarios[i].message = Some((true, msg));
                self.changed(i);
            }
            Err(e) => self.scenarios[i].message = Some((false, format!("Refused: {e}"))),
        }
    }

    /// Enter: toggles a toggle, opens the editor for a value.
    fn edit_current(&mut self, i: usize) {
        let Some(spec) = self.scenarios[i].current().cloned() else {
            return;
        };
        if matches!(spec.kind, OptionKind::Toggle | OptionKind::Choice) {
            self.toggle_current(i);
            return;
        }
        let cur = self.scenarios[i]
            .set
            .get(&spec.name)
            .map(Value::display)
            .unwrap_or_default();
        self.modal = Some(Modal::Prompt {
            label: format!("{} ({})", spec.name, spec.kind.label()),
            input: Input::new(&cur),
            error: None,
            purpose: PromptFor::Value(spec.name.clone()),
        });
    }

    fn prompt_done(&mut self, label: String, input: Input, purpose: PromptFor) {
        let Some(i) = self.current_scenario() else {
            return;
        };
        match purpose {
            PromptFor::Value(key) => match self.scenarios[i].set.set(&key, &input.text) {
                Ok(()) => {
                    self.scenarios[i].message =
                        Some((true, format!("{key} = {}", input.text.trim())));
                    self.changed(i);
                }
                Err(e) => {
                    self.modal = Some(Modal::Prompt {
                        label,
                        input,
                        error: Some(e.to_string()),
                        purpose: PromptFor::Value(key),
                    })
                }
            },
            PromptFor::OutputFile => {
                let path = PathBuf::from(input.text.trim());
                if input.text.trim().is_empty() {
                    self.modal = Some(Modal::Prompt {
                        label,
                        input,
                        error: Some("enter a file name".into()),
                        purpose: PromptFor::OutputFile,
                    });
                } else if path.exists() {
                    self.modal = Some(Modal::Confirm {
                        question: format!("{} exists. Overwrite it ? [y/n]", path.display()),
                        on_yes: Confirm::Overwrite(path),
                    });
                } else {
                    self.generate(i, &path);
                }
            }
        }
    }

    fn ask_output(&mut self, i: usize) {
        let out = self.scenarios[i].output.display().to_string();
        self.modal = Some(Modal::Prompt {
            label: format!("Generate {} to file", self.scenarios[i].title()),
            input: Input::new(&out),
            error: None,
            purpose: PromptFor::OutputFile,
        });
    }

    /// Saves the option set beside the scenario's output script.
    fn save(&mut self, i: usize) {
        let sc = &mut self.scenarios[i];
        let path = optionfile::options_path(&sc.output);
        let msg = match optionfile::save(&sc.set, &path) {
            Ok(()) => {
                sc.saved = sc.set.clone();
                format!(
                    "Script configurations saved for {} in {}.\nPress any key to continue !",
                    sc.title(),
                    path.display()
                )
            }
            Err(e) => format!("Not saved: {e}\nPress any key to continue !"),
        };
        self.modal = Some(Modal::Notice(msg));
    }

    /// Writes the script (when it passes the check, or the check cannot run) and its option set.
    fn generate(&mut self, i: usize, path: &Path) {
        self.refresh(i);
        let sc = &mut self.scenarios[i];
        let script = match &sc.script {
            Ok(s) => s.clone(),
            Err(e) => {
                self.modal = Some(Modal::Notice(format!(
                    "Config not generated: {e}\nPress any key to continue !"
                )));
                return;
            }
        };
        if let Some(r) = sc.report.as_ref().filter(|r| !r.passed()) {
            let errs: Vec<String> = r.errors().iter().take(5).map(ToString::to_string).collect();
            self.modal = Some(Modal::Notice(format!(
                "Config not generated: {} does not pass the check:\n{}\nPress any key to continue !",
                path.display(),
                errs.join("\n")
            )));
            return;
        }
        let opts = optionfile::options_path(path);
        let written = std::fs::write(path, &script)
            .map_err(|e| format!("{}: {e}", path.display()))
            .and_then(|()| optionfile::save(&sc.set, &opts).map_err(|e| e.to_string()));
        let msg = match written {
            Ok(()) => {
                sc.output = path.to_path_buf();
                sc.saved = sc.set.clone();
                let check = sc
                    .report
                    .as_ref()
                    .map(CheckReport::summary)
                    .unwrap_or_default();
                format!(
                    "Config generated : {} = SUCCESS\nOptions saved in {}\n{check}\nPress any key to continue !",
                    path.display(),
                    opts.display()
                )
            }
            Err(e) => format!(
                "Config generated : {} = FAILED ({e})\nPress any key to continue !",
                path.display()
            ),
        };
        self.modal = Some(Modal::Notice(msg));
    }

    fn exit_and_save(&mut self) {
        let mut failed = Vec::new();
        for sc in &mut self.scenarios {
            if sc.unsaved() {
                let path = optionfile::options_path(&sc.output);
                match optionfile::save(&sc.set, &path) {
                    Ok(()) => sc.saved = sc.set.clone(),
                    Err(e) => failed.push(e.to_string()),
                }
            }
        }
        if failed.is_empty() {
            self.quit = true;
        } else {
            self.modal = Some(Modal::Notice(format!("Not saved:\n{}", failed.join("\n"))));
        }
    }
}
