//! The routing data of one partition: gateways (`dr_gateways`), carriers (`dr_carriers`), rules
//! (`dr_rules`) indexed by prefix, and the user → group map (`dr_groups`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::modules::dispatcher::set::Dest;

/// Gateway / carrier state, as in the `state` column: 0 active, 1 inactive, 2 probing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GwState {
    Active = 0,
    Inactive = 1,
    Probing = 2,
}

impl GwState {
    pub fn from_db(v: i64) -> GwState {
        match v {
            1 => GwState::Inactive,
            2 => GwState::Probing,
            _ => GwState::Active,
        }
    }

    fn from_u8(v: u8) -> GwState {
        GwState::from_db(v as i64)
    }

    pub fn name(self) -> &'static str {
        match self {
            GwState::Active => "Active",
            GwState::Inactive => "Inactive",
            GwState::Probing => "Probing",
        }
    }
}

/// One row of `dr_gateways`.
#[derive(Debug)]
pub struct Gateway {
    pub id: String,
    pub gw_type: i32,
    /// `address` as written (`127.0.0.2:5060`, `sip:host;transport=tcp`).
    pub address: String,
    /// Parsed address (host, port, resolved addresses).
    pub dest: Dest,
    /// The address gave a port: `is_from_gw` then matches it too.
    pub explicit_port: bool,
    pub strip: usize,
    pub pri_prefix: String,
    pub attrs: String,
    pub probe_mode: i64,
    pub socket: Option<String>,
    pub description: String,
    state: AtomicU8,
}

impl Gateway {
    pub fn state(&self) -> GwState {
        GwState::from_u8(self.state.load(Ordering::Relaxed))
    }

    pub fn set_state(&self, s: GwState) -> GwState {
        GwState::from_u8(self.state.swap(s as u8, Ordering::Relaxed))
    }

    pub fn is_active(&self) -> bool {
        self.state() == GwState::Active
    }

    /// Whether a packet from `ip:port` comes from this gateway.
    pub fn matches(&self, ip: IpAddr, port: u16, ignore_port: bool) -> bool {
        let port = if ignore_port || !self.explicit_port {
            0
        } else {
            port
        };
        self.dest.matches(ip, port)
    }

    /// The host[:port] part the Request-URI gets, with the URI parameters of the address.
    pub fn hostport(&self) -> String {
        let a = self.address.trim();
        let a = a
            .strip_prefix("sips:")
            .or_else(|| a.strip_prefix("sip:"))
            .unwrap_or(a);
        a.rsplit_once('@').map(|(_, h)| h).unwrap_or(a).to_string()
    }
}

/// A gateway list entry: a gateway or a carrier (`#id`), with its weight.
#[derive(Debug, Clone, PartialEq)]
pub enum Dst {
    Gw(String, u32),
    Carrier(String, u32),
}

