//! Statistics: groups of named counters and gauges, as OpenSIPS's `statistics.c`.
//!
//! A module exports its statistics as data (`&'static [StatDef]`) and registers them once under its
//! group name with [`Stats::register_group`]; it keeps the returned [`StatVar`] handles and updates
//! them on the hot path with a single atomic operation. The MI commands `get_statistics`,
//! `list_statistics`, `reset_statistics` and the Prometheus endpoint read the same values.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

/// How a statistic behaves (OpenSIPS: plain, `STAT_NO_RESET`, `STAT_IS_FUNC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatKind {
    /// Incremental counter; `reset_statistics` sets it back to 0.
    Counter,
    /// Current value (in use, registered…): "non-incremental", never reset.
    Gauge,
}

/// A statistic as a module exports it.
#[derive(Debug, Clone, Copy)]
pub struct StatDef {
    pub name: &'static str,
    pub kind: StatKind,
}

impl StatDef {
    pub const fn counter(name: &'static str) -> Self {
        StatDef {
            name,
            kind: StatKind::Counter,
        }
    }
    pub const fn gauge(name: &'static str) -> Self {
        StatDef {
            name,
            kind: StatKind::Gauge,
        }
    }
}

type StatFn = Box<dyn Fn() -> u64 + Send + Sync>;

/// One registered statistic. Cheap to clone through `Arc`; updates are lock-free.
pub struct StatVar {
    group: String,
    name: String,
    kind: StatKind,
    value: AtomicU64,
    func: Option<StatFn>,
}

impl std::fmt::Debug for StatVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}={}", self.group, self.name, self.get())
    }
}

impl StatVar {
    pub fn group(&self) -> &str {
        &self.group
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn kind(&self) -> StatKind {
        self.kind
    }
    /// Adds one (a single atomic add).
    #[inline]
    pub fn inc(&self) {
        self.value.fetch_add(1, Ordering::Relaxed);
    }
    #[inline]
    pub fn add(&self, n: u64) {
        self.value.fetch_add(n, Ordering::Relaxed);
    }
    /// Subtracts, saturating at 0 (gauges such as `inuse_transactions`).
    #[inline]
    pub fn dec(&self) {
        self.sub(1);
    }
    #[inline]
    pub fn sub(&self, n: u64) {
        let _ = self
            .value
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(n))
            });
    }
    /// Adds a signed amount (script `update_stat`), saturating at 0.
    #[inline]
    pub fn update(&self, delta: i64) {
        if delta >= 0 {
            self.add(delta as u64);
        } else {
            self.sub(delta.unsigned_abs());
        }
    }
    #[inline]
    pub fn set(&self, v: u64) {
        self.value.store(v, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        match &self.func {
            Some(f) => f(),
            None => self.value.load(Ordering::Relaxed),
        }
    }
    /// True when `list_statistics` reports it as "incremental" and reset applies.
    pub fn is_incremental(&self) -> bool {
        self.kind == StatKind::Counter && self.func.is_none()
    }
    /// Resets an incremental statistic; gauges and computed values are left alone (as OpenSIPS).
    pub fn reset(&self) {
        if self.is_incremental() {
            self.value.store(0, Ordering::Relaxed);
        }
    }
}

struct Group {
    name: String,
    stats: Vec<Arc<StatVar>>,
}

/// The statistics registry (OpenSIPS's stats collector).
#[derive(Default)]
pub struct Stats {
    groups: RwLock<Vec<Group>>,
}

/// Group used by statistics created at run time without a group (`update_stat("name", …)`).
pub const DYNAMIC_GROUP: &str = "dynamic";

impl Stats {
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry holding the core and net groups, as OpenSIPS starts with.
    pub fn with_core() -> (Arc<Self>, CoreStats) {
        let stats = Arc::new(Self::new());
        let core = CoreStats::register(&stats);
        (stats, core)
    }

    /// Registers a module's exported statistics under `group`; returns one handle per definition,
    /// in order. Registering a name twice returns the existing statistic.
    pub fn register_group(&self, group: &str, defs: &[StatDef]) -> Vec<Arc<StatVar>> {
        defs.iter()
            .map(|d| self.register(group, d.name, d.kind))
            .collect()
    }

