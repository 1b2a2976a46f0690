//! `address show|dump|add|rm|reload`: the address table (permissions module).

use std::net::IpAddr;

use super::ctx::Ctx;
use super::domain::reload;
use super::error::{Failure, Outcome};
use super::mi_reload;
use super::output::{Report, Table};
use super::values;
use crate::db::Engine;

const PROTOS: &[&str] = &["any", "udp", "tcp", "tls", "sctp", "ws", "wss", "none"];

fn note(ctx: &Ctx) -> Option<String> {
    Some(mi_reload::after_change(
        &ctx.rc,
        "addresses",
        "address_reload",
    ))
}

/// The checked key of an address row.
struct Key {
    grp: i64,
    ip: String,
    mask: i64,
    port: i64,
}

fn key(ctx: &Ctx, grp: &str, ip: &str, mask: &str, port: &str) -> Outcome<Key> {
    // PostgreSQL's SMALLINT columns hold at most 32767 (OpenSIPS's own schema).
    let small_max = if ctx.engine()? == Engine::Postgres {
        32767
    } else {
        65535
    };
    let grp = values::int("group", grp, 0, small_max)?;
    let addr: IpAddr = ip.parse().map_err(|_| {
        Failure::usage(
            format!("`{ip}` is not an IP address"),
            "the address table takes IPv4 or IPv6 addresses (no host names)",
        )
    })?;
    let mask = values::int("mask", mask, 0, if addr.is_ipv4() { 32 } else { 128 })?;
    let port = values::int("port", port, 0, small_max)?;
    Ok(Key {
        grp,
        ip: addr.to_string(),
        mask,
        port,
    })
}

/// `address show`: the table.
pub fn show(ctx: &Ctx) -> Outcome<Report> {
    let t = ctx.table("ADDRESS_TABLE", "address")?;
    let rows = ctx
        .db()?
        .query(&format!("SELECT * FROM {t} ORDER BY grp, ip, port"), &[])?;
    let mut table = Table::from_rows(&rows);
    if table.columns.is_empty() {
        table = Table::new(&[
            "id",
            "grp",
            "ip",
            "mask",
            "port",
            "proto",
            "pattern",
            "context_info",
        ]);
    }
    Ok(Report::table(table))
}

/// `address dump`: what the running osips has loaded (MI `address_dump`).
pub fn dump(ctx: &Ctx) -> Outcome<Report> {
    let v = mi_reload::command(&ctx.rc, "address_dump")?;
    Ok(Report {
        data: Some(v),
        ..Report::default()
    })
}

/// `address add <grp> <ip> <mask> <port> <proto> [context_info] [pattern]`.
#[allow(clippy::too_many_arguments)]
pub fn add(
    ctx: &Ctx,
    grp: &str,
    ip: &str,
    mask: &str,
    port: &str,
    proto: &str,
    context_info: Option<&str>,
    pattern: Option<&str>,
) -> Outcome<Report> {
    let k = key(ctx, grp, ip, mask, port)?;
    let proto = proto.to_ascii_lowercase();
    if !PROTOS.contains(&proto.as_str()) {
        return Err(Failure::usage(
            format!("protocol `{proto}` is not one of {}", PROTOS.join(", ")),
            "",
        ));
    }
    if let Some(c) = context_info {
        values::text("context_info", c, 32)?;
    }
    if let Some(p) = pattern {
        values::text("pattern", p, 64)?;
    }
    let t = ctx.table("ADDRESS_TABLE", "address")?;
    ctx.db()?.transaction(|tx| {
        let have = tx.query(
            &format!("SELECT 1 FROM {t} WHERE grp = ? AND ip = ? AND mask = ? AND port = ?"),
            crate::params![k.grp, &k.ip, k.mask, k.port],
        )?;
        if !have.is_empty() {
            return Err(Failure::failed(
                format!("address {}/{} port {} is already in group {}", k.ip, k.mask, k.port, k.grp),
                "see `osipsctl address show`",
            ));
        }
        tx.execute(
            &format!(
                "INSERT INTO {t} (grp, ip, mask, port, proto, pattern, context_info) VALUES (?, ?, ?, ?, ?, ?, ?)"
            ),
            crate::params![k.grp, &k.ip, k.mask, k.port, &proto, pattern, context_info],
        )?;
        Ok::<_, Failure>(())
    })?;
    Ok(Report::message(format!(
        "address {}/{} port {} {proto} added to group {}",
        k.ip, k.mask, k.port, k.grp
    ))
    .with_note(note(ctx)))
}

/// `address rm <grp> <ip> <mask> <port>`.
pub fn rm(ctx: &Ctx, grp: &str, ip: &str, mask: &str, port: &str) -> Outcome<Report> {
    let k = key(ctx, grp, ip, mask, port)?;
    let t = ctx.table("ADDRESS_TABLE", "address")?;
    let n = ctx.db()?.execute(
        &format!("DELETE FROM {t} WHERE grp = ? AND ip = ? AND mask = ? AND port = ?"),
        crate::params![k.grp, &k.ip, k.mask, k.port],
    )?;
    if n == 0 {
        return Err(Failure::failed(
            format!(
                "no address {}/{} port {} in group {}",
                k.ip, k.mask, k.port, k.grp
            ),
            "see `osipsctl address show`",
        ));
    }
    Ok(Report::message(format!(
        "address {}/{} port {} removed from group {}",
        k.ip, k.mask, k.port, k.grp
    ))
    .with_note(note(ctx)))
}

/// `address reload`.
pub fn do_reload(ctx: &Ctx) -> Outcome<Report> {
    reload(ctx, "addresses", "address_reload")
}