/// `gw1=10,#cr1;gw2` → entries (`,` and `;` both separate; weight 1 by default).
pub fn parse_gwlist(text: &str) -> Result<Vec<Dst>, String> {
    let mut out = Vec::new();
    for item in text
        .split([',', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let (name, weight) = match item.split_once('=') {
            Some((n, w)) => {
                let w: u32 = w
                    .trim()
                    .parse()
                    .map_err(|_| format!("gwlist `{text}`: weight `{w}` is not a number"))?;
                (n.trim(), w)
            }
            None => (item, 1),
        };
        if let Some(c) = name.strip_prefix('#') {
            if c.is_empty() {
                return Err(format!("gwlist `{text}`: empty carrier id"));
            }
            out.push(Dst::Carrier(c.to_string(), weight));
        } else {
            out.push(Dst::Gw(name.to_string(), weight));
        }
    }
    Ok(out)
}

/// One row of `dr_carriers`.
#[derive(Debug)]
pub struct Carrier {
    pub id: String,
    pub gws: Vec<Dst>,
    /// 0x1: only the first usable gateway is used (no failover inside the carrier).
    pub flags: i64,
    pub sort_alg: char,
    pub attrs: String,
    pub description: String,
    state: AtomicU8,
}

impl Carrier {
    pub fn state(&self) -> GwState {
        GwState::from_u8(self.state.load(Ordering::Relaxed))
    }

    pub fn set_state(&self, s: GwState) -> GwState {
        GwState::from_u8(self.state.swap(s as u8, Ordering::Relaxed))
    }
}

/// One row of `dr_rules` (for one of its groups).
#[derive(Debug)]
pub struct Rule {
    pub id: i64,
    pub prefix: String,
    pub timerec: String,
    /// The parsed `timerec` (None: always).
    pub rec: Option<super::timerec::TimeRec>,
    pub priority: i32,
    /// `routeid`: the script route run when the rule is taken ("" none; a name the script
    /// lacks is dropped at load with a warning, as OpenSIPS does).
    pub route_id: String,
    pub gws: Vec<Dst>,
    pub sort_alg: char,
    pub attrs: String,
}

pub struct GwRow {
    pub gwid: String,
    pub gw_type: i64,
    pub address: String,
    pub strip: i64,
    pub pri_prefix: Option<String>,
    pub attrs: Option<String>,
    pub probe_mode: i64,
    pub state: i64,
    pub socket: Option<String>,
    pub description: Option<String>,
}

#[cfg(test)]
impl GwRow {
    /// An active gateway row with nothing but its id and address.
    pub fn plain(id: &str, address: &str) -> GwRow {
        GwRow {
            gwid: id.into(),
            gw_type: 0,
            address: address.into(),
            strip: 0,
            pri_prefix: None,
            attrs: None,
            probe_mode: 0,
            state: 0,
            socket: None,
            description: None,
        }
    }
}

pub struct CarrierRow {
    pub carrierid: String,
    pub gwlist: String,
    pub flags: i64,
    pub sort_alg: Option<String>,
    pub state: i64,
    pub attrs: Option<String>,
    pub description: Option<String>,
}

pub struct RuleRow {
    pub ruleid: i64,
    pub groupid: String,
    pub prefix: String,
    pub timerec: Option<String>,
    pub priority: i64,
    pub routeid: Option<String>,
    pub gwlist: Option<String>,
    pub sort_alg: Option<String>,
    pub attrs: Option<String>,
}

/// Everything `do_routing` looks at; replaced whole on reload.
#[derive(Debug, Default)]
pub struct RoutingData {
    pub gateways: Vec<Arc<Gateway>>,
    pub carriers: Vec<Arc<Carrier>>,
    /// group → prefix → rules by descending priority.
    pub rules: HashMap<i32, HashMap<String, Vec<Arc<Rule>>>>,
    /// (username, domain) → group.
    pub groups: HashMap<(String, String), i32>,
    /// ruleid → rule (a rule fallback in `use_next_gw` finds the next rule's route and attrs).
    pub by_id: HashMap<i64, Arc<Rule>>,
}

/// `sort_alg` of a rule or carrier list: `N` as listed, `W` by weight, `Q` by quality.
fn sort_alg(s: Option<&str>) -> char {
    s.and_then(|s| s.trim().chars().next())
        .map(|c| c.to_ascii_uppercase())
        .unwrap_or('N')
}

impl RoutingData {
    /// Builds the data from table rows; a bad row is an error naming it (OpenSIPS refuses the
    /// whole load too).
    pub fn build(
        gws: Vec<GwRow>,
        carriers: Vec<CarrierRow>,
        rules: Vec<RuleRow>,
        groups: Vec<(String, String, i64)>,
    ) -> Result<RoutingData, String> {
        let mut d = RoutingData::default();
        for r in gws {
            let addr = r.address.trim();
            let uri = if addr.starts_with("sip:") || addr.starts_with("sips:") {
                addr.to_string()
            } else {
                format!("sip:{addr}")
            };
            let dest = Dest::new(&uri).map_err(|e| format!("dr_gateways `{}`: {e}", r.gwid))?;
            let explicit_port = crate::sip::Uri::parse(uri.as_bytes())
                .map(|u| u.port.is_some())
                .unwrap_or(false);
            if d.gateway(&r.gwid).is_some() {
                return Err(format!("dr_gateways: gwid `{}` appears twice", r.gwid));
            }
            d.gateways.push(Arc::new(Gateway {
                id: r.gwid,
                gw_type: r.gw_type as i32,
                address: addr.to_string(),
                dest,
                explicit_port,
                strip: r.strip.max(0) as usize,
                pri_prefix: r.pri_prefix.unwrap_or_default(),
                attrs: r.attrs.unwrap_or_default(),
                probe_mode: r.probe_mode,
                socket: r.socket.filter(|s| !s.trim().is_empty()),
                description: r.description.unwrap_or_default(),
                state: AtomicU8::new(GwState::from_db(r.state) as u8),
            }));
        }
        for r in carriers {
            let gws = parse_gwlist(&r.gwlist)
                .map_err(|e| format!("dr_carriers `{}`: {e}", r.carrierid))?;
            for g in &gws {
                match g {
                    Dst::Gw(id, _) if d.gateway(id).is_none() => {
                        return Err(format!(
                            "dr_carriers `{}`: unknown gateway `{id}`",
                            r.carrierid
                        ));
                    }
                    Dst::Carrier(..) => {
                        return Err(format!(
                            "dr_carriers `{}`: a carrier cannot list carriers",
                            r.carrierid
                        ));
                    }
                    _ => {}
                }
            }
            d.carriers.push(Arc::new(Carrier {
                id: r.carrierid,
                gws,
                flags: r.flags,
                sort_alg: sort_alg(r.sort_alg.as_deref()),
                attrs: r.attrs.unwrap_or_default(),
                description: r.description.unwrap_or_default(),
                state: AtomicU8::new(GwState::from_db(r.state) as u8),
            }));
        }
        for r in rules {
            let gws = parse_gwlist(r.gwlist.as_deref().unwrap_or(""))
                .map_err(|e| format!("dr_rules {}: {e}", r.ruleid))?;
            for g in &gws {
                let known = match g {
                    Dst::Gw(id, _) => d.gateway(id).is_some(),
                    Dst::Carrier(id, _) => d.carrier(id).is_some(),
                };
                if !known {
                    return Err(format!("dr_rules {}: unknown destination {g:?}", r.ruleid));
                }
            }
            let timerec = r.timerec.unwrap_or_default().trim().to_string();
            let rec = if timerec.is_empty() {
                None
            } else {
                Some(
                    super::timerec::TimeRec::parse(&timerec)
                        .map_err(|e| format!("dr_rules {} timerec: {e}", r.ruleid))?,
                )
            };
            let rule = Arc::new(Rule {
                id: r.ruleid,
                prefix: r.prefix.trim().to_string(),
                timerec,
                rec,
                priority: r.priority as i32,
                route_id: r.routeid.unwrap_or_default(),
                gws,
                sort_alg: sort_alg(r.sort_alg.as_deref()),
                attrs: r.attrs.unwrap_or_default(),
            });
            d.by_id.insert(rule.id, rule.clone());
            for g in r
                .groupid
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                let g: i32 = g
                    .parse()
                    .map_err(|_| format!("dr_rules {}: group `{g}` is not a number", r.ruleid))?;
                d.rules
                    .entry(g)
                    .or_default()
                    .entry(rule.prefix.clone())
                    .or_default()
                    .push(rule.clone());
            }
        }
        for by_prefix in d.rules.values_mut() {
            for list in by_prefix.values_mut() {
                list.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
            }
        }
        for (user, domain, grp) in groups {
            d.groups.insert((user, domain), grp as i32);
        }
        Ok(d)
    }

    pub fn gateway(&self, id: &str) -> Option<&Arc<Gateway>> {
        self.gateways.iter().find(|g| g.id == id)
    }

    pub fn carrier(&self, id: &str) -> Option<&Arc<Carrier>> {
        self.carriers.iter().find(|c| c.id == id)
    }

    pub fn rule(&self, id: i64) -> Option<&Arc<Rule>> {
        self.by_id.get(&id)
    }

    /// The ids of the rules and carriers whose list is sorted by quality (`Q`).
    pub fn quality_sorted(&self) -> Vec<String> {
        let mut rules: Vec<i64> = self
            .by_id
            .values()
            .filter(|r| r.sort_alg == 'Q')
            .map(|r| r.id)
            .collect();
        rules.sort_unstable();
        let mut out: Vec<String> = rules.iter().map(|id| format!("rule {id}")).collect();
        out.extend(
            self.carriers
                .iter()
                .filter(|c| c.sort_alg == 'Q')
                .map(|c| format!("carrier {}", c.id)),
        );
        out
    }

    /// The rules for `number` in `group`, the longest matching prefix first (only the full
    /// number when `strict`), each prefix's rules by priority; rules whose time recurrence
    /// does not cover `now` are left out.
    pub fn lookup(
        &self,
        group: i32,
        number: &str,
        strict: bool,
        now: super::timerec::LocalSecs,
    ) -> Vec<Arc<Rule>> {
        let Some(by_prefix) = self.rules.get(&group) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let ends: Vec<usize> = (0..=number.len())
            .rev()
            .filter(|&n| number.is_char_boundary(n))
            .collect();
        for n in ends {
            if strict && n != number.len() {
                break;
            }
            if let Some(list) = by_prefix.get(&number[..n]) {
                out.extend(
                    list.iter()
                        .filter(|r| r.rec.as_ref().is_none_or(|t| t.matches(now)))
                        .cloned(),
                );
            }
        }
        out
    }

    /// The group of a caller (`dr_groups`); the domain is "" when `use_domain` is off.
    pub fn group_of(&self, user: &str, domain: &str) -> Option<i32> {
        self.groups
            .get(&(user.to_string(), domain.to_string()))
            .copied()
    }

    /// Carries the gateway and carrier states over from the data this one replaces.
    pub fn inherit_from(&self, old: &RoutingData) {
        for g in &self.gateways {
            if let Some(o) = old.gateway(&g.id) {
                g.set_state(o.state());
            }
        }
        for c in &self.carriers {
            if let Some(o) = old.carrier(&c.id) {
                c.set_state(o.state());
            }
        }
    }
}