    /// Registers (or finds) one statistic.
    pub fn register(&self, group: &str, name: &str, kind: StatKind) -> Arc<StatVar> {
        self.insert(group, name, kind, None)
    }

    /// Registers a statistic whose value is computed when read (OpenSIPS `STAT_IS_FUNC`).
    pub fn register_fn(
        &self,
        group: &str,
        name: &str,
        f: impl Fn() -> u64 + Send + Sync + 'static,
    ) -> Arc<StatVar> {
        self.insert(group, name, StatKind::Gauge, Some(Box::new(f)))
    }

    fn insert(
        &self,
        group: &str,
        name: &str,
        kind: StatKind,
        func: Option<StatFn>,
    ) -> Arc<StatVar> {
        let mut groups = self.groups.write();
        let gi = match groups
            .iter()
            .position(|g| g.name.eq_ignore_ascii_case(group))
        {
            Some(i) => i,
            None => {
                groups.push(Group {
                    name: group.to_string(),
                    stats: Vec::new(),
                });
                groups.len() - 1
            }
        };
        let g = &mut groups[gi];
        if let Some(s) = g.stats.iter().find(|s| s.name.eq_ignore_ascii_case(name)) {
            return s.clone();
        }
        let var = Arc::new(StatVar {
            group: g.name.clone(),
            name: name.to_string(),
            kind,
            value: AtomicU64::new(0),
            func,
        });
        g.stats.push(var.clone());
        var
    }

    /// Finds a statistic by name (case-insensitive, any group), as `get_stat()`; a `group:name`
    /// form is also accepted.
    pub fn get(&self, name: &str) -> Option<Arc<StatVar>> {
        let groups = self.groups.read();
        if let Some((g, n)) = name.split_once(':')
            && !n.is_empty()
            && let Some(grp) = groups.iter().find(|x| x.name.eq_ignore_ascii_case(g))
        {
            return grp
                .stats
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(n))
                .cloned();
        }
        groups
            .iter()
            .flat_map(|g| g.stats.iter())
            .find(|s| s.name.eq_ignore_ascii_case(name))
            .cloned()
    }

    /// Finds or creates a statistic at run time (script `update_stat`): `group:name` or `name`
    /// (then in the "dynamic" group).
    pub fn get_or_create(&self, name: &str) -> Arc<StatVar> {
        if let Some(s) = self.get(name) {
            return s;
        }
        match name.split_once(':') {
            Some((g, n)) if !g.is_empty() && !n.is_empty() => {
                self.register(g, n, StatKind::Counter)
            }
            _ => self.register(DYNAMIC_GROUP, name, StatKind::Counter),
        }
    }

    /// The statistics of one group, in registration order.
    pub fn group(&self, group: &str) -> Option<Vec<Arc<StatVar>>> {
        let groups = self.groups.read();
        groups
            .iter()
            .find(|g| g.name.eq_ignore_ascii_case(group))
            .map(|g| g.stats.clone())
    }

    /// Every statistic, grouped, in registration order.
    pub fn all(&self) -> Vec<Arc<StatVar>> {
        let groups = self.groups.read();
        groups
            .iter()
            .flat_map(|g| g.stats.iter().cloned())
            .collect()
    }

    pub fn group_names(&self) -> Vec<String> {
        self.groups.read().iter().map(|g| g.name.clone()).collect()
    }

    /// Resolves `get_statistics` selectors (`all`, `group:`, `name`) to statistics, keeping
    /// order and skipping unknown names. Returns `None` when nothing matched.
    pub fn select(&self, selectors: &[String], allow_all: bool) -> Option<Vec<Arc<StatVar>>> {
        let mut found = false;
        let mut out: Vec<Arc<StatVar>> = Vec::new();
        for sel in selectors {
            let picked: Vec<Arc<StatVar>> = if allow_all && sel == "all" {
                self.all()
            } else if sel.len() > 1 && sel.ends_with(':') {
                match self.group(&sel[..sel.len() - 1]) {
                    Some(v) => v,
                    None => continue,
                }
            } else {
                match self.get(sel) {
                    Some(s) => vec![s],
                    None => continue,
                }
            };
            found = true;
            for s in picked {
                if !out.iter().any(|o| Arc::ptr_eq(o, &s)) {
                    out.push(s);
                }
            }
        }
        found.then_some(out)
    }

    /// Prometheus text exposition (version 0.0.4) with the default [`PromFormat`]
    /// (`opensips_<group>_<name>`).
    pub fn prometheus_text(&self) -> String {
        self.prometheus_text_with(&PromFormat::default())
    }

    /// Prometheus text of the selected statistics: `counter` for incremental statistics,
    /// `gauge` for the others.
    pub fn prometheus_text_with(&self, fmt: &PromFormat) -> String {
        let stats = if fmt.statistics.is_empty() {
            self.all()
        } else {
            self.select(&fmt.statistics, true).unwrap_or_default()
        };
        let mut out = String::new();
        let mut typed: Vec<String> = Vec::new();
        for s in stats {
            let metric = fmt.metric_name(&s.group, &s.name);
            if !typed.contains(&metric) {
                let ty = if s.is_incremental() {
                    "counter"
                } else {
                    "gauge"
                };
                let _ = writeln!(out, "# TYPE {metric} {ty}");
                typed.push(metric.clone());
            }
            match fmt.group_mode {
                PromGroupMode::Label => {
                    let _ = writeln!(
                        out,
                        "{metric}{{{}=\"{}\"}} {}",
                        fmt.group_label,
                        s.group,
                        s.get()
                    );
                }
                _ => {
                    let _ = writeln!(out, "{metric} {}", s.get());
                }
            }
        }
        out
    }
}

