//! osipsdbctl's failure classes: unreachable server, wrong password, unwritable SQLite path,
//! a create that fails half-way. Each has its exit code, a one-line error, and no leftovers.

mod dbctl_support;

use dbctl_support::Env;
use osips::db::Engine;
use osips::dbctl::exit;

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn unreachable_server(engine: Engine) {
    let Some(env) = Env::new(engine) else { return };
    env.write_rc(&format!("DBPORT={}", closed_port()));
    for args in [
        &["create"][..],
        &["check"],
        &["drop", "-y"],
        &["backup", "/tmp/never.dump"],
    ] {
        let (_, err) = env.expect(args, exit::UNREACHABLE);
        assert!(err.contains("cannot reach"), "{err}");
    }
}

fn wrong_password(engine: Engine) {
    let Some(env) = Env::new(engine) else { return };
    env.write_rc("DBROOTPW='certainly not the password'");
    let (_, err) = env.expect(&["create"], exit::DENIED);
    assert!(err.contains("refused user"), "{err}");
    assert!(!env.exists(None), "nothing created");
    assert!(!env.user_exists(), "no rw user created");
    // no password at all, no terminal: the hint says where to put one
    env.write_rc("DBROOTPW=");
    let out = env.cmd().arg("create").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(exit::DENIED), "{err}");
    assert!(!env.exists(None));
}

/// A create that fails after the database was made removes the database and the user.
fn failed_create_leaves_nothing(engine: Engine) {
    let Some(env) = Env::new(engine) else { return };
    match engine {
        // role names starting with pg_ are reserved: CREATE ROLE fails after CREATE DATABASE
        Engine::Postgres => env.write_rc(&format!("DBRWUSER=pg_{}", env.rw_user)),
        // an unknown storage engine fails the first CREATE TABLE
        Engine::Mysql => env.write_rc("MYSQL_ENGINE=NoSuchEngine"),
        Engine::Sqlite => unreachable!(),
    }
    let (c, _, err) = env.run(&["create"]);
    assert_ne!(c, 0, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        !env.exists(None),
        "the half-made database was dropped: {err}"
    );
    if engine == Engine::Mysql {
        assert!(!env.user_exists(), "the rw user made for it was dropped");
    }
}

#[test]
fn pgsql_unreachable_server() {
    unreachable_server(Engine::Postgres)
}
#[test]
fn mysql_unreachable_server() {
    unreachable_server(Engine::Mysql)
}
#[test]
fn pgsql_wrong_password() {
    wrong_password(Engine::Postgres)
}
#[test]
fn mysql_wrong_password() {
    wrong_password(Engine::Mysql)
}
#[test]
fn pgsql_failed_create_leaves_nothing() {
    failed_create_leaves_nothing(Engine::Postgres)
}
#[test]
fn mysql_failed_create_leaves_nothing() {
    failed_create_leaves_nothing(Engine::Mysql)
}

/// No write permission for the SQLite file's folder: exit 4, no file, no folder.
#[test]
fn sqlite_unwritable_path() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new(Engine::Sqlite).unwrap();
    let locked = env.dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&env.rc, std::fs::Permissions::from_mode(0o644)).unwrap();
    let target = locked.join("sub").join("osips.sqlite");
    let root = nix::unistd::geteuid().is_root();
    for path in [target.clone(), locked.join("osips.sqlite")] {
        // root ignores permissions: run as nobody then
        let mut cmd = if root {
            let mut c = std::process::Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(assert_cmd::cargo::cargo_bin("osipsdbctl"));
            c
        } else {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("osipsdbctl"))
        };
        let out = cmd
            .args([
                "--rc",
                env.rc.to_str().unwrap(),
                "create",
                path.to_str().unwrap(),
            ])
            .env_remove("OSIPSCTLRC")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(exit::DENIED), "{err}");
        assert!(err.contains("permission denied"), "{err}");
        assert!(!path.exists());
    }
    assert!(!locked.join("sub").exists(), "no folder left behind");
}

/// On a read-only file system even root cannot write: same answer.
#[test]
fn sqlite_read_only_file_system() {
    let env = Env::new(Engine::Sqlite).unwrap();
    let (_, err) = env.expect(&["create", "/proc/osips-test/osips.sqlite"], exit::DENIED);
    assert!(err.contains("/proc/osips-test"), "{err}");
}
