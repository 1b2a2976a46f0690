//! Dialogs drawn over the screen: help, notices, yes/no questions, the text prompt.

use super::app::{App, Modal};
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Position, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [r] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(r);
    r
}

fn frame<'a>(title: &'a str) -> Block<'a> {
    Block::bordered()
        .border_type(BorderType::Double)
        .border_style(Style::new().fg(Color::Yellow))
        .title(Line::styled(
            format!(" {title} "),
            Style::new().fg(Color::Green),
        ))
}

/// Lines the text takes when wrapped at `width` (enough for sizing a dialog).
fn wrapped_height(text: &str, width: u16) -> u16 {
    let w = width.max(1) as usize;
    text.lines()
        .map(|l| l.chars().count().div_ceil(w).max(1) as u16)
        .sum()
}

pub const HELP: &str = "Navigation:\n\
  UP/DOWN moves the marker; RIGHT or ENTER enters a menu or runs its action;\n\
  LEFT or q goes back (asks first when a scenario has unsaved changes); h shows this help.\n\
Configure screen:\n\
  SPACE toggles a feature ([*] on, [ ] off, [-] needs another feature first) or steps a choice;\n\
  ENTER edits a value; s saves the option set beside the script; g generates the script;\n\
  PgUp/PgDn scroll the preview, e shows the first check error. A change the scenario cannot take is refused with the reason.\n\
Every script is checked before it is written (osips -C and a structural check); an error stops it, a module osips does not implement yet only gets a warning.";

pub fn draw(app: &App, modal: &Modal, f: &mut Frame, area: Rect) {
    let width = area.width.saturating_sub(4).min(100);
    match modal {
        Modal::Help => {
            let mut text = HELP.to_string();
            if !app.rc_files.is_empty() {
                let files: Vec<String> = app
                    .rc_files
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                text.push_str(&format!("\nDefaults read from: {}", files.join(", ")));
            }
            text.push_str("\nPress any key to continue.");
            let h = wrapped_height(&text, width.saturating_sub(2)) + 2;
            let r = centered(area, width, h);
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(text)
                    .wrap(Wrap { trim: false })
                    .block(frame("Help")),
                r,
            );
        }
        Modal::Notice(text) => {
            let h = wrapped_height(text, width.saturating_sub(2)) + 2;
            let r = centered(area, width, h);
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(text.as_str())
                    .wrap(Wrap { trim: false })
                    .block(frame("Notice")),
                r,
            );
        }
        Modal::Confirm { question, .. } => {
            let h = wrapped_height(question, width.saturating_sub(2)) + 2;
            let r = centered(area, width, h);
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(question.as_str())
                    .wrap(Wrap { trim: false })
                    .block(frame("Question")),
                r,
            );
        }
        Modal::Prompt {
            label,
            input,
            error,
            ..
        } => {
            let inner_w = width.saturating_sub(2) as usize;
            let mut lines = vec![Line::raw(label.clone())];
            // keep the cursor in view for long values
            let skip = input.cursor.saturating_sub(inner_w.saturating_sub(2));
            let shown: String = input.text.chars().skip(skip).take(inner_w).collect();
            lines.push(Line::styled(
                shown,
                Style::new().fg(Color::White).bg(Color::DarkGray),
            ));
            if let Some(e) = error {
                lines.push(Line::styled(e.clone(), Style::new().fg(Color::Red)));
            }
            let h = lines.len() as u16
                + 2
                + error
                    .as_ref()
                    .map_or(0, |e| wrapped_height(e, inner_w as u16) - 1);
            let r = centered(area, width, h);
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .block(frame("Edit")),
                r,
            );
            let x = r.x + 1 + (input.cursor - skip) as u16;
            if x < r.x + r.width.saturating_sub(1) {
                f.set_cursor_position(Position::new(x, r.y + 2));
            }
        }
    }
}