/// Where the group goes in a metric (prometheus module `group_mode` 0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromGroupMode {
    /// `opensips_rcv_requests` (OpenSIPS's default; names may clash across groups).
    None,
    /// `opensips_core_rcv_requests` (osips's default).
    Name,
    /// `opensips_rcv_requests{group="core"}`.
    Label,
}

/// Naming of the Prometheus metrics (prometheus module modparams `prefix`, `delimiter`,
/// `group_prefix`, `group_mode`, `group_label`, `statistics`).
#[derive(Debug, Clone)]
pub struct PromFormat {
    pub prefix: String,
    pub delimiter: String,
    pub group_prefix: String,
    pub group_mode: PromGroupMode,
    pub group_label: String,
    /// `get_statistics`-style selectors; empty = every statistic.
    pub statistics: Vec<String>,
}

impl Default for PromFormat {
    fn default() -> Self {
        PromFormat {
            prefix: "opensips".into(),
            delimiter: "_".into(),
            group_prefix: String::new(),
            group_mode: PromGroupMode::Name,
            group_label: "group".into(),
            statistics: Vec::new(),
        }
    }
}

fn sanitize(out: &mut String, part: &str) {
    for c in part.chars() {
        out.push(if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            c
        } else {
            '_'
        });
    }
}

impl PromFormat {
    /// The metric name of `group:name`; characters Prometheus does not allow become `_`.
    pub fn metric_name(&self, group: &str, name: &str) -> String {
        let mut m = String::with_capacity(16 + group.len() + name.len());
        if !self.prefix.is_empty() {
            sanitize(&mut m, &self.prefix);
            sanitize(&mut m, &self.delimiter);
        }
        if self.group_mode == PromGroupMode::Name {
            if !self.group_prefix.is_empty() {
                sanitize(&mut m, &self.group_prefix);
                sanitize(&mut m, &self.delimiter);
            }
            sanitize(&mut m, group);
            sanitize(&mut m, &self.delimiter);
        }
        sanitize(&mut m, name);
        m
    }
}

/// Metric name with the default format: `opensips_<group>_<name>`.
pub fn prometheus_name(group: &str, name: &str) -> String {
    PromFormat::default().metric_name(group, name)
}

/// The `core:` group of OpenSIPS (`core_stats.c`), in its order.
pub const CORE_STATS: &[StatDef] = &[
    StatDef::counter("rcv_requests"),
    StatDef::counter("rcv_replies"),
    StatDef::counter("fwd_requests"),
    StatDef::counter("fwd_replies"),
    StatDef::counter("drop_requests"),
    StatDef::counter("drop_replies"),
    StatDef::counter("err_requests"),
    StatDef::counter("err_replies"),
    StatDef::counter("bad_URIs_rcvd"),
    StatDef::counter("unsupported_methods"),
    StatDef::counter("bad_msg_hdr"),
    StatDef::counter("slow_messages"),
];

