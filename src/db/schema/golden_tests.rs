//! Golden comparisons: the rendered DDL against the text of OpenSIPS's own create scripts
//! (`scripts/<engine>/<module>-create.sql`), whitespace normalised, statement order ignored
//! after each table's CREATE TABLE (OpenSIPS's generator emitted ALTER SEQUENCE and CREATE
//! INDEX in either order over the years).

use super::{Engine, Schema, current, legacy};

fn normalise(script: &str) -> Vec<String> {
    let mut out: Vec<String> = script
        .split(';')
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .map(|s| s.replace("( ", "(").replace(" )", ")"))
        .filter(|s| !s.is_empty())
        .collect();
    out.sort();
    out
}

fn rendered(schema: &Schema, module: &str, e: Engine) -> Vec<String> {
    let m = schema
        .module(module)
        .unwrap_or_else(|| panic!("module {module} missing"));
    normalise(&m.create_sql(e).join(";\n"))
}

fn assert_golden(schema: &Schema, module: &str, e: Engine, script: &str) {
    assert_eq!(
        rendered(schema, module, e),
        normalise(script),
        "{} {module} on {e:?}",
        schema.release
    );
}

#[test]
fn standard_matches_opensips() {
    assert_golden(
        current(),
        "standard",
        Engine::Mysql,
        "CREATE TABLE version (
    table_name CHAR(32) NOT NULL,
    table_version INT UNSIGNED DEFAULT 0 NOT NULL,
    CONSTRAINT t_name_idx UNIQUE (table_name)
) ENGINE=InnoDB;",
    );
    assert_golden(
        current(),
        "standard",
        Engine::Postgres,
        "CREATE TABLE version (
    table_name VARCHAR(32) NOT NULL,
    table_version INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT version_t_name_idx UNIQUE (table_name)
);",
    );
    assert_golden(
        current(),
        "standard",
        Engine::Sqlite,
        "CREATE TABLE version (
    table_name CHAR(32) NOT NULL,
    table_version INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT version_t_name_idx  UNIQUE (table_name)
);",
    );
}

#[test]
fn dispatcher_matches_opensips_sqlite() {
    assert_golden(
        current(),
        "dispatcher",
        Engine::Sqlite,
        "INSERT INTO version (table_name, table_version) values ('dispatcher','9');
CREATE TABLE dispatcher (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    setid INTEGER DEFAULT 0 NOT NULL,
    destination CHAR(192) DEFAULT '' NOT NULL,
    socket CHAR(128) DEFAULT NULL,
    state INTEGER DEFAULT 0 NOT NULL,
    probe_mode INTEGER DEFAULT 0 NOT NULL,
    weight CHAR(64) DEFAULT 1 NOT NULL,
    priority INTEGER DEFAULT 0 NOT NULL,
    attrs CHAR(128) DEFAULT NULL,
    description CHAR(64) DEFAULT NULL
);",
    );
}

