//! The one-line text editor of the TUI's value fields and file-name prompt.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A line editor for value fields and file names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub text: String,
    /// Cursor position in characters.
    pub cursor: usize,
}

impl Input {
    pub fn new(text: &str) -> Self {
        Input {
            text: text.to_string(),
            cursor: text.chars().count(),
        }
    }

    fn byte(&self, c: usize) -> usize {
        self.text
            .char_indices()
            .nth(c)
            .map_or(self.text.len(), |(b, _)| b)
    }

    /// Applies an editing key; false if the key is not an editing key.
    pub fn edit(&mut self, key: KeyEvent) -> bool {
        match key.code {
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                let b = self.byte(self.cursor);
                self.text.insert(b, c);
                self.cursor += 1;
            }
            KeyCode::Char('u') => {
                self.text.clear();
                self.cursor = 0;
            }
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                let b = self.byte(self.cursor);
                self.text.remove(b);
            }
            KeyCode::Delete if self.cursor < self.text.chars().count() => {
                let b = self.byte(self.cursor);
                self.text.remove(b);
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(self.text.chars().count()),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = self.text.chars().count(),
            KeyCode::Backspace | KeyCode::Delete => {}
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn edits_at_the_cursor_with_multibyte_text() {
        let mut i = Input::new("sip:é@h");
        assert_eq!(i.cursor, 7);
        i.edit(key(KeyCode::Home));
        i.edit(key(KeyCode::Right));
        i.edit(key(KeyCode::Char('s')));
        assert_eq!(i.text, "ssip:é@h");
        i.edit(key(KeyCode::End));
        i.edit(key(KeyCode::Left));
        i.edit(key(KeyCode::Left));
        i.edit(key(KeyCode::Backspace));
        assert_eq!(i.text, "ssip:@h");
        i.edit(key(KeyCode::Delete));
        assert_eq!(i.text, "ssip:h");
        assert!(!i.edit(key(KeyCode::Enter)));
        i.edit(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        assert_eq!((i.text.as_str(), i.cursor), ("", 0));
        i.edit(key(KeyCode::Backspace));
        i.edit(key(KeyCode::Delete));
        assert_eq!(i.cursor, 0);
    }
}