/// The `net:` group (bytes waiting in send queues), computed values set by the transports.
pub const NET_STATS: &[StatDef] = &[
    StatDef::gauge("waiting_udp"),
    StatDef::gauge("waiting_tcp"),
    StatDef::gauge("waiting_tls"),
];

/// tm's statistics (`modules/tm/tm.c`), for its descriptor.
pub const TM_STATS: &[StatDef] = &[
    StatDef::counter("received_replies"),
    StatDef::counter("relayed_replies"),
    StatDef::counter("local_replies"),
    StatDef::counter("UAS_transactions"),
    StatDef::counter("UAC_transactions"),
    StatDef::counter("2xx_transactions"),
    StatDef::counter("3xx_transactions"),
    StatDef::counter("4xx_transactions"),
    StatDef::counter("5xx_transactions"),
    StatDef::counter("6xx_transactions"),
    StatDef::gauge("inuse_transactions"),
];

/// sl's statistics (`modules/sl/sl.c`).
pub const SL_STATS: &[StatDef] = &[
    StatDef::counter("1xx_replies"),
    StatDef::counter("2xx_replies"),
    StatDef::counter("3xx_replies"),
    StatDef::counter("4xx_replies"),
    StatDef::counter("5xx_replies"),
    StatDef::counter("6xx_replies"),
    StatDef::counter("sent_replies"),
    StatDef::counter("sent_err_replies"),
    StatDef::counter("received_ACKs"),
];

/// registrar's statistics (`modules/registrar/reg_mod.c`).
pub const REGISTRAR_STATS: &[StatDef] = &[
    StatDef::gauge("max_expires"),
    StatDef::gauge("max_contacts"),
    StatDef::gauge("default_expire"),
    StatDef::counter("accepted_regs"),
    StatDef::counter("rejected_regs"),
];

/// usrloc's global statistic; per table it adds `<table>-users`, `<table>-contacts` and
/// `<table>-expires` (gauges, registered when the table is created).
pub const USRLOC_STATS: &[StatDef] = &[StatDef::gauge("registered_users")];

/// Handles to the core statistics, for the transport and script layers.
#[derive(Clone, Debug)]
pub struct CoreStats {
    pub rcv_requests: Arc<StatVar>,
    pub rcv_replies: Arc<StatVar>,
    pub fwd_requests: Arc<StatVar>,
    pub fwd_replies: Arc<StatVar>,
    pub drop_requests: Arc<StatVar>,
    pub drop_replies: Arc<StatVar>,
    pub err_requests: Arc<StatVar>,
    pub err_replies: Arc<StatVar>,
    pub bad_uris_rcvd: Arc<StatVar>,
    pub unsupported_methods: Arc<StatVar>,
    pub bad_msg_hdr: Arc<StatVar>,
    pub slow_messages: Arc<StatVar>,
    pub timestamp: Arc<StatVar>,
    pub waiting_udp: Arc<StatVar>,
    pub waiting_tcp: Arc<StatVar>,
    pub waiting_tls: Arc<StatVar>,
}