#[test]
fn legacy_2_4_auth_db_matches_opensips_on_every_engine() {
    let old = legacy("2.4").unwrap();
    assert_golden(
        old,
        "auth_db",
        Engine::Mysql,
        "INSERT INTO version (table_name, table_version) values ('subscriber','7');
CREATE TABLE subscriber (
    id INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    username CHAR(64) DEFAULT '' NOT NULL,
    domain CHAR(64) DEFAULT '' NOT NULL,
    password CHAR(25) DEFAULT '' NOT NULL,
    email_address CHAR(64) DEFAULT '' NOT NULL,
    ha1 CHAR(64) DEFAULT '' NOT NULL,
    ha1b CHAR(64) DEFAULT '' NOT NULL,
    rpid CHAR(64) DEFAULT NULL,
    CONSTRAINT account_idx UNIQUE (username, domain)
) ENGINE=InnoDB;

CREATE INDEX username_idx ON subscriber (username);

INSERT INTO version (table_name, table_version) values ('uri','2');
CREATE TABLE uri (
    id INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    username CHAR(64) DEFAULT '' NOT NULL,
    domain CHAR(64) DEFAULT '' NOT NULL,
    uri_user CHAR(64) DEFAULT '' NOT NULL,
    last_modified DATETIME DEFAULT '1900-01-01 00:00:01' NOT NULL,
    CONSTRAINT account_idx UNIQUE (username, domain, uri_user)
) ENGINE=InnoDB;",
    );
    assert_golden(
        old,
        "auth_db",
        Engine::Postgres,
        "INSERT INTO version (table_name, table_version) values ('subscriber','7');
CREATE TABLE subscriber (
    id SERIAL PRIMARY KEY NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT '' NOT NULL,
    password VARCHAR(25) DEFAULT '' NOT NULL,
    email_address VARCHAR(64) DEFAULT '' NOT NULL,
    ha1 VARCHAR(64) DEFAULT '' NOT NULL,
    ha1b VARCHAR(64) DEFAULT '' NOT NULL,
    rpid VARCHAR(64) DEFAULT NULL,
    CONSTRAINT subscriber_account_idx UNIQUE (username, domain)
);

ALTER SEQUENCE subscriber_id_seq MAXVALUE 2147483647 CYCLE;
CREATE INDEX subscriber_username_idx ON subscriber (username);

INSERT INTO version (table_name, table_version) values ('uri','2');
CREATE TABLE uri (
    id SERIAL PRIMARY KEY NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT '' NOT NULL,
    uri_user VARCHAR(64) DEFAULT '' NOT NULL,
    last_modified TIMESTAMP WITHOUT TIME ZONE DEFAULT '1900-01-01 00:00:01' NOT NULL,
    CONSTRAINT uri_account_idx UNIQUE (username, domain, uri_user)
);

ALTER SEQUENCE uri_id_seq MAXVALUE 2147483647 CYCLE;",
    );
    assert_golden(
        old,
        "auth_db",
        Engine::Sqlite,
        "INSERT INTO version (table_name, table_version) values ('subscriber','7');
CREATE TABLE subscriber (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    username CHAR(64) DEFAULT '' NOT NULL,
    domain CHAR(64) DEFAULT '' NOT NULL,
    password CHAR(25) DEFAULT '' NOT NULL,
    email_address CHAR(64) DEFAULT '' NOT NULL,
    ha1 CHAR(64) DEFAULT '' NOT NULL,
    ha1b CHAR(64) DEFAULT '' NOT NULL,
    rpid CHAR(64) DEFAULT NULL,
    CONSTRAINT subscriber_account_idx  UNIQUE (username, domain)
);

CREATE INDEX subscriber_username_idx  ON subscriber (username);

INSERT INTO version (table_name, table_version) values ('uri','2');
CREATE TABLE uri (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    username CHAR(64) DEFAULT '' NOT NULL,
    domain CHAR(64) DEFAULT '' NOT NULL,
    uri_user CHAR(64) DEFAULT '' NOT NULL,
    last_modified DATETIME DEFAULT '1900-01-01 00:00:01' NOT NULL,
    CONSTRAINT uri_account_idx  UNIQUE (username, domain, uri_user)
);",
    );
}

#[test]
fn mysql_engine_is_a_parameter() {
    let t = current().table("dispatcher").unwrap();
    let sql = t.create_sql_with(Engine::Mysql, "MyISAM");
    assert!(sql[0].ends_with(") ENGINE=MyISAM"), "{}", sql[0]);
    assert!(t.create_sql(Engine::Mysql)[0].ends_with(") ENGINE=InnoDB"));
}

