//! sipp parts of the platform test (tests/platform_e2e.rs): phones that register and call with
//! digest authentication, a phone that answers, and "media servers" that answer OPTIONS probes
//! and INVITEs until killed; plus reading sipp's message trace back. Launchers and databases
//! come from the other support modules.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../common/mod.rs"]
mod common;

/// The SDP a phone on `ip` offers: audio on `port`, with ICE host candidates when `ice`.
pub fn sdp(ip: &str, port: u16, ice: bool) -> String {
    let mut s = format!(
        "v=0\no=- 4711 1 IN IP4 {ip}\ns=-\nc=IN IP4 {ip}\nt=0 0\nm=audio {port} RTP/AVP 0\na=rtpmap:0 PCMU/8000\n"
    );
    if ice {
        s += &format!(
            "a=ice-ufrag:F7gI\na=ice-pwd:x9cml/YzichV2+XlhiMu8g\n\
             a=candidate:1 1 UDP 2130706431 {ip} {port} typ host\n\
             a=candidate:1 2 UDP 2130706430 {ip} {} typ host\n",
            port + 1
        );
    }
    s
}

fn scenario(name: &str, body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"{name}\">\n{body}</scenario>\n"
    )
}

/// REGISTER of `user@domain`: 401, then again with sipp's `-au` / `-ap` credentials, 200.
pub fn register(user: &str, domain: &str) -> String {
    let req = |cseq: u32, auth: &str| {
        format!(
            r#"  <send retrans="500"><![CDATA[
REGISTER sip:{domain} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
From: <sip:{user}@{domain}>;tag=[pid]R[call_number]
To: <sip:{user}@{domain}>
Call-ID: [call_id]
CSeq: {cseq} REGISTER
Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
Expires: 300
{auth}Content-Length: 0

]]></send>
"#
        )
    };
    scenario(
        "register",
        &format!(
            "{}  <recv response=\"401\" auth=\"true\"/>\n{}  <recv response=\"200\"/>\n",
            req(1, ""),
            req(2, "[authentication]\n")
        ),
    )
}

/// INVITE `to_user@to_domain` from `from_user@from_domain` refused with `code` before any
/// challenge (ACKed hop by hop).
pub fn invite_refused(from: &str, to: &str, code: u16) -> String {
    scenario(
        "refused",
        &format!(
            r#"  <send retrans="500"><![CDATA[
INVITE sip:{to} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
From: <sip:{from}>;tag=[pid]C[call_number]
To: <sip:{to}>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="100" optional="true"/>
  <recv response="{code}"/>
  <send><![CDATA[
ACK sip:{to} SIP/2.0
[last_Via:]
From: <sip:{from}>;tag=[pid]C[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
"#
        ),
    )
}

/// A call from `from` (user@domain) to `to` with `sdp`: 407, the INVITE again with
/// credentials, 200, ACK, `talk_ms`, BYE, 200. `via_port`: a port other than the real one
/// in the Via (the caller looks NATed: its address is not the one it thinks it has).
pub fn call(from: &str, to: &str, sdp: &str, talk_ms: u32, via_port: Option<u16>) -> String {
    let via_port = via_port.map_or("[local_port]".to_string(), |p| p.to_string());
    let invite = |cseq: u32, auth: &str| {
        format!(
            r#"  <send retrans="500"><![CDATA[
INVITE sip:{to} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:{via_port};rport;branch=[branch]
From: <sip:{from}>;tag=[pid]C[call_number]
To: <sip:{to}>
Call-ID: [call_id]
CSeq: {cseq} INVITE
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
{auth}Content-Type: application/sdp
Content-Length: [len]

{sdp}]]></send>
"#
        )
    };
    let ack = |cseq: u32, routed: bool| {
        let (ruri, extra, to_hdr) = if routed {
            ("[next_url]", "[routes]\n", "[last_To:]")
        } else {
            (&*format!("sip:{to}"), "", "[last_To:]")
        };
        format!(
            r#"  <send><![CDATA[
ACK {ruri} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:{via_port};rport;branch=[branch]
From: <sip:{from}>;tag=[pid]C[call_number]
{to_hdr}
{extra}Call-ID: [call_id]
CSeq: {cseq} ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
"#
        )
    };
    let mut s = invite(1, "");
    s += "  <recv response=\"100\" optional=\"true\"/>\n  <recv response=\"407\" auth=\"true\"/>\n";
    // The ACK of a negative reply carries the INVITE's branch: reuse its Via.
    s += &ack(1, false).replace(
        &format!("Via: SIP/2.0/[transport] [local_ip]:{via_port};rport;branch=[branch]"),
        "[last_Via:]",
    );
    s += &invite(2, "[authentication]\n");
    s += r#"  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
"#;
    s += &ack(2, true);
    s += &format!("  <pause milliseconds=\"{talk_ms}\"/>\n");
    s += &format!(
        r#"  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:{via_port};rport;branch=[branch]
From: <sip:{from}>;tag=[pid]C[call_number]
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: 3 BYE
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200"/>
"#
    );
    scenario("call", &s)
}

fn reply(code: &str, sdp: Option<&str>) -> String {
    let (ct, body) = match sdp {
        Some(b) => (
            "Content-Type: application/sdp\nContent-Length: [len]\n",
            b.to_string(),
        ),
        None => ("Content-Length: 0\n", String::new()),
    };
    format!(
        r#"  <send><![CDATA[
SIP/2.0 {code}
[last_Via:]
[last_Record-Route:]
[last_From:]
[last_To:];tag=[pid]A[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:callee@[local_ip]:[local_port]>
{ct}
{body}]]></send>
"#
    )
}