/// One gateway a call may try, with the carrier it came through.
#[derive(Debug, Clone)]
pub struct Hop {
    pub gw: Arc<Gateway>,
    pub carrier: Option<Arc<Carrier>>,
}

/// Orders `dsts` by `alg` (OpenSIPS's sort callbacks): `W` draws by weight (a zero weight goes
/// last); `N`, an unknown letter, and `Q` keep the listed order. `Q` is qrouting's sort, which
/// keeps the listed order until it has sampled enough calls; osips samples none.
/// `draw(total)` returns a number in `0..total`.
fn order<T: Clone>(items: &[(T, u32)], alg: char, draw: &mut dyn FnMut(u32) -> u32) -> Vec<T> {
    if alg != 'W' {
        return items.iter().map(|(t, _)| t.clone()).collect();
    }
    let mut left: Vec<(T, u32)> = items.to_vec();
    let mut out = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let total: u32 = left.iter().map(|(_, w)| *w).sum();
        if total == 0 {
            out.extend(left.drain(..).map(|(t, _)| t));
            break;
        }
        let mut r = draw(total);
        let i = left
            .iter()
            .position(|(_, w)| {
                if r < *w {
                    true
                } else {
                    r -= *w;
                    false
                }
            })
            .unwrap_or(0);
        out.push(left.remove(i).0);
    }
    out
}