#[test]
fn dispatcher_domain_subscriber_match_opensips_3_6_mysql() {
    let s = current();
    assert_golden(
        s,
        "dispatcher",
        Engine::Mysql,
        "INSERT INTO version (table_name, table_version) values ('dispatcher','9');
CREATE TABLE dispatcher (
    id INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    setid INT DEFAULT 0 NOT NULL,
    destination CHAR(192) DEFAULT '' NOT NULL,
    socket CHAR(128) DEFAULT NULL,
    state INT DEFAULT 0 NOT NULL,
    probe_mode INT(11) UNSIGNED DEFAULT 0 NOT NULL,
    weight CHAR(64) DEFAULT 1 NOT NULL,
    priority INT DEFAULT 0 NOT NULL,
    attrs CHAR(128) DEFAULT NULL,
    description CHAR(64) DEFAULT NULL
) ENGINE=InnoDB;",
    );
    assert_golden(
        s,
        "domain",
        Engine::Mysql,
        "INSERT INTO version (table_name, table_version) values ('domain','4');
CREATE TABLE domain (
    id INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    domain CHAR(64) DEFAULT '' NOT NULL,
    attrs CHAR(255) DEFAULT NULL,
    accept_subdomain INT(11) UNSIGNED DEFAULT 0 NOT NULL,
    last_modified DATETIME DEFAULT '1900-01-01 00:00:01' NOT NULL,
    CONSTRAINT domain_idx UNIQUE (domain)
) ENGINE=InnoDB;",
    );
    assert_golden(
        s,
        "auth_db",
        Engine::Mysql,
        "INSERT INTO version (table_name, table_version) values ('subscriber','8');
CREATE TABLE subscriber (
    id INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    username CHAR(64) DEFAULT '' NOT NULL,
    domain CHAR(64) DEFAULT '' NOT NULL,
    password CHAR(25) DEFAULT '' NOT NULL,
    ha1 CHAR(64) DEFAULT '' NOT NULL,
    ha1_sha256 CHAR(64) DEFAULT '' NOT NULL,
    ha1_sha512t256 CHAR(64) DEFAULT '' NOT NULL,
    CONSTRAINT account_idx UNIQUE (username, domain)
) ENGINE=InnoDB;
CREATE INDEX username_idx ON subscriber (username);
INSERT INTO version (table_name, table_version) values ('uri','2');
CREATE TABLE uri (
    id INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    username CHAR(64) DEFAULT '' NOT NULL,
    domain CHAR(64) DEFAULT '' NOT NULL,
    uri_user CHAR(64) DEFAULT '' NOT NULL,
    last_modified DATETIME DEFAULT '1900-01-01 00:00:01' NOT NULL,
    CONSTRAINT account_idx UNIQUE (username, domain, uri_user)
) ENGINE=InnoDB;",
    );
}

#[test]
fn location_matches_opensips_3_6_sqlite() {
    assert_golden(
        current(),
        "usrloc",
        Engine::Sqlite,
        "INSERT INTO version (table_name, table_version) values ('location','1013');
CREATE TABLE location (
    contact_id  INTEGER PRIMARY KEY AUTOINCREMENT  NOT NULL,
    username CHAR(64) DEFAULT '' NOT NULL,
    domain CHAR(64) DEFAULT NULL,
    contact TEXT NOT NULL,
    received CHAR(255) DEFAULT NULL,
    path CHAR(255) DEFAULT NULL,
    expires INTEGER NOT NULL,
    q FLOAT(10,2) DEFAULT 1.0 NOT NULL,
    callid CHAR(255) DEFAULT 'Default-Call-ID' NOT NULL,
    cseq INTEGER DEFAULT 13 NOT NULL,
    last_modified DATETIME DEFAULT '1900-01-01 00:00:01' NOT NULL,
    flags INTEGER DEFAULT 0 NOT NULL,
    cflags CHAR(255) DEFAULT NULL,
    user_agent CHAR(255) DEFAULT '' NOT NULL,
    socket CHAR(64) DEFAULT NULL,
    methods INTEGER DEFAULT NULL,
    sip_instance CHAR(255) DEFAULT NULL,
    kv_store TEXT(512) DEFAULT NULL,
    attr CHAR(255) DEFAULT NULL
);",
    );
}

