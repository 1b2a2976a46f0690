//! The scenario screen: option list on the left, live script preview on the right, the
//! highlighted option's help, the last refusal, and the check result.

use super::app::{App, ScenarioState};
use super::checker::CheckOutcome;
use super::options::Value;
use super::{OptionKind, OptionSpec};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, List, ListItem, ListState, Paragraph, Wrap};
use std::collections::BTreeSet;

/// Below this width the preview is left out.
pub const PREVIEW_MIN_WIDTH: u16 = 80;

pub fn draw(app: &App, i: usize, f: &mut Frame, area: Rect) {
    let sc = &app.scenarios[i];
    let [main, info, status] = Layout::vertical([
        Constraint::Min(5),
        Constraint::Length(4),
        Constraint::Length(1),
    ])
    .areas(area);
    if area.width >= PREVIEW_MIN_WIDTH {
        let left_w = (area.width * 2 / 5).max(36);
        let [left, right] =
            Layout::horizontal([Constraint::Length(left_w), Constraint::Min(10)]).areas(main);
        draw_options(sc, f, left);
        draw_preview(sc, f, right);
    } else {
        draw_options(sc, f, main);
    }
    draw_info(sc, f, info);
    draw_status(sc, f, status);
}

fn option_line(sc: &ScenarioState, o: &OptionSpec) -> Line<'static> {
    let active = sc.set.is_active(o);
    let value = sc.set.get(&o.name);
    let text = match o.kind {
        OptionKind::Toggle => {
            let on = value.is_some_and(Value::as_bool);
            let mark = if on {
                "[*]"
            } else if active {
                "[ ]"
            } else {
                "[-]"
            };
            format!("{mark} {}", o.name)
        }
        _ => format!(
            "    {}: {}",
            o.name,
            value.map(Value::display).unwrap_or_default()
        ),
    };
    let style = if active || value.is_some_and(Value::as_bool) {
        Style::new()
    } else {
        Style::new().fg(Color::DarkGray)
    };
    Line::styled(text, style)
}

fn draw_options(sc: &ScenarioState, f: &mut Frame, area: Rect) {
    let dirty = if sc.unsaved() { " *" } else { "" };
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(Color::Blue))
        .title(Line::styled(
            format!(" {}{dirty} ", sc.title()),
            Style::new().fg(Color::Green),
        ));
    let items: Vec<ListItem> = sc
        .options()
        .iter()
        .map(|o| ListItem::new(option_line(sc, o)))
        .collect();
    let list = List::new(items)
        .block(block)
        .highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = ListState::default().with_selected(Some(sc.cursor));
    f.render_stateful_widget(list, area, &mut state);
}

fn draw_preview(sc: &ScenarioState, f: &mut Frame, area: Rect) {
    let script = match &sc.script {
        Ok(s) => s.as_str(),
        Err(e) => {
            let p = Paragraph::new(format!("The template does not render:\n{e}"))
                .style(Style::new().fg(Color::Red))
                .wrap(Wrap { trim: false })
                .block(Block::bordered().title(" Preview "));
            f.render_widget(p, area);
            return;
        }
    };
    let error_lines: BTreeSet<usize> = sc
        .report
        .as_ref()
        .map(|r| r.errors().iter().map(|e| e.line).collect())
        .unwrap_or_default();
    let total = script.lines().count();
    let height = area.height.saturating_sub(2) as usize;
    let scroll = sc.preview_scroll.min(total.saturating_sub(height));
    let lines: Vec<Line> = script
        .lines()
        .enumerate()
        .skip(scroll)
        .take(height)
        .map(|(n, l)| {
            let num = Span::styled(format!("{:>4} ", n + 1), Style::new().fg(Color::DarkGray));
            let text = l.replace('\t', "    ");
            let style = if error_lines.contains(&(n + 1)) {
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
            } else {
                Style::new()
            };
            Line::from(vec![num, Span::styled(text, style)])
        })
        .collect();
    let name = sc
        .output
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("script");
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(Color::Blue))
        .title(Line::styled(
            format!(
                " Preview: {name} (lines {}-{} of {total}) ",
                scroll + 1,
                (scroll + height).min(total)
            ),
            Style::new().fg(Color::Green),
        ));
    f.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_info(sc: &ScenarioState, f: &mut Frame, area: Rect) {
    let mut lines = Vec::new();
    if let Some((ok, msg)) = &sc.message {
        let color = if *ok { Color::Cyan } else { Color::Yellow };
        let style = Style::new().fg(color).add_modifier(Modifier::BOLD);
        lines.push(Line::styled(msg.clone(), style));
    }
    if let Some(o) = sc.current() {
        let default = Value::from_toml(o, &o.default)
            .map(|v| v.display())
            .unwrap_or_default();
        let stop = if o.help.ends_with('.') { "" } else { "." };
        let mut about = format!(
            "{} ({}, default {default}): {}{stop}",
            o.name,
            o.kind.label(),
            o.help
        );
        if !o.depends_on.is_empty() {
            let needs: Vec<String> = o
                .depends_on
                .iter()
                .map(|d| d.replace('|', " or "))
                .collect();
            about.push_str(&format!(" Needs {}.", needs.join(" and ")));
        }
        if !o.conflicts_with.is_empty() {
            about.push_str(&format!(" Conflicts with {}.", o.conflicts_with.join(", ")));
        }
        if !o.choices.is_empty() {
            about.push_str(&format!(" Choices: {}.", o.choices.join(", ")));
        }
        lines.push(Line::styled(about, Style::new().fg(Color::Green)));
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
}

fn draw_status(sc: &ScenarioState, f: &mut Frame, area: Rect) {
    let (text, color) = match (&sc.script, &sc.report) {
        (Err(_), _) => ("Check: template error".to_string(), Color::Red),
        (Ok(_), None) => ("Check: not run".to_string(), Color::Yellow),
        (Ok(_), Some(r)) => {
            let color = if !r.passed() {
                Color::Red
            } else if matches!(r.outcome, CheckOutcome::NotImplemented(_)) {
                Color::Yellow
            } else {
                Color::Green
            };
            (format!("Check: {}", r.summary()), color)
        }
    };
    f.render_widget(Paragraph::new(text).style(Style::new().fg(color)), area);
}