fn bye_answered() -> String {
    r#"  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
"#
    .to_string()
}

/// A phone answering one call with `sdp` and waiting for the BYE.
pub fn answer(sdp: &str) -> String {
    let mut s = String::from("  <recv request=\"INVITE\" crlf=\"true\"/>\n");
    s += &reply("180 Ringing", None);
    s += &reply("200 OK", Some(sdp));
    s += "  <recv request=\"ACK\" crlf=\"true\"/>\n";
    s += &bye_answered();
    s += "  <pause milliseconds=\"300\"/>\n";
    scenario("answer", &s)
}

/// A media server: answers an OPTIONS probe with 200, or an INVITE with `sdp` and the BYE that
/// follows; one sipp call per Call-ID, until killed.
pub fn media_server(sdp: &str) -> String {
    let mut s = String::from(
        "  <recv request=\"OPTIONS\" optional=\"true\" next=\"options\"/>\n  <recv request=\"INVITE\" crlf=\"true\"/>\n",
    );
    s += &reply("200 OK", Some(sdp));
    s += "  <recv request=\"ACK\" crlf=\"true\"/>\n";
    s += &bye_answered();
    s += "  <nop next=\"end\"/>\n  <label id=\"options\"/>\n";
    s += r#"  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]O[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <label id="end"/>
"#;
    scenario("media server", &s)
}

/// One sipp process with its own directory (scenario, error file, message trace).
pub struct Sipp {
    child: Child,
    dir: tempfile::TempDir,
    pub what: String,
}

impl Sipp {
    /// `sipp -sf scenario -i ip -p port -trace_msg ... args`.
    pub fn spawn(what: &str, scenario: &str, ip: &str, port: u16, args: &[String]) -> Sipp {
        let bin = common::sipp().expect("sipp");
        let dir = tempfile::tempdir().unwrap();
        let sf = dir.path().join("scenario.xml");
        std::fs::write(&sf, scenario).unwrap();
        let mut all: Vec<String> = vec![
            "-sf".into(),
            sf.display().to_string(),
            "-i".into(),
            ip.into(),
            "-p".into(),
            port.to_string(),
            "-trace_err".into(),
            "-error_file".into(),
            dir.path().join("err.log").display().to_string(),
            "-trace_msg".into(),
            "-message_file".into(),
            dir.path().join("msg.log").display().to_string(),
            "-nostdin".into(),
        ];
        all.extend_from_slice(args);
        let child = Command::new(bin)
            .args(&all)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        Sipp {
            child,
            dir,
            what: what.into(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn errors(&self) -> String {
        std::fs::read_to_string(self.path("err.log")).unwrap_or_default()
    }

    /// Every message sipp sent or received: (sent?, text).
    pub fn messages(&self) -> Vec<(bool, String)> {
        trace_messages(&self.path("msg.log"))
    }

    /// Waits for the end (`limit`); Err with sipp's errors when it failed or hung.
    pub fn wait(&mut self, limit: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return if st.success() {
                    Ok(())
                } else {
                    Err(format!("{} failed ({st}):\n{}", self.what, self.errors()))
                };
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!("{} did not finish:\n{}", self.what, self.errors()));
            }
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// SIGKILL: the process answers nothing any more.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The messages of a sipp `-trace_msg` file, each with whether sipp sent it.
pub fn trace_messages(path: &Path) -> Vec<(bool, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = Vec::new();
    for block in text.split("----------------------------------------------- ") {
        let Some((head, rest)) = block.split_once('\n') else {
            continue;
        };
        let _ = head;
        let Some((kind, msg)) = rest.split_once('\n') else {
            continue;
        };
        let sent = kind.contains(" sent");
        if !sent && !kind.contains(" received") {
            continue;
        }
        out.push((sent, msg.trim_start_matches(['\r', '\n']).to_string()));
    }
    out
}

/// The body of a SIP message (after the blank line).
pub fn body(msg: &str) -> &str {
    msg.split_once("\r\n\r\n")
        .or_else(|| msg.split_once("\n\n"))
        .map_or("", |(_, b)| b)
}

/// The value of the first `name:` header.
pub fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}
