//! Time recurrences of `dr_rules.timerec` (the RFC 2445 subset OpenSIPS uses):
//! `dtstart|dtend|duration|freq|until|interval|byday|bymonthday|byyearday|byweekno|bymonth`,
//! trailing fields optional. Times are local ("floating"), as in OpenSIPS. `byweekno` and the
//! `&` / `/` / `!` operators of 3.x are refused with an error saying so.

/// Seconds since 1970-01-01 00:00 on the local clock face (no zone, no DST).
pub type LocalSecs = i64;

const DAY: i64 = 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freq {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeRec {
    start: LocalSecs,
    duration: i64,
    freq: Option<Freq>,
    until: Option<LocalSecs>,
    interval: i64,
    /// (ordinal, weekday 0 = Sunday); ordinal 0 = every such day.
    byday: Vec<(i32, u32)>,
    bymonthday: Vec<i32>,
    byyearday: Vec<i32>,
    bymonth: Vec<u32>,
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn weekday(days: i64) -> u32 {
    (days + 4).rem_euclid(7) as u32
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn month_len(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYYYMMDD[THHMMSS[Z]]` → local seconds.
fn parse_datetime(s: &str) -> Result<LocalSecs, String> {
    let s = s.trim().trim_end_matches('Z');
    let (date, time) = s.split_once('T').unwrap_or((s, "000000"));
    let num = |t: &str| -> Result<i64, String> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("`{s}` is not a YYYYMMDDTHHMMSS date"));
        }
        Ok(t.parse().unwrap_or(0))
    };
    if date.len() != 8 || time.len() != 6 {
        return Err(format!("`{s}` is not a YYYYMMDDTHHMMSS date"));
    }
    let (y, m, d) = (num(&date[..4])?, num(&date[4..6])?, num(&date[6..])?);
    let (hh, mm, ss) = (num(&time[..2])?, num(&time[2..4])?, num(&time[4..])?);
    if !(1..=12).contains(&m)
        || d < 1
        || d > month_len(y, m as u32) as i64
        || hh > 23
        || mm > 59
        || ss > 60
    {
        return Err(format!("`{s}` is not a valid date"));
    }
    Ok(days_from_civil(y, m as u32, d as u32) * DAY + hh * 3600 + mm * 60 + ss)
}

/// `P[n]W` or `P[n]D[T[n]H[n]M[n]S]` → seconds.
fn parse_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("`{s}` is not a duration (P1D, PT2H30M, P1W)");
    let body = s.trim().strip_prefix('P').ok_or_else(bad)?;
    let mut total = 0i64;
    let mut n = String::new();
    let mut in_time = false;
    for c in body.chars() {
        match c {
            '0'..='9' => n.push(c),
            'T' if n.is_empty() => in_time = true,
            _ => {
                let v: i64 = n.parse().map_err(|_| bad())?;
                n.clear();
                total += v * match (c, in_time) {
                    ('W', false) => 7 * DAY,
                    ('D', false) => DAY,
                    ('H', true) => 3600,
                    ('M', true) => 60,
                    ('S', true) => 1,
                    _ => return Err(bad()),
                };
            }
        }
    }
    if !n.is_empty() || total <= 0 {
        return Err(bad());
    }
    Ok(total)
}

fn parse_list<T>(s: &str, what: &str, f: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| f(x).ok_or_else(|| format!("{what}: `{x}` is not valid")))
        .collect()
}

fn parse_byday(s: &str) -> Option<(i32, u32)> {
    const DAYS: [&str; 7] = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"];
    let up = s.to_ascii_uppercase();
    let (ord, day) = up.split_at(up.len().checked_sub(2)?);
    let wd = DAYS.iter().position(|d| *d == day)? as u32;
    let ord = match ord {
        "" => 0,
        o => o
            .trim_start_matches('+')
            .parse()
            .ok()
            .filter(|n: &i32| *n != 0)?,
    };
    Some((ord, wd))
}

impl TimeRec {
    pub fn parse(text: &str) -> Result<TimeRec, String> {
        if text.contains(['&', '/', '!']) {
            return Err(format!(
                "`{text}`: the &, / and ! operators are not supported by osips yet"
            ));
        }
        let f: Vec<&str> = text.split('|').map(str::trim).collect();
        let field = |i: usize| f.get(i).copied().filter(|s| !s.is_empty());
        let start = parse_datetime(field(0).ok_or("timerec without dtstart")?)?;
        let duration = match (field(1), field(2)) {
            (_, Some(d)) => parse_duration(d)?,
            (Some(end), None) => {
                let end = parse_datetime(end)?;
                if end <= start {
                    return Err(format!("dtend `{}` is not after dtstart", f[1]));
                }
                end - start
            }
            (None, None) => return Err("timerec needs dtend or duration".into()),
        };
        let freq = match field(3).map(str::to_ascii_lowercase).as_deref() {
            None => None,
            Some("daily") => Some(Freq::Daily),
            Some("weekly") => Some(Freq::Weekly),
            Some("monthly") => Some(Freq::Monthly),
            Some("yearly") => Some(Freq::Yearly),
            Some(o) => {
                return Err(format!(
                    "freq `{o}` is not daily, weekly, monthly or yearly"
                ));
            }
        };
        let until = field(4).map(parse_datetime).transpose()?;
        let interval = match field(5) {
            None => 1,
            Some(i) => i
                .parse()
                .ok()
                .filter(|n: &i64| *n > 0)
                .ok_or_else(|| format!("interval `{i}` is not a positive number"))?,
        };
        if field(9).is_some() {
            return Err("byweekno is not supported by osips yet".into());
        }
        let int_in = |lo: i32, hi: i32| {
            move |x: &str| {
                x.trim_start_matches('+')
                    .parse::<i32>()
                    .ok()
                    .filter(|n| *n != 0 && *n >= lo && *n <= hi)
            }
        };
        Ok(TimeRec {
            start,
            duration,
            freq,
            until,
            interval,
            byday: parse_list(field(6).unwrap_or(""), "byday", parse_byday)?,
            bymonthday: parse_list(field(7).unwrap_or(""), "bymonthday", int_in(-31, 31))?,
            byyearday: parse_list(field(8).unwrap_or(""), "byyearday", int_in(-366, 366))?,
            bymonth: parse_list(field(10).unwrap_or(""), "bymonth", |x| {
                x.parse::<u32>().ok().filter(|m| (1..=12).contains(m))
            })?,
        })
    }

    /// Whether an occurrence starts on day `d` (days since 1970).
    fn occurs_on(&self, d: i64, freq: Freq) -> bool {
        let s = self.start.div_euclid(DAY);
        if d < s {
            return false;
        }
        let (y, m, md) = civil_from_days(d);
        let (sy, sm, smd) = civil_from_days(s);
        let periods = match freq {
            Freq::Daily => d - s,
            // Weeks start on Monday.
            Freq::Weekly => {
                let monday = |x: i64| x - ((weekday(x) + 6) % 7) as i64;
                (monday(d) - monday(s)) / 7
            }
            Freq::Monthly => (y - sy) * 12 + m as i64 - sm as i64,
            Freq::Yearly => y - sy,
        };
        if periods % self.interval != 0 {
            return false;
        }
        if !self.bymonth.is_empty() && !self.bymonth.contains(&m) {
            return false;
        }
        let mlen = month_len(y, m) as i32;
        if !self.bymonthday.is_empty()
            && !self
                .bymonthday
                .iter()
                .any(|&x| x == md as i32 || (x < 0 && mlen + x + 1 == md as i32))
        {
            return false;
        }
        let doy = (d - days_from_civil(y, 1, 1) + 1) as i32;
        let ylen = if is_leap(y) { 366 } else { 365 };
        if !self.byyearday.is_empty()
            && !self
                .byyearday
                .iter()
                .any(|&x| x == doy || (x < 0 && ylen + x + 1 == doy))
        {
            return false;
        }
        if !self.byday.is_empty() {
            let wd = weekday(d);
            // The n-th such weekday of the month (monthly) or year (yearly), from either end.
            let (nth, from_end) = match freq {
                Freq::Yearly if self.bymonth.is_empty() => {
                    ((doy - 1) / 7 + 1, (ylen - doy) / 7 + 1)
                }
                _ => ((md as i32 - 1) / 7 + 1, (mlen - md as i32) / 7 + 1),
            };
            let hit = self.byday.iter().any(|&(ord, day)| {
                day == wd
                    && (ord == 0
                        || matches!(freq, Freq::Daily | Freq::Weekly)
                        || ord == nth
                        || ord == -from_end)
            });
            if !hit {
                return false;
            }
        }
        let by_any = !self.byday.is_empty()
            || !self.bymonthday.is_empty()
            || !self.byyearday.is_empty()
            || !self.bymonth.is_empty();
        if by_any {
            return true;
        }
        // Without BY* parts an occurrence repeats dtstart's weekday / day / date.
        match freq {
            Freq::Daily => true,
            Freq::Weekly => weekday(d) == weekday(s),
            Freq::Monthly => md == smd,
            Freq::Yearly => m == sm && md == smd,
        }
    }

    /// Whether `now` falls inside an occurrence.
    pub fn matches(&self, now: LocalSecs) -> bool {
        if now < self.start || self.until.is_some_and(|u| now > u) {
            return false;
        }
        let Some(freq) = self.freq else {
            return now < self.start + self.duration;
        };
        let tod = self.start.rem_euclid(DAY);
        let today = now.div_euclid(DAY);
        // Occurrences that began on an earlier day may still be running.
        let back = self.duration / DAY + 1;
        (0..=back).any(|k| {
            let d = today - k;
            let begin = d * DAY + tod;
            begin <= now && now < begin + self.duration && self.occurs_on(d, freq)
        })
    }
}

/// The local clock now, as [`LocalSecs`].
pub fn local_now() -> LocalSecs {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let t = secs as libc::time_t;
    // SAFETY: localtime_r only writes the tm we hand it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return secs;
    }
    days_from_civil(
        tm.tm_year as i64 + 1900,
        tm.tm_mon as u32 + 1,
        tm.tm_mday as u32,
    ) * DAY
        + tm.tm_hour as i64 * 3600
        + tm.tm_min as i64 * 60
        + tm.tm_sec as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> LocalSecs {
        parse_datetime(s).unwrap()
    }

    fn m(rec: &str, now: &str) -> bool {
        TimeRec::parse(rec).unwrap().matches(at(now))
    }

    #[test]
    fn calendar_math_round_trips() {
        for d in [-1000, 0, 59, 365, 11_016, 20_000, 30_000] {
            let (y, mo, da) = civil_from_days(d);
            assert_eq!(days_from_civil(y, mo, da), d);
        }
        // 2026-11-27 is a Friday.
        assert_eq!(weekday(days_from_civil(2026, 11, 27)), 5);
        assert_eq!(at("19700102T000100"), DAY + 60);
    }

    #[test]
    fn working_hours_on_weekdays() {
        let rec = "20250101T090000||PT8H|weekly|||MO,TU,WE,TH,FR";
        assert!(m(rec, "20261127T120000")); // Friday noon
        assert!(!m(rec, "20261127T170000")); // Friday 17:00, the end is exclusive
        assert!(!m(rec, "20261127T083000"));
        assert!(!m(rec, "20261128T120000")); // Saturday
        assert!(!m(rec, "20241127T120000")); // before dtstart
    }

    #[test]
    fn one_off_interval_until_and_dtend() {
        assert!(m("20261127T100000|20261127T110000", "20261127T103000"));
        assert!(!m("20261127T100000|20261127T110000", "20261128T103000"));
        // Every second day from the 1st; until bounds it.
        let rec = "20261101T000000||P1D|daily|20261120T000000|2";
        assert!(m(rec, "20261103T120000"));
        assert!(!m(rec, "20261104T120000"));
        assert!(!m(rec, "20261125T120000"));
    }

    #[test]
    fn monthly_and_yearly_parts() {
        // The last Friday of every month, all day.
        let rec = "20250101T000000||P1D|monthly|||-1FR";
        assert!(m(rec, "20261127T235959"));
        assert!(!m(rec, "20261120T120000"));
        // The 1st and the last day of the month.
        let rec = "20250101T000000||P1D|monthly||||1,-1";
        assert!(m(rec, "20260228T100000"));
        assert!(m(rec, "20260301T100000"));
        assert!(!m(rec, "20260227T100000"));
        // December only, yearly; and no BY parts: dtstart's date each year.
        assert!(m("20250101T000000||P1D|yearly|||||||12", "20261225T080000"));
        assert!(!m(
            "20250101T000000||P1D|yearly|||||||12",
            "20261125T080000"
        ));
        assert!(m("20250704T000000||P1D|yearly", "20260704T080000"));
        assert!(!m("20250704T000000||P1D|yearly", "20260705T080000"));
    }

    #[test]
    fn a_night_shift_runs_past_midnight() {
        let rec = "20250106T220000||PT8H|weekly|||MO";
        assert!(m(rec, "20261124T030000")); // Tuesday 03:00, from Monday 22:00
        assert!(!m(rec, "20261125T030000"));
    }

    #[test]
    fn bad_recurrences_are_named() {
        for (rec, want) in [
            ("", "dtstart"),
            ("2026|x", "YYYYMMDD"),
            ("20260231T000000||P1D", "valid date"),
            ("20260101T000000", "dtend or duration"),
            ("20260101T000000||P1X", "duration"),
            ("20260101T000000||P1D|hourly", "freq"),
            ("20260101T000000||P1D|weekly|||XX", "byday"),
            ("20260101T000000||P1D|weekly||0", "interval"),
            ("20260101T000000||P1D|yearly||||||5", "byweekno"),
            ("20260101T000000||P1D&20260101T000000||P1D", "operators"),
        ] {
            let e = TimeRec::parse(rec).unwrap_err();
            assert!(e.contains(want), "{rec}: {e}");
        }
    }
}