/// The usable gateways of a rule, in the order they are tried: disabled gateways and carriers
/// are left out, a carrier with flag 0x1 gives only its first usable gateway; `whitelist`
/// (when given) keeps only the gateways / carriers it names.
pub fn hops(
    data: &RoutingData,
    rule: &Rule,
    whitelist: Option<&[String]>,
    draw: &mut dyn FnMut(u32) -> u32,
) -> Vec<Hop> {
    let allowed = |id: &str, carrier: bool| {
        whitelist.is_none_or(|w| {
            w.iter().any(|x| {
                if carrier {
                    x.strip_prefix('#') == Some(id)
                } else {
                    x == id
                }
            })
        })
    };
    let mut out = Vec::new();
    for dst in order(
        &rule
            .gws
            .iter()
            .map(|d| {
                let w = match d {
                    Dst::Gw(_, w) | Dst::Carrier(_, w) => *w,
                };
                (d.clone(), w)
            })
            .collect::<Vec<_>>(),
        rule.sort_alg,
        draw,
    ) {
        match dst {
            Dst::Gw(id, _) => {
                if let Some(g) = data.gateway(&id)
                    && g.is_active()
                    && allowed(&id, false)
                {
                    out.push(Hop {
                        gw: g.clone(),
                        carrier: None,
                    });
                }
            }
            Dst::Carrier(id, _) => {
                let Some(c) = data.carrier(&id) else { continue };
                if c.state() != GwState::Active || !allowed(&id, true) {
                    continue;
                }
                let list: Vec<(String, u32)> = c
                    .gws
                    .iter()
                    .filter_map(|d| match d {
                        Dst::Gw(g, w) => Some((g.clone(), *w)),
                        Dst::Carrier(..) => None,
                    })
                    .collect();
                let mut n = 0;
                for gid in order(&list, c.sort_alg, draw) {
                    if let Some(g) = data.gateway(&gid)
                        && g.is_active()
                    {
                        out.push(Hop {
                            gw: g.clone(),
                            carrier: Some(c.clone()),
                        });
                        n += 1;
                        if c.flags & 0x1 != 0 && n == 1 {
                            break;
                        }
                    }
                }
            }
        }
    }
    out
}

