//! Garbage and mutated dump files never panic: the reader refuses them with a line number,
//! and the binary exits 7 without creating anything.

mod dbctl_support;

use dbctl_support::Env;
use osips::db::{Engine, Value};
use osips::dbctl::dump::{Reader, Writer};
use osips::dbctl::exit;
use proptest::prelude::*;

fn valid_dump() -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out, Engine::Sqlite, "db", "3.6").unwrap();
    w.table("version", &["table_name".into(), "table_version".into()])
        .unwrap();
    w.row(&[Value::from("domain"), Value::Int(4)]).unwrap();
    w.end_table("version").unwrap();
    w.table("domain", &["id".into(), "domain".into(), "attrs".into()])
        .unwrap();
    w.row(&[Value::Int(1), Value::from("a b\nc 🎉"), Value::Null])
        .unwrap();
    w.row(&[Value::Int(2), Value::from(""), Value::Blob(vec![1, 2])])
        .unwrap();
    w.end_table("domain").unwrap();
    w.finish().unwrap();
    out
}

fn read_all(bytes: &[u8]) -> Result<usize, String> {
    let mut r = Reader::new(bytes).map_err(|e| e.to_string())?;
    let mut n = 0;
    while r.next_item().map_err(|e| e.to_string())?.is_some() {
        n += 1;
    }
    Ok(n)
}

#[test]
fn the_valid_dump_reads() {
    assert_eq!(read_all(&valid_dump()), Ok(7));
}

proptest! {
    #[test]
    fn random_bytes_are_refused(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        prop_assert!(read_all(&b).is_err());
    }

    #[test]
    fn random_edits_never_panic(pos in 0usize..400, byte in any::<u8>(), cut in 0usize..400, insert in "[a-z NtibfN\\\\0-9\n]{0,12}") {
        let mut d = valid_dump();
        let p = pos % d.len();
        let orig = d[p];
        d[p] = byte;
        let _ = read_all(&d);
        if byte != orig {
            prop_assert!(read_all(&d).is_err(), "edit at {} accepted", p);
        }
        let c = cut % d.len();
        let mut e = valid_dump();
        e.truncate(c);
        prop_assert!(read_all(&e).is_err());
        let mut f = valid_dump();
        let at = pos % f.len();
        f.splice(at..at, insert.bytes());
        if !insert.is_empty() {
            prop_assert!(read_all(&f).is_err());
        }
    }
}

#[test]
fn the_binary_refuses_mutated_dumps() {
    let env = Env::new(Engine::Sqlite).unwrap();
    let bad = env.dir.path().join("bad.dump");
    let good = valid_dump();
    for i in (0..good.len()).step_by(good.len() / 12 + 1) {
        let mut d = good.clone();
        d[i] = b'#';
        std::fs::write(&bad, &d).unwrap();
        let (c, _, err) = env.run(&["restore", bad.to_str().unwrap()]);
        if d != good {
            assert_eq!(c, exit::BAD_DUMP, "byte {i}: {err}");
            assert!(!env.exists(None));
        }
    }
}
