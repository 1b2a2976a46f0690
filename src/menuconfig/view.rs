//! Drawing the TUI: title line, the current screen, the status line, the key footer, and the
//! dialog on top. Pure function of the [`App`] state.

use super::app::{App, Screen};
use super::{view_configure, view_menu, view_modal};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

/// Smallest terminal the screens fit in.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

pub fn draw(app: &App, f: &mut Frame) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "Terminal too small: osipsconfig needs {MIN_WIDTH}x{MIN_HEIGHT}, this one is {}x{}. Enlarge it, or press q to quit.",
            area.width, area.height
        );
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    let [title, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(footer_height(app, area.width)),
    ])
    .areas(area);
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                " osipsconfig ",
                Style::new().add_modifier(Modifier::REVERSED),
            ),
            Span::raw(" "),
            Span::styled(breadcrumb(app, area.width), Style::new().fg(Color::Green)),
        ])),
        title,
    );
    match app.screen() {
        Screen::Configure(i) => view_configure::draw(app, i, f, body),
        s => view_menu::draw(app, s, f, body),
    }
    draw_footer(app, f, footer);
    if let Some(m) = &app.modal {
        view_modal::draw(app, m, f, body);
    }
}

/// The path to the current screen; only its last two steps when the whole is too long.
fn breadcrumb(app: &App, width: u16) -> String {
    let steps: Vec<String> = app
        .stack
        .iter()
        .map(|s| match s {
            Screen::Main => super::app::MAIN_TITLE.to_string(),
            Screen::Scripts => super::app::SCRIPT_MENU_TITLE.to_string(),
            Screen::Scenario(i) => app.scenarios[*i].title().to_string(),
            Screen::Configure(_) => "Configure".to_string(),
        })
        .collect();
    let full = steps.join(" > ");
    if full.chars().count() + 14 <= width as usize || steps.len() <= 2 {
        full
    } else {
        format!("... > {}", steps[steps.len() - 2..].join(" > "))
    }
}

/// The keys of the current screen, as (key, action).
pub fn keys(app: &App) -> Vec<(&'static str, &'static str)> {
    use super::app::Modal;
    match &app.modal {
        Some(Modal::Help) | Some(Modal::Notice(_)) => return vec![("any key", "continue")],
        Some(Modal::Confirm { .. }) => return vec![("y", "yes"), ("n/Esc", "no")],
        Some(Modal::Prompt { .. }) => {
            return vec![
                ("type", "edit"),
                ("←/→ Home End", "move"),
                ("Bksp/Del", "erase"),
                ("Ctrl-U", "clear"),
                ("Enter", "accept"),
                ("Esc", "cancel"),
            ];
        }
        None => {}
    }
    match app.screen() {
        Screen::Configure(_) => vec![
            ("↑/↓", "move"),
            ("Space", "toggle/next choice"),
            ("Enter", "edit value"),
            ("PgUp/PgDn", "scroll preview"),
            ("e", "first error"),
            ("s", "save options"),
            ("g", "generate"),
            ("←/q", "back"),
            ("h", "help"),
        ],
        Screen::Main => vec![
            ("↑/↓", "move"),
            ("→/Enter", "select"),
            ("q", "quit"),
            ("h", "help"),
        ],
        _ => vec![
            ("↑/↓", "move"),
            ("→/Enter", "select"),
            ("←/q", "back"),
            ("h", "help"),
        ],
    }
}

fn footer_line(app: &App) -> Line<'static> {
    let mut spans = Vec::new();
    for (k, a) in keys(app) {
        spans.push(Span::styled(
            k.to_string(),
            Style::new().add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::raw(format!(" {a}  ")));
    }
    Line::from(spans)
}

fn footer_height(app: &App, width: u16) -> u16 {
    let len: usize = keys(app)
        .iter()
        .map(|(k, a)| k.chars().count() + a.chars().count() + 3)
        .sum();
    (len as u16).div_ceil(width.max(1)).clamp(1, 3)
}

fn draw_footer(app: &App, f: &mut Frame, area: Rect) {
    f.render_widget(
        Paragraph::new(footer_line(app))
            .style(Style::new().fg(Color::Black).bg(Color::Gray))
            .wrap(Wrap { trim: true }),
        area,
    );
}
