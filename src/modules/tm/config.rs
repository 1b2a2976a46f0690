//! tm modparams (§8.3), read once per compiled script.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use crate::script::Script;
use crate::script::module::ParamValue;

/// The tm settings of one script.
#[derive(Debug, Clone, PartialEq)]
pub struct TmConfig {
    /// Timer B / F: no final reply (and, for INVITE, no provisional) within this.
    pub fr_timeout: Duration,
    /// INVITE after a provisional reply: no final reply within this.
    pub fr_inv_timeout: Duration,
    /// How long a completed transaction stays to absorb retransmissions.
    pub wt_timer: Duration,
    pub t1: Duration,
    pub t2: Duration,
    /// `auto_100trying`: answer INVITE with 100 Trying when the transaction is created.
    pub auto_100trying: bool,
    /// `restart_fr_on_each_reply`: every provisional restarts the INVITE final-response timer.
    pub restart_fr_on_each_reply: bool,
    /// `disable_6xx_block`: a 6xx does not stop the other branches.
    pub disable_6xx_block: bool,
}

impl Default for TmConfig {
    fn default() -> Self {
        TmConfig {
            fr_timeout: Duration::from_secs(30),
            fr_inv_timeout: Duration::from_secs(120),
            wt_timer: Duration::from_secs(5),
            t1: Duration::from_millis(500),
            t2: Duration::from_millis(4000),
            auto_100trying: true,
            restart_fr_on_each_reply: true,
            disable_6xx_block: false,
        }
    }
}

impl TmConfig {
    /// The settings from the script's `modparam("tm", ...)` lines (defaults for the rest;
    /// non-positive values keep the default).
    pub fn from_script(script: &Script) -> TmConfig {
        let mut c = TmConfig::default();
        let Some(mp) = script.modparams.get("tm") else {
            return c;
        };
        let int = |name: &str| match mp.get(name) {
            Some(ParamValue::Int(i)) => Some(*i),
            Some(ParamValue::Str(s)) => s.trim().parse().ok(),
            None => None,
        };
        let secs = |v: Option<i64>, d: Duration| match v {
            Some(s) if s > 0 => Duration::from_secs(s as u64),
            _ => d,
        };
        let ms = |v: Option<i64>, d: Duration| match v {
            Some(s) if s > 0 => Duration::from_millis(s as u64),
            _ => d,
        };
        c.fr_timeout = secs(int("fr_timeout"), c.fr_timeout);
        c.fr_inv_timeout = secs(int("fr_inv_timeout"), c.fr_inv_timeout);
        c.wt_timer = secs(int("wt_timer"), c.wt_timer);
        c.t1 = ms(int("T1_timer"), c.t1);
        c.t2 = ms(int("T2_timer"), c.t2);
        if let Some(v) = int("auto_100trying") {
            c.auto_100trying = v != 0;
        }
        if let Some(v) = int("restart_fr_on_each_reply") {
            c.restart_fr_on_each_reply = v != 0;
        }
        if let Some(v) = int("disable_6xx_block") {
            c.disable_6xx_block = v != 0;
        }
        c
    }

    /// Timer H / J / the RFC 6026 Accepted state: 64 × T1.
    pub fn t1x64(&self) -> Duration {
        self.t1 * 64
    }
}

thread_local! {
    static CACHE: RefCell<Option<(u64, Arc<TmConfig>)>> = const { RefCell::new(None) };
}

/// The settings of `script`, parsed once per thread and script.
pub fn of(script: &Script) -> Arc<TmConfig> {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        match &*c {
            Some((id, cfg)) if *id == script.id => cfg.clone(),
            _ => {
                let cfg = Arc::new(TmConfig::from_script(script));
                *c = Some((script.id, cfg.clone()));
                cfg
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modparams_override_defaults() {
        let checked = crate::script::check_str(
            "t.cfg",
            "loadmodule \"tm.so\"\nmodparam(\"tm\", \"fr_timeout\", 3)\n\
             modparam(\"tm\", \"fr_inv_timeout\", 7)\nmodparam(\"tm\", \"T1_timer\", 100)\n\
             modparam(\"tm\", \"auto_100trying\", 0)\nroute { exit; }\n",
            &crate::script::Registry::builtin(),
        );
        let script = checked.script.expect("compiles");
        let c = TmConfig::from_script(&script);
        assert_eq!(c.fr_timeout, Duration::from_secs(3));
        assert_eq!(c.fr_inv_timeout, Duration::from_secs(7));
        assert_eq!(c.t1, Duration::from_millis(100));
        assert_eq!(c.t2, Duration::from_millis(4000));
        assert!(!c.auto_100trying);
        assert_eq!(c.t1x64(), Duration::from_millis(6400));
    }
}