#[test]
fn location_on_postgres_is_bigserial_with_capped_sequence() {
    let sql = current()
        .table("location")
        .unwrap()
        .create_sql(Engine::Postgres);
    assert!(
        sql[0].contains("contact_id BIGSERIAL PRIMARY KEY NOT NULL,"),
        "{}",
        sql[0]
    );
    assert!(sql[0].contains("q REAL DEFAULT 1.0 NOT NULL"), "{}", sql[0]);
    assert!(sql[0].contains("kv_store TEXT DEFAULT NULL"), "{}", sql[0]);
    assert_eq!(
        sql[1],
        "ALTER SEQUENCE location_contact_id_seq MAXVALUE 2147483647 CYCLE"
    );
    let dialog = current()
        .table("dialog")
        .unwrap()
        .create_sql(Engine::Postgres);
    assert!(
        dialog[0].contains("dlg_id BIGINT PRIMARY KEY NOT NULL,"),
        "{}",
        dialog[0]
    );
    assert!(
        dialog[0].contains("vars BYTEA DEFAULT NULL"),
        "{}",
        dialog[0]
    );
    assert_eq!(dialog.len(), 1, "no sequence without SERIAL");
}

#[test]
fn legacy_2_4_dispatcher_and_dialog_match_opensips_mysql() {
    let old = legacy("2.4").unwrap();
    assert_golden(
        old,
        "dispatcher",
        Engine::Mysql,
        "INSERT INTO version (table_name, table_version) values ('dispatcher','8');
CREATE TABLE dispatcher (
    id INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    setid INT DEFAULT 0 NOT NULL,
    destination CHAR(192) DEFAULT '' NOT NULL,
    socket CHAR(128) DEFAULT NULL,
    state INT DEFAULT 0 NOT NULL,
    weight CHAR(64) DEFAULT 1 NOT NULL,
    priority INT DEFAULT 0 NOT NULL,
    attrs CHAR(128) DEFAULT '' NOT NULL,
    description CHAR(64) DEFAULT '' NOT NULL
) ENGINE=InnoDB;",
    );
    let dialog = old.table("dialog").unwrap();
    assert_eq!(dialog.version, 10);
    assert!(dialog.column("rt_on_answer").is_none());
    assert_eq!(
        dialog.column("script_flags").unwrap().ty.sql(Engine::Mysql),
        "INT(10) UNSIGNED"
    );
    assert_eq!(old.table("domain").unwrap().version, 3);
    assert!(
        old.table("domain")
            .unwrap()
            .column("accept_subdomain")
            .is_none()
    );
    let sub = old.table("subscriber").unwrap();
    assert!(sub.column("ha1b").is_some() && sub.column("ha1_sha256").is_none());
}

#[test]
fn legacy_3_4_keeps_avpops_and_the_old_subscriber_columns() {
    let old = legacy("3.4").unwrap();
    let m = old.module("avpops").unwrap();
    assert_eq!(m.name, "avpops");
    assert_eq!(old.module("sqlops").unwrap().name, "avpops");
    assert_eq!(
        old.tables().filter(|t| t.name == "usr_preferences").count(),
        1
    );
    let sub = old.table("subscriber").unwrap();
    assert_eq!(sub.version, 8);
    assert!(sub.column("email_address").is_some() && sub.column("rpid").is_some());
    let d = old.table("dispatcher").unwrap();
    assert_eq!((d.version, d.column("attrs").unwrap().not_null), (9, true));
    assert!(legacy("1.11").is_none());
}