impl CoreStats {
    /// Registers the `core:` and `net:` groups. `core:timestamp` reads the clock (OpenSIPS's
    /// `get_ticks`: seconds since the registry was created).
    pub fn register(stats: &Stats) -> Self {
        let c = stats.register_group("core", CORE_STATS);
        let started = std::time::Instant::now();
        let timestamp = stats.register_fn("core", "timestamp", move || started.elapsed().as_secs());
        let n = stats.register_group("net", NET_STATS);
        let mut c = c.into_iter();
        let mut n = n.into_iter();
        let mut next = || c.next().expect("CORE_STATS length");
        CoreStats {
            rcv_requests: next(),
            rcv_replies: next(),
            fwd_requests: next(),
            fwd_replies: next(),
            drop_requests: next(),
            drop_replies: next(),
            err_requests: next(),
            err_replies: next(),
            bad_uris_rcvd: next(),
            unsupported_methods: next(),
            bad_msg_hdr: next(),
            slow_messages: next(),
            timestamp,
            waiting_udp: n.next().expect("NET_STATS length"),
            waiting_tcp: n.next().expect("NET_STATS length"),
            waiting_tls: n.next().expect("NET_STATS length"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_group_has_opensips_names_in_order() {
        let (stats, core) = Stats::with_core();
        let names: Vec<String> = stats
            .group("core")
            .unwrap()
            .iter()
            .map(|s| s.name().to_string())
            .collect();
        assert_eq!(names[0], "rcv_requests");
        assert!(names.contains(&"bad_URIs_rcvd".to_string()));
        assert_eq!(names.last().unwrap(), "timestamp");
        core.rcv_requests.inc();
        core.rcv_requests.add(2);
        assert_eq!(stats.get("rcv_requests").unwrap().get(), 3);
        assert_eq!(stats.get("core:RCV_REQUESTS").unwrap().get(), 3);
    }

    #[test]
    fn reset_only_touches_incremental() {
        let stats = Stats::new();
        let v = stats.register_group(
            "tm",
            &[
                StatDef::counter("UAS_transactions"),
                StatDef::gauge("inuse_transactions"),
            ],
        );
        v[0].add(5);
        v[1].add(7);
        v[1].dec();
        v[0].reset();
        v[1].reset();
        assert_eq!(v[0].get(), 0);
        assert_eq!(v[1].get(), 6);
        v[1].sub(100);
        assert_eq!(v[1].get(), 0);
    }

    #[test]
    fn select_all_group_and_name() {
        let (stats, _core) = Stats::with_core();
        stats.register_group("sl", &[StatDef::counter("1xx_replies")]);
        let all = stats.select(&["all".into()], true).unwrap();
        assert_eq!(all.len(), CORE_STATS.len() + 1 + NET_STATS.len() + 1);
        let sl = stats.select(&["sl:".into()], true).unwrap();
        assert_eq!(sl.len(), 1);
        let one = stats
            .select(&["nope".into(), "fwd_replies".into()], true)
            .unwrap();
        assert_eq!(one[0].name(), "fwd_replies");
        assert!(
            stats
                .select(&["nope".into(), "nogroup:".into()], true)
                .is_none()
        );
        assert!(stats.select(&["all".into()], false).is_none());
    }

    #[test]
    fn dynamic_statistics_are_created_on_demand() {
        let stats = Stats::new();
        stats.get_or_create("my_calls").inc();
        stats.get_or_create("custom:hits").add(4);
        stats.get_or_create("custom:hits").update(3);
        stats.get_or_create("custom:hits").update(-2);
        assert_eq!(stats.group(DYNAMIC_GROUP).unwrap()[0].get(), 1);
        assert_eq!(stats.get("custom:hits").unwrap().get(), 5);
    }

    #[test]
    fn prometheus_text_carries_same_figures() {
        let (stats, core) = Stats::with_core();
        core.fwd_requests.add(42);
        let g = stats.register("usrloc", "registered_users", StatKind::Gauge);
        g.set(3);
        let text = stats.prometheus_text();
        assert!(text.contains(
            "# TYPE opensips_core_fwd_requests counter\nopensips_core_fwd_requests 42\n"
        ));
        assert!(text.contains(
            "# TYPE opensips_usrloc_registered_users gauge\nopensips_usrloc_registered_users 3\n"
        ));
        let label = PromFormat {
            group_mode: PromGroupMode::Label,
            statistics: vec!["core:".into()],
            ..PromFormat::default()
        };
        let t = stats.prometheus_text_with(&label);
        assert!(
            t.contains("opensips_fwd_requests{group=\"core\"} 42\n"),
            "{t}"
        );
        assert!(!t.contains("registered_users"));
        let plain = PromFormat {
            group_mode: PromGroupMode::None,
            prefix: "osips".into(),
            ..PromFormat::default()
        };
        assert_eq!(
            plain.metric_name("core", "rcv_requests"),
            "osips_rcv_requests"
        );
        assert_eq!(
            prometheus_name("tm", "2xx-transactions"),
            "opensips_tm_2xx_transactions"
        );
    }
}
