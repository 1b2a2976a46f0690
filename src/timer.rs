//! One timer thread for the whole process, driving a hashed timer wheel (Varghese & Lauck, scheme 6):
//! SIP retransmissions (T1 / T2), final-response timers, wait timers, usrloc's expiry ticks.
//!
//! ```
//! use std::time::Duration;
//! let id = osips::timer::global().schedule(Duration::from_millis(500), Box::new(|| {}));
//! assert!(osips::timer::global().cancel(id)); // false once it has run
//! ```
//!
//! Resolution is one tick ([`TICK`], 10 ms); a timer never fires early. Callbacks run on the timer
//! thread, one after another, outside the wheel's lock: they may schedule or cancel timers, but
//! must not block for long (send a datagram, queue work; no sleeping). A panicking callback is
//! logged and does not stop the thread.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// The wheel's resolution.
pub const TICK: Duration = Duration::from_millis(10);
/// Slots of the wheel: one revolution is `SLOTS * TICK` (10.24 s); longer timers wait rounds.
const SLOTS: usize = 1024;

/// What runs when a timer fires.
pub type TimerFn = Box<dyn FnOnce() + Send>;

/// Names a scheduled timer, for [`Timer::cancel`]. Ids are never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId(u64);

struct Entry {
    due: u64,
    cb: TimerFn,
}

struct Wheel {
    /// Ids per slot (`due % SLOTS`); ids of cancelled timers are skipped when their slot comes.
    slots: Vec<Vec<u64>>,
    entries: HashMap<u64, Entry>,
    /// The last tick processed.
    now: u64,
    next_id: u64,
}

struct Inner {
    wheel: Mutex<Wheel>,
    start: Instant,
    wake: Condvar,
    stop: AtomicBool,
}

/// A timer wheel with its thread. [`global`] is the process's one; tests may make their own.
#[derive(Clone)]
pub struct Timer {
    inner: Arc<Inner>,
}

impl Inner {
    fn tick_of(&self, at: Instant) -> u64 {
        (at.saturating_duration_since(self.start).as_nanos() / TICK.as_nanos()) as u64
    }

    /// Takes the callbacks due up to `tick`, advancing the wheel.
    fn due(&self, tick: u64) -> Vec<TimerFn> {
        let mut out = Vec::new();
        let mut w = self.wheel.lock();
        while w.now < tick {
            w.now += 1;
            let now = w.now;
            let slot = (now as usize) % SLOTS;
            let ids = std::mem::take(&mut w.slots[slot]);
            let mut keep = Vec::new();
            for id in ids {
                match w.entries.get(&id).map(|e| e.due) {
                    Some(due) if due <= now => {
                        if let Some(e) = w.entries.remove(&id) {
                            out.push(e.cb);
                        }
                    }
                    Some(_) => keep.push(id),
                    None => {} // cancelled
                }
            }
            // Whatever was scheduled into this slot meanwhile is kept as well.
            keep.append(&mut w.slots[slot]);
            w.slots[slot] = keep;
        }
        out
    }
}

fn run(weak: Weak<Inner>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        if inner.stop.load(Ordering::Relaxed) {
            return;
        }
        let tick = inner.tick_of(Instant::now());
        for cb in inner.due(tick) {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(cb)).is_err() {
                tracing::error!("a timer callback panicked");
            }
        }
        let next = inner.start + Duration::from_nanos((TICK.as_nanos() as u64) * (tick + 1));
        let mut w = inner.wheel.lock();
        let wait = next.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            inner.wake.wait_for(&mut w, wait);
        }
    }
}

impl Timer {
    /// A new wheel with its own thread (named `timer`); the thread ends when the last handle goes.
    pub fn new() -> Timer {
        let inner = Arc::new(Inner {
            wheel: Mutex::new(Wheel {
                slots: (0..SLOTS).map(|_| Vec::new()).collect(),
                entries: HashMap::new(),
                now: 0,
                next_id: 1,
            }),
            start: Instant::now(),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("timer".into())
            .spawn(move || run(weak))
            .expect("the timer thread starts");
        Timer { inner }
    }

    /// Runs `cb` once, `after` from now (rounded up to the next tick).
    pub fn schedule(&self, after: Duration, cb: TimerFn) -> TimerId {
        let inner = &*self.inner;
        let at = inner.tick_of(Instant::now() + after + TICK - Duration::from_nanos(1));
        let mut w = inner.wheel.lock();
        let due = at.max(w.now + 1);
        let id = w.next_id;
        w.next_id += 1;
        w.slots[(due as usize) % SLOTS].push(id);
        w.entries.insert(id, Entry { due, cb });
        TimerId(id)
    }

    /// Cancels a timer; true when it had not run yet (it never will).
    pub fn cancel(&self, id: TimerId) -> bool {
        self.inner.wheel.lock().entries.remove(&id.0).is_some()
    }

    /// Timers scheduled and not yet run or cancelled.
    pub fn pending(&self) -> usize {
        self.inner.wheel.lock().entries.len()
    }
}

impl Default for Timer {
    fn default() -> Self {
        Timer::new()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.wake.notify_all();
    }
}

/// The process's timer wheel, started on first use.
pub fn global() -> &'static Timer {
    static GLOBAL: OnceLock<Timer> = OnceLock::new();
    GLOBAL.get_or_init(Timer::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn fires_in_order_and_never_early() {
        let t = Timer::new();
        let (tx, rx) = mpsc::channel();
        let start = Instant::now();
        for ms in [120u64, 30, 60] {
            let tx = tx.clone();
            t.schedule(
                Duration::from_millis(ms),
                Box::new(move || tx.send((ms, start.elapsed())).unwrap()),
            );
        }
        let got: Vec<_> = (0..3)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), [30, 60, 120]);
        for (ms, at) in got {
            assert!(at >= Duration::from_millis(ms), "{ms} ms fired at {at:?}");
        }
    }

    #[test]
    fn cancelled_timers_do_not_fire() {
        let t = Timer::new();
        let (tx, rx) = mpsc::channel();
        let tx2 = tx.clone();
        let id = t.schedule(
            Duration::from_millis(20),
            Box::new(move || tx2.send("cancelled").unwrap()),
        );
        t.schedule(
            Duration::from_millis(80),
            Box::new(move || tx.send("kept").unwrap()),
        );
        assert!(t.cancel(id));
        assert!(!t.cancel(id));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "kept");
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
        assert_eq!(t.pending(), 0);
    }

    #[test]
    fn timers_longer_than_one_revolution_wait_their_rounds() {
        let t = Timer::new();
        // Same slot as a 10.24 s timer, one revolution apart: only the short one fires now.
        let (tx, rx) = mpsc::channel();
        let tx2 = tx.clone();
        t.schedule(
            TICK * (SLOTS as u32 + 5),
            Box::new(move || tx2.send("long").unwrap()),
        );
        t.schedule(TICK * 5, Box::new(move || tx.send("short").unwrap()));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "short");
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
        assert_eq!(t.pending(), 1);
    }

    #[test]
    fn callbacks_may_reschedule_and_survive_panics() {
        let t = Timer::new();
        let (tx, rx) = mpsc::channel();
        t.schedule(Duration::from_millis(10), Box::new(|| panic!("boom")));
        let t2 = t.clone();
        t.schedule(
            Duration::from_millis(20),
            Box::new(move || {
                t2.schedule(
                    Duration::from_millis(20),
                    Box::new(move || tx.send(()).unwrap()),
                );
            }),
        );
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
    }
}