/// The Request-URI towards `gw`: its `strip` digits off the user, its `pri_prefix` in front,
/// and its address as host.
pub fn ruri_for(gw: &Gateway, orig_user: &str) -> String {
    let user: String = orig_user.chars().skip(gw.strip).collect();
    let user = format!("{}{}", gw.pri_prefix, user);
    if user.is_empty() {
        format!("sip:{}", gw.hostport())
    } else {
        format!("sip:{user}@{}", gw.hostport())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gw(id: &str, addr: &str) -> GwRow {
        GwRow::plain(id, addr)
    }

    fn rule(id: i64, group: &str, prefix: &str, prio: i64, gwlist: &str) -> RuleRow {
        RuleRow {
            ruleid: id,
            groupid: group.into(),
            prefix: prefix.into(),
            timerec: None,
            priority: prio,
            routeid: None,
            gwlist: Some(gwlist.into()),
            sort_alg: None,
            attrs: None,
        }
    }

    fn data() -> RoutingData {
        let mut g2 = gw("gw2", "127.0.0.3:5070");
        g2.strip = 2;
        g2.pri_prefix = Some("+".into());
        RoutingData::build(
            vec![gw("gw1", "127.0.0.2"), g2, gw("gw3", "sip:127.0.0.4:5080")],
            vec![CarrierRow {
                carrierid: "cr1".into(),
                gwlist: "gw3,gw1".into(),
                flags: 0,
                sort_alg: None,
                state: 0,
                attrs: None,
                description: None,
            }],
            vec![
                rule(1, "1", "40", 0, "gw1,gw2"),
                rule(2, "1,2", "4021", 0, "gw2"),
                rule(3, "1", "4021", 5, "#cr1"),
                rule(4, "1", "", 0, "gw3"),
            ],
            vec![("alice".into(), "".into(), 2)],
        )
        .unwrap()
    }

    #[test]
    fn gwlist_with_weights_and_carriers() {
        assert_eq!(
            parse_gwlist("gw1=10, #cr1;gw2").unwrap(),
            vec![
                Dst::Gw("gw1".into(), 10),
                Dst::Carrier("cr1".into(), 1),
                Dst::Gw("gw2".into(), 1)
            ]
        );
        assert!(parse_gwlist("gw1=x").unwrap_err().contains("weight"));
        assert!(parse_gwlist("#").is_err());
    }

    #[test]
    fn longest_prefix_then_priority() {
        let d = data();
        let ids: Vec<i64> = d
            .lookup(1, "40215550", false, 0)
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, vec![3, 2, 1, 4]);
        let ids: Vec<i64> = d.lookup(1, "4099", false, 0).iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![1, 4]);
        assert!(d.lookup(1, "4021555", true, 0).is_empty());
        assert_eq!(d.lookup(1, "4021", true, 0)[0].id, 3);
        assert_eq!(d.lookup(2, "40215", false, 0).len(), 1);
        assert!(d.lookup(3, "40215", false, 0).is_empty());
        assert_eq!(d.group_of("alice", ""), Some(2));
    }

    #[test]
    fn a_rule_with_a_time_recurrence_matches_only_inside_it() {
        let mut timed = rule(9, "1", "4021", 50, "gw1");
        timed.timerec = Some("20260101T090000||PT8H|weekly|||MO,TU,WE,TH,FR".into());
        let d = RoutingData::build(
            vec![gw("gw1", "127.0.0.2"), gw("gw2", "127.0.0.3")],
            vec![],
            vec![timed, rule(2, "1", "4021", 0, "gw2")],
            vec![],
        )
        .unwrap();
        let at = |dd: u32, h: i64| {
            super::super::timerec::days_from_civil(2026, 11, dd) * 86_400 + h * 3600
        };
        let ids = |now| {
            d.lookup(1, "4021", true, now)
                .iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(at(27, 12)), vec![9, 2]);
        assert_eq!(ids(at(28, 12)), vec![2]);
        let mut bad = rule(3, "1", "5", 0, "gw1");
        bad.timerec = Some("tomorrow".into());
        let e = RoutingData::build(vec![gw("gw1", "127.0.0.2")], vec![], vec![bad], vec![])
            .unwrap_err();
        assert!(e.contains("dr_rules 3 timerec"), "{e}");
    }

    #[test]
    fn hops_expand_carriers_and_skip_inactive_gateways() {
        let d = data();
        let r = &d.lookup(1, "4021", true, 0)[0];
        let ids = |h: Vec<Hop>| h.iter().map(|h| h.gw.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(hops(&d, r, None, &mut |_| 0)), vec!["gw3", "gw1"]);
        d.gateway("gw3").unwrap().set_state(GwState::Inactive);
        assert_eq!(ids(hops(&d, r, None, &mut |_| 0)), vec!["gw1"]);
        let wl = vec!["gw2".to_string()];
        assert!(hops(&d, r, Some(&wl), &mut |_| 0).is_empty());
        let wl = vec!["#cr1".to_string()];
        assert_eq!(ids(hops(&d, r, Some(&wl), &mut |_| 0)), vec!["gw1"]);
    }

    #[test]
    fn weights_draw_in_proportion() {
        let items = vec![("a", 1u32), ("b", 3), ("z", 0)];
        // A draw of 0 lands on a, 1..3 on b; what is left keeps its own weights.
        assert_eq!(order(&items, 'W', &mut |_| 0), vec!["a", "b", "z"]);
        assert_eq!(order(&items, 'W', &mut |_| 2), vec!["b", "a", "z"]);
        assert_eq!(order(&items, 'N', &mut |_| 2), vec!["a", "b", "z"]);
    }

    #[test]
    fn quality_sorting_keeps_the_listed_order() {
        let items = vec![("a", 1u32), ("b", 3), ("c", 9)];
        assert_eq!(order(&items, 'Q', &mut |_| 5), vec!["a", "b", "c"]);
        let mut q = rule(5, "1", "9", 0, "gw3=1,gw1=50");
        q.sort_alg = Some("q".into());
        let mut w = rule(6, "1", "8", 0, "gw3=1,gw1=50");
        w.sort_alg = Some("W".into());
        let d = RoutingData::build(
            vec![gw("gw1", "127.0.0.2"), gw("gw3", "127.0.0.4")],
            vec![CarrierRow {
                carrierid: "crq".into(),
                gwlist: "gw1".into(),
                flags: 0,
                sort_alg: Some("Q".into()),
                state: 0,
                attrs: None,
                description: None,
            }],
            vec![q, w],
            vec![],
        )
        .unwrap();
        let ids = |r: &Rule| {
            hops(&d, r, None, &mut |_| 10)
                .iter()
                .map(|h| h.gw.id.clone())
                .collect::<Vec<_>>()
        };
        // A draw of 10 out of 51 lands on gw1 when weights count; Q leaves gw3 first.
        assert_eq!(ids(d.rule(5).unwrap()), vec!["gw3", "gw1"]);
        assert_eq!(ids(d.rule(6).unwrap()), vec!["gw1", "gw3"]);
        assert_eq!(d.quality_sorted(), vec!["rule 5", "carrier crq"]);
        assert!(d.rule(7).is_none());
    }

    #[test]
    fn strip_prefix_and_address_make_the_ruri() {
        let d = data();
        assert_eq!(
            ruri_for(d.gateway("gw2").unwrap(), "40215550"),
            "sip:+215550@127.0.0.3:5070"
        );
        assert_eq!(
            ruri_for(d.gateway("gw3").unwrap(), "1"),
            "sip:1@127.0.0.4:5080"
        );
    }

    #[test]
    fn source_matching_honours_the_port_only_when_given() {
        let d = data();
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(d.gateway("gw1").unwrap().matches(ip, 7777, false));
        let ip3: IpAddr = "127.0.0.3".parse().unwrap();
        assert!(d.gateway("gw2").unwrap().matches(ip3, 5070, false));
        assert!(!d.gateway("gw2").unwrap().matches(ip3, 5071, false));
        assert!(d.gateway("gw2").unwrap().matches(ip3, 5071, true));
    }

    #[test]
    fn bad_rows_are_named() {
        let e = RoutingData::build(vec![], vec![], vec![rule(7, "1", "1", 0, "nope")], vec![])
            .unwrap_err();
        assert!(e.contains("dr_rules 7"), "{e}");
        let e =
            RoutingData::build(vec![], vec![], vec![rule(8, "x", "1", 0, "")], vec![]).unwrap_err();
        assert!(e.contains("group `x`"), "{e}");
    }
}
