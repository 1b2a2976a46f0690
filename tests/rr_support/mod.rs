//! `osips -f SCRIPT` and sipp processes for the rr, DNS and media end-to-end tests: the
//! launcher and sipp runner of `tests/common` with environment variables and any scenario.
#![allow(dead_code)]

use std::time::Duration;

use super::common;
use common::scenario;
use common::sipp::{Run, Transport};

/// A running `osips` child (the common launcher); stopped with SIGTERM when dropped.
pub struct Osips(common::osips::Osips);

impl Osips {
    /// Writes `script` (`@PORT@` replaced by `port`) and runs it with `env` set.
    pub fn start(script: &str, port: u16, env: &[(&str, String)]) -> Osips {
        Osips(
            common::osips::Osips::script(script)
                .port(port)
                .envs(env)
                .start(),
        )
    }
}

impl std::ops::Deref for Osips {
    type Target = common::osips::Osips;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Osips {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// A sipp process with its scenario directory.
pub struct Sipp(common::sipp::Sipp);

impl Sipp {
    /// Runs sipp on 127.0.0.1:`port` with `scenario` (`-t t1` for TCP, `u1` for UDP), one call,
    /// towards `remote` when given (a UAC).
    pub fn run(what: &str, scenario: &str, port: u16, tcp: bool, remote: Option<String>) -> Sipp {
        let mut run = Run::new(what, scenario)
            .port(port)
            .transport(Transport::tcp(tcp))
            .limit(Duration::from_secs(30));
        if let Some(r) = remote {
            run = run.towards(r);
        }
        Sipp(run.start())
    }

    /// A UAS: started, then given time to bind.
    pub fn uas(what: &str, scenario: &str, port: u16, tcp: bool) -> Sipp {
        let s = Sipp::run(what, scenario, port, tcp, None);
        std::thread::sleep(Duration::from_millis(300));
        s
    }

    /// Waits for sipp to end and fails the test (with sipp's errors and the osips log) unless it passed.
    pub fn done(self, osips: &Osips) {
        self.0.success(&**osips);
    }
}

/// sipp `<ereg>` checks, one per regex, on the whole message; all must match, except those
/// written `!regex`, which must not. sipp's regexes are POSIX extended (no `\n`: use `[[:space:]]`).
pub fn eregs(checks: &[&str]) -> (String, String) {
    scenario::eregs(checks)
}

/// A UAS answering one `method` request with 200 after `checks` (regexes on the whole request).
pub fn uas_once(method: &str, checks: &[&str]) -> String {
    scenario::uas_200(method, checks)
}

/// A UAC sending one request (`request_line`, To `to_params` such as `;tag=x`, and `extra`
/// headers) and expecting `code`. The From tag is `caller1`.
pub fn uac_once(
    request_line: &str,
    method: &str,
    to_params: &str,
    extra: &[&str],
    code: u16,
) -> String {
    let mut headers = vec![
        "From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=caller1".to_string(),
        format!("To: <sip:bob@127.0.0.1>{to_params}"),
        format!("CSeq: 1 {method}"),
        "Max-Forwards: 70".to_string(),
    ];
    headers.extend(extra.iter().map(|h| h.to_string()));
    scenario::uac_request("uac once", request_line, &headers, code, &[])
}

/// One request through `osips`: a UAS on 127.0.0.1:`uas_port` answers it with 200 after
/// `uas_checks`, a UAC sends `request_line` (To `to_params`, `extra` headers) and expects the
/// 200; both must pass. `what` names them in failures.
pub fn relay_once(
    osips: &Osips,
    what: &str,
    uas_port: u16,
    uas_checks: &[&str],
    request_line: &str,
    to_params: &str,
    extra: &[&str],
) {
    let method = request_line.split(' ').next().unwrap_or("MESSAGE");
    let uas = Sipp::uas(
        &format!("UAS for {what}"),
        &uas_once(method, uas_checks),
        uas_port,
        false,
    );
    let uac = Sipp::run(
        &format!("UAC {what}"),
        &uac_once(request_line, method, to_params, extra, 200),
        common::free_udp_port(),
        false,
        Some(format!("127.0.0.1:{}", osips.port)),
    );
    uac.done(osips);
    uas.done(osips);
}
