//! A stateless forwarding proxy for load tests: every request goes to one next hop.
//!
//! `stateless_fwd LISTEN NEXT_HOP [UDP_WORKERS] [shared]`, e.g.
//! `stateless_fwd udp:127.0.0.1:5060 udp:127.0.0.1:5070 2`. Runs until killed.

use osips::core::{Action, Core};
use osips::transport::{Destination, SocketDef, TransportConfig};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: {} LISTEN NEXT_HOP [UDP_WORKERS] [shared]", args[0]);
        std::process::exit(2);
    }
    let listen: SocketDef = args[1].parse().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let next: SocketDef = args[2].parse().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let workers = args.get(3).and_then(|w| w.parse().ok()).unwrap_or(2);
    let cfg = TransportConfig {
        sockets: vec![listen],
        udp_workers: workers,
        udp_reuseport: args.get(4).map(String::as_str) != Some("shared"),
        ..TransportConfig::default()
    };
    let dest = Destination::new(next.proto, next.addr);
    let handler = move |_: &mut osips::sip::Msg, _: &osips::transport::ReceiveInfo| {
        Action::Forward(dest.clone())
    };
    let _core = Core::start(cfg, Box::new(handler)).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    eprintln!("forwarding {} -> {}", args[1], args[2]);
    loop {
        std::thread::park();
    }
}
