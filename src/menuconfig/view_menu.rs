//! Menu screens: the items with OpenSIPS's `--->` marker, and a line about the highlighted one.

use super::app::{App, Screen};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Margin, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Paragraph, Wrap};

pub fn draw(app: &App, screen: Screen, f: &mut Frame, area: Rect) {
    let title = match screen {
        Screen::Main => super::app::MAIN_TITLE.to_string(),
        Screen::Scripts => super::app::SCRIPT_MENU_TITLE.to_string(),
        Screen::Scenario(i) => app.scenarios[i].title().to_string(),
        Screen::Configure(_) => String::new(),
    };
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(Color::Blue))
        .title(Line::styled(
            format!(" {title} "),
            Style::new().fg(Color::Green),
        ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let inner = inner.inner(Margin::new(1, 0));
    let [items_area, about_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(4)]).areas(inner);
    let idx = match screen {
        Screen::Main => 0,
        Screen::Scripts => 1,
        _ => 2,
    };
    let cursor = app.menu_cursor[idx];
    let items = app.menu_items(screen);
    let lines: Vec<Line> = items
        .iter()
        .enumerate()
        .map(|(n, item)| {
            if n == cursor {
                Line::styled(
                    format!("---> {item}"),
                    Style::new().add_modifier(Modifier::BOLD),
                )
            } else {
                Line::raw(format!("     {item}"))
            }
        })
        .collect();
    let top = cursor.saturating_sub(items_area.height.saturating_sub(1) as usize);
    f.render_widget(Paragraph::new(lines).scroll((top as u16, 0)), items_area);
    f.render_widget(
        Paragraph::new(about(app, screen, cursor))
            .style(Style::new().fg(Color::Green))
            .wrap(Wrap { trim: true }),
        about_area,
    );
}

/// What the highlighted item does.
fn about(app: &App, screen: Screen, cursor: usize) -> String {
    match (screen, cursor) {
        (Screen::Main, 0) => "Pick a scenario, switch its features on, fill in addresses, and generate a checked script.".into(),
        (Screen::Main, _) => "Save the option set of every changed scenario beside its script, then exit.".into(),
        (Screen::Scripts, i) => app.scenarios[i].set.catalogue().description.clone(),
        (Screen::Scenario(i), 0) => {
            let sc = &app.scenarios[i];
            let state = if sc.unsaved() { " (unsaved changes)" } else { "" };
            format!("Switch features on and off, edit addresses; the script is previewed and checked as you go{state}.")
        }
        (Screen::Scenario(i), 1) => format!(
            "Save the option set to {}.",
            super::optionfile::options_path(&app.scenarios[i].output).display()
        ),
        (Screen::Scenario(i), _) => {
            let sc = &app.scenarios[i];
            let check = sc.report.as_ref().map(|r| r.summary()).unwrap_or_default();
            format!("Write the script (asks for the file; default {}). {check}", sc.output.display())
        }
        (Screen::Configure(_), _) => String::new(),
    }
}
