//! The destinations of the `load_balancer` table and the choice of the least loaded one.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::modules::dispatcher::set::Dest;

/// One row: a destination with the resources it offers and their capacity.
#[derive(Debug)]
pub struct LbDest {
    pub id: u32,
    pub group: i32,
    pub uri: String,
    /// Parsed URI (host, port, resolved addresses) for `lb_is_destination`.
    pub dest: Dest,
    /// (resource, capacity); the capacity changes with MI `lb_resize`.
    pub resources: Vec<(String, AtomicU32)>,
    pub probe_mode: i64,
    pub attrs: String,
    enabled: AtomicBool,
    /// Disabled through the MI: probing does not enable it again.
    admin_disabled: AtomicBool,
}

impl LbDest {
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Returns the previous value.
    pub fn set_enabled(&self, on: bool) -> bool {
        self.enabled.swap(on, Ordering::Relaxed)
    }

    pub fn admin_disabled(&self) -> bool {
        self.admin_disabled.load(Ordering::Relaxed)
    }

    /// Sets the MI's disabling; what it was before.
    pub fn set_admin_disabled(&self, on: bool) -> bool {
        self.admin_disabled.swap(on, Ordering::Relaxed)
    }

    pub fn capacity(&self, res: &str) -> Option<u32> {
        self.resources
            .iter()
            .find(|(n, _)| n == res)
            .map(|(_, c)| c.load(Ordering::Relaxed))
    }

    /// True when `ip` (and `port`, 0 = any) is this destination's address.
    pub fn matches(&self, ip: IpAddr, port: u16) -> bool {
        self.dest.matches(ip, port)
    }
}

pub struct Row {
    pub id: i64,
    pub group_id: i64,
    pub dst_uri: String,
    pub resources: String,
    pub probe_mode: i64,
    pub attrs: Option<String>,
}

/// `pstn=32;transc=10` → resources; the error names what is wrong.
pub fn parse_resources(text: &str) -> Result<Vec<(String, u32)>, String> {
    let mut out: Vec<(String, u32)> = Vec::new();
    for item in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((name, cap)) = item.split_once('=') else {
            return Err(format!("resource `{item}` has no `=capacity`"));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("resource `{item}` has no name"));
        }
        let cap: u32 = cap.trim().parse().map_err(|_| {
            format!(
                "resource `{name}`: capacity `{}` is not a number",
                cap.trim()
            )
        })?;
        if out.iter().any(|(n, _)| n == name) {
            return Err(format!("resource `{name}` appears twice"));
        }
        out.push((name.to_string(), cap));
    }
    if out.is_empty() {
        return Err(format!("no resources in `{text}`"));
    }
    Ok(out)
}