#[test]
fn userblacklist_matches_opensips_postgres_and_sqlite() {
    assert_golden(
        current(),
        "userblacklist",
        Engine::Postgres,
        "INSERT INTO version (table_name, table_version) values ('userblacklist','2');
CREATE TABLE userblacklist (
    id SERIAL PRIMARY KEY NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT '' NOT NULL,
    prefix VARCHAR(64) DEFAULT '' NOT NULL,
    whitelist SMALLINT DEFAULT 0 NOT NULL
);
ALTER SEQUENCE userblacklist_id_seq MAXVALUE 2147483647 CYCLE;
CREATE INDEX userblacklist_userblacklist_idx ON userblacklist (username, domain, prefix);
INSERT INTO version (table_name, table_version) values ('globalblacklist','2');
CREATE TABLE globalblacklist (
    id SERIAL PRIMARY KEY NOT NULL,
    prefix VARCHAR(64) DEFAULT '' NOT NULL,
    whitelist SMALLINT DEFAULT 0 NOT NULL,
    description VARCHAR(255) DEFAULT NULL
);
ALTER SEQUENCE globalblacklist_id_seq MAXVALUE 2147483647 CYCLE;
CREATE INDEX globalblacklist_globalblacklist_idx ON globalblacklist (prefix);",
    );
    assert_golden(
        current(),
        "userblacklist",
        Engine::Sqlite,
        "INSERT INTO version (table_name, table_version) values ('userblacklist','2');
CREATE TABLE userblacklist (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    username CHAR(64) DEFAULT '' NOT NULL,
    domain CHAR(64) DEFAULT '' NOT NULL,
    prefix CHAR(64) DEFAULT '' NOT NULL,
    whitelist TINYINT(1) DEFAULT 0 NOT NULL
);
CREATE INDEX ORA_userblacklist_idx  ON userblacklist (username, domain, prefix);
INSERT INTO version (table_name, table_version) values ('globalblacklist','2');
CREATE TABLE globalblacklist (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    prefix CHAR(64) DEFAULT '' NOT NULL,
    whitelist TINYINT(1) DEFAULT 0 NOT NULL,
    description CHAR(255) DEFAULT NULL
);
CREATE INDEX ORA_globalblacklist_idx  ON globalblacklist (prefix);",
    );
}

#[test]
fn carrierroute_and_old_address_match_opensips_sqlite() {
    assert_golden(
        current(),
        "carrierroute",
        Engine::Sqlite,
        "INSERT INTO version (table_name, table_version) values ('carrierroute','3');
CREATE TABLE carrierroute (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    carrier INTEGER DEFAULT 0 NOT NULL,
    domain CHAR(64) DEFAULT '' NOT NULL,
    scan_prefix CHAR(64) DEFAULT '' NOT NULL,
    flags INTEGER DEFAULT 0 NOT NULL,
    mask INTEGER DEFAULT 0 NOT NULL,
    prob FLOAT DEFAULT 0 NOT NULL,
    strip INTEGER DEFAULT 0 NOT NULL,
    rewrite_host CHAR(255) DEFAULT '' NOT NULL,
    rewrite_prefix CHAR(64) DEFAULT '' NOT NULL,
    rewrite_suffix CHAR(64) DEFAULT '' NOT NULL,
    description CHAR(255) DEFAULT NULL
);
INSERT INTO version (table_name, table_version) values ('carrierfailureroute','2');
CREATE TABLE carrierfailureroute (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    carrier INTEGER DEFAULT 0 NOT NULL,
    domain CHAR(64) DEFAULT '' NOT NULL,
    scan_prefix CHAR(64) DEFAULT '' NOT NULL,
    host_name CHAR(255) DEFAULT '' NOT NULL,
    reply_code CHAR(3) DEFAULT '' NOT NULL,
    flags INTEGER DEFAULT 0 NOT NULL,
    mask INTEGER DEFAULT 0 NOT NULL,
    next_domain CHAR(64) DEFAULT '' NOT NULL,
    description CHAR(255) DEFAULT NULL
);
INSERT INTO version (table_name, table_version) values ('route_tree','2');
CREATE TABLE route_tree (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    carrier CHAR(64) DEFAULT NULL
);",
    );
    assert_golden(
        legacy("3.4").unwrap(),
        "permissions",
        Engine::Sqlite,
        "INSERT INTO version (table_name, table_version) values ('address','5');
CREATE TABLE address (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    grp SMALLINT(5) DEFAULT 0 NOT NULL,
    ip CHAR(50) NOT NULL,
    mask TINYINT DEFAULT 32 NOT NULL,
    port SMALLINT(5) DEFAULT 0 NOT NULL,
    proto CHAR(4) DEFAULT 'any' NOT NULL,
    pattern CHAR(64) DEFAULT NULL,
    context_info CHAR(32) DEFAULT NULL
);",
    );
}
