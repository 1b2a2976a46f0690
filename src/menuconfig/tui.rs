//! Runs the TUI on the real terminal. `ratatui::try_init` installs a panic hook that restores the
//! terminal, then enters the alternate screen in raw mode; `restore` is called on every exit path.

use super::app::App;
use super::view;
use crossterm::event;

pub fn run(mut app: App) -> std::io::Result<()> {
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            ratatui::restore();
            return Err(std::io::Error::new(
                e.kind(),
                format!("cannot start the TUI (is this a terminal?): {e}"),
            ));
        }
    };
    let result = (|| -> std::io::Result<()> {
        while !app.quit {
            terminal.draw(|f| view::draw(&app, f))?;
            let ev = event::read()?;
            // On a terminal too small to draw in, only quitting makes sense.
            let size = terminal.size()?;
            if (size.width < view::MIN_WIDTH || size.height < view::MIN_HEIGHT)
                && matches!(&ev, event::Event::Key(k) if k.code == event::KeyCode::Char('q'))
            {
                break;
            }
            app.on_event(ev);
        }
        Ok(())
    })();
    ratatui::restore();
    result
}