/// `pstn;transc` (the resources a call needs) → names.
pub fn parse_wanted(text: &str) -> Vec<String> {
    text.split([';', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[derive(Debug, Default)]
pub struct LbData {
    pub dests: Vec<LbDest>,
}

impl LbData {
    /// Builds the destinations; a bad row is an error naming its id.
    pub fn build(rows: Vec<Row>) -> Result<LbData, String> {
        let mut dests = Vec::with_capacity(rows.len());
        for r in rows {
            let res = parse_resources(&r.resources)
                .map_err(|e| format!("load_balancer row {}: {e}", r.id))?;
            let dest =
                Dest::new(&r.dst_uri).map_err(|e| format!("load_balancer row {}: {e}", r.id))?;
            dests.push(LbDest {
                id: r.id as u32,
                group: r.group_id as i32,
                uri: r.dst_uri.trim().to_string(),
                dest,
                resources: res
                    .into_iter()
                    .map(|(n, c)| (n, AtomicU32::new(c)))
                    .collect(),
                probe_mode: r.probe_mode,
                attrs: r.attrs.unwrap_or_default(),
                enabled: AtomicBool::new(true),
                admin_disabled: AtomicBool::new(false),
            });
        }
        Ok(LbData { dests })
    }

    pub fn by_id(&self, id: u32) -> Option<&LbDest> {
        self.dests.iter().find(|d| d.id == id)
    }

    /// Keeps the enabled state and capacities of the destinations still there (same id, URI).
    pub fn inherit_from(&self, old: &LbData) {
        for d in &self.dests {
            if let Some(o) = old.by_id(d.id).filter(|o| o.uri == d.uri) {
                d.set_enabled(o.enabled());
                d.set_admin_disabled(o.admin_disabled());
            }
        }
    }
}

/// `lb_start` flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// `n`: destinations over capacity may still be chosen.
    pub negative: bool,
    /// `r`: availability in percent of the capacity, not in free slots.
    pub relative: bool,
    /// `s`: a random one among equally available destinations.
    pub spread: bool,
}

impl Flags {
    pub fn parse(s: &str) -> Flags {
        Flags {
            negative: s.contains('n'),
            relative: s.contains('r'),
            spread: s.contains('s'),
        }
    }

    pub fn text(self) -> String {
        let mut s = String::new();
        for (on, c) in [
            (self.negative, 'n'),
            (self.relative, 'r'),
            (self.spread, 's'),
        ] {
            if on {
                s.push(c);
            }
        }
        s
    }
}

/// Why no destination was chosen (the script sees these return codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoDest {
    /// -2: destinations fit, none has capacity left.
    NoCapacity = -2,
    /// -3: no enabled destination (left) offers the resources.
    NoDestination = -3,
    /// -4: no destination of the group knows one of the resources.
    BadResources = -4,
}

/// The least loaded destination of `group` offering all of `wanted` (ids in `tried` left
/// out). `load(dest, resource)` is the current load; `pick(n)` chooses among `n` ties.
pub fn select(
    data: &LbData,
    group: i32,
    wanted: &[String],
    flags: Flags,
    tried: &[u32],
    load: &dyn Fn(&LbDest, &str) -> u32,
    pick: &mut dyn FnMut(usize) -> usize,
) -> Result<u32, NoDest> {
    let in_group: Vec<&LbDest> = data.dests.iter().filter(|d| d.group == group).collect();
    if wanted.is_empty()
        || wanted
            .iter()
            .any(|w| !in_group.iter().any(|d| d.capacity(w).is_some()))
    {
        return Err(NoDest::BadResources);
    }
    let mut best: Vec<u32> = Vec::new();
    let mut best_avail = i64::MIN;
    let mut fitting = 0;
    for d in in_group {
        if !d.enabled() || tried.contains(&d.id) {
            continue;
        }
        let mut avail = i64::MAX;
        for w in wanted {
            let Some(cap) = d.capacity(w) else {
                avail = i64::MIN;
                break;
            };
            let free = cap as i64 - load(d, w) as i64;
            let a = if flags.relative {
                if cap == 0 {
                    -100
                } else {
                    free * 100 / cap as i64
                }
            } else {
                free
            };
            avail = avail.min(a);
        }
        if avail == i64::MIN {
            continue;
        }
        fitting += 1;
        if avail <= 0 && !flags.negative {
            continue;
        }
        if avail > best_avail {
            best_avail = avail;
            best.clear();
        }
        if avail == best_avail {
            best.push(d.id);
        }
    }
    if best.is_empty() {
        return Err(if fitting == 0 {
            NoDest::NoDestination
        } else {
            NoDest::NoCapacity
        });
    }
    let i = if flags.spread && best.len() > 1 {
        pick(best.len()).min(best.len() - 1)
    } else {
        0
    };
    Ok(best[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> LbData {
        let row = |id, grp, uri: &str, res: &str| Row {
            id,
            group_id: grp,
            dst_uri: uri.into(),
            resources: res.into(),
            probe_mode: 0,
            attrs: None,
        };
        LbData::build(vec![
            row(1, 1, "sip:127.0.0.2:5060", "pstn=2;transc=10"),
            row(2, 1, "sip:127.0.0.3:5060", "pstn=4"),
            row(3, 2, "sip:127.0.0.4", "vm=5"),
        ])
        .unwrap()
    }

    fn sel(
        d: &LbData,
        wanted: &str,
        flags: &str,
        tried: &[u32],
        loads: &[(u32, u32)],
    ) -> Result<u32, NoDest> {
        let load = |x: &LbDest, _: &str| {
            loads
                .iter()
                .find(|(id, _)| *id == x.id)
                .map(|(_, l)| *l)
                .unwrap_or(0)
        };
        select(
            d,
            1,
            &parse_wanted(wanted),
            Flags::parse(flags),
            tried,
            &load,
            &mut |n| n - 1,
        )
    }

    #[test]
    fn resources_parse_and_bad_ones_are_named() {
        assert_eq!(
            parse_resources("pstn=32; transc=10").unwrap(),
            vec![("pstn".to_string(), 32), ("transc".to_string(), 10)]
        );
        assert!(parse_resources("pstn").unwrap_err().contains("pstn"));
        assert!(parse_resources("pstn=x").unwrap_err().contains("`x`"));
        assert!(parse_resources("a=1;a=2").unwrap_err().contains("twice"));
        assert!(parse_resources("").is_err());
        let e = LbData::build(vec![Row {
            id: 9,
            group_id: 1,
            dst_uri: "sip:127.0.0.2".into(),
            resources: "pstn=".into(),
            probe_mode: 0,
            attrs: None,
        }])
        .unwrap_err();
        assert!(e.contains("row 9"), "{e}");
    }

    #[test]
    fn most_free_slots_win_and_relative_uses_percent() {
        let d = data();
        // Absolute: 2 free on 1, 4 free on 2.
        assert_eq!(sel(&d, "pstn", "", &[], &[]), Ok(2));
        // Relative: 1 of 2 free (50%) against 1 of 4 (25%).
        assert_eq!(sel(&d, "pstn", "r", &[], &[(1, 1), (2, 3)]), Ok(1));
        assert_eq!(sel(&d, "pstn", "", &[], &[(1, 1), (2, 3)]), Ok(1));
        // Only 1 has transc.
        assert_eq!(sel(&d, "pstn;transc", "", &[], &[]), Ok(1));
    }

    #[test]
    fn exhausted_missing_and_unknown_resources() {
        let d = data();
        assert_eq!(
            sel(&d, "pstn", "", &[], &[(1, 2), (2, 4)]),
            Err(NoDest::NoCapacity)
        );
        // Negative availability: the least overloaded one.
        assert_eq!(sel(&d, "pstn", "n", &[], &[(1, 3), (2, 4)]), Ok(2));
        assert_eq!(sel(&d, "vm", "", &[], &[]), Err(NoDest::BadResources));
        assert_eq!(
            sel(&d, "pstn;transc", "", &[1], &[]),
            Err(NoDest::NoDestination)
        );
        d.by_id(2).unwrap().set_enabled(false);
        assert_eq!(sel(&d, "pstn", "", &[1], &[]), Err(NoDest::NoDestination));
        assert_eq!(sel(&d, "pstn", "", &[], &[]), Ok(1));
    }

    #[test]
    fn ties_go_to_the_first_unless_spread() {
        let d = data();
        assert_eq!(sel(&d, "pstn", "", &[], &[(2, 2)]), Ok(1));
        // The test's pick takes the last of the tied ones.
        assert_eq!(sel(&d, "pstn", "s", &[], &[(2, 2)]), Ok(2));
        assert_eq!(Flags::parse("rsx").text(), "rs");
    }
}
