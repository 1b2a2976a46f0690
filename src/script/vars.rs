//! Script variable stores: `$var` (per worker, kept across messages), `$avp` (value stacks per
//! message / transaction) and `$shv` (shared by all workers).

use super::value::Value;
use parking_lot::Mutex;
use std::collections::HashMap;

/// `$var(name)`: one value per name, per worker; not reset between messages (as in OpenSIPS).
/// Names written literally in the script have a slot (given by the compiler) so the interpreter
/// reads them by index; other names (`$var($var(n))`) are added after them.
#[derive(Debug, Default, Clone)]
pub struct VarStore {
    values: Vec<Value>,
    index: HashMap<String, usize>,
    /// Id of the script whose slots this table follows (0 = none).
    bound_to: u64,
}

impl VarStore {
    /// Lays the table out for a script's slots, keeping the values already set (by name).
    pub fn bind(&mut self, script_id: u64, names: &[String]) {
        if self.bound_to == script_id {
            return;
        }
        let mut old: Vec<(String, Value)> = self
            .index
            .drain()
            .map(|(n, i)| (n, std::mem::take(&mut self.values[i])))
            .collect();
        old.sort_by(|a, b| a.0.cmp(&b.0));
        self.values.clear();
        for n in names {
            self.index.insert(n.clone(), self.values.len());
            self.values.push(Value::Null);
        }
        for (n, v) in old {
            self.set(&n, v);
        }
        self.bound_to = script_id;
    }

    pub fn get(&self, name: &str) -> Value {
        self.index
            .get(name)
            .map(|&i| self.values[i].clone())
            .unwrap_or(Value::Null)
    }

    pub fn set(&mut self, name: &str, v: Value) {
        match self.index.get(name) {
            Some(&i) => self.values[i] = v,
            None => {
                self.index.insert(name.to_string(), self.values.len());
                self.values.push(v);
            }
        }
    }

    /// `$var(dst) = $var(src)` between slots of the bound script (the value cloned in place);
    /// false if either slot does not exist.
    #[inline]
    pub fn copy_slot(&mut self, src: u32, dst: u32) -> bool {
        let (s, d) = (src as usize, dst as usize);
        if s >= self.values.len() || d >= self.values.len() {
            return false;
        }
        if s != d {
            let v = self.values[s].clone();
            self.values[d] = v;
        }
        true
    }

    /// Value in a slot of the bound script.
    #[inline]
    pub fn get_slot(&self, slot: u32) -> Value {
        self.values
            .get(slot as usize)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// The integer in a slot holding an integer-typed value.
    #[inline]
    pub fn slot_int(&self, slot: u32) -> Option<i32> {
        match self.values.get(slot as usize) {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        }
    }

    /// Sets a slot of the bound script; gives the value back if there is no such slot.
    #[inline]
    pub fn set_slot(&mut self, slot: u32, v: Value) -> Result<(), Value> {
        match self.values.get_mut(slot as usize) {
            Some(x) => {
                *x = v;
                Ok(())
            }
            None => Err(v),
        }
    }

    #[inline]
    pub fn bound_to(&self) -> u64 {
        self.bound_to
    }
}

/// `$avp(name)`: a stack of values per name. Index 0 is the most recently added value; negative
/// indexes count from the oldest (-1 = oldest).
#[derive(Debug, Default, Clone)]
pub struct AvpStore {
    // Stored oldest first: the top (index 0) is the last element.
    avps: HashMap<String, Vec<Value>>,
}

impl AvpStore {
    fn pos(len: usize, idx: i32) -> Option<usize> {
        let len = len as i64;
        let i = if idx >= 0 {
            len - 1 - idx as i64
        } else {
            -(idx as i64) - 1
        };
        (0..len).contains(&i).then_some(i as usize)
    }

    /// `$avp(n) = v`: pushes on top.
    pub fn push(&mut self, name: &str, v: Value) {
        self.avps.entry(name.to_string()).or_default().push(v);
    }

    /// `$avp(n) := v`: replaces every value by `v`.
    pub fn replace(&mut self, name: &str, v: Value) {
        let e = self.avps.entry(name.to_string()).or_default();
        e.clear();
        e.push(v);
    }

    /// `$(avp(n)[append]) = v`: adds below the oldest value.
    pub fn append(&mut self, name: &str, v: Value) {
        self.avps.entry(name.to_string()).or_default().insert(0, v);
    }

    /// `$(avp(n)[i]) = v`: replaces the i-th value; false if there is none.
    pub fn set_at(&mut self, name: &str, idx: i32, v: Value) -> bool {
        let Some(vals) = self.avps.get_mut(name) else {
            return false;
        };
        match Self::pos(vals.len(), idx) {
            Some(p) => {
                vals[p] = v;
                true
            }
            None => false,
        }
    }

    /// `$(avp(n)[i]) = null` (and `$avp(n) = null` for index 0).
    pub fn delete_at(&mut self, name: &str, idx: i32) -> bool {
        let Some(vals) = self.avps.get_mut(name) else {
            return false;
        };
        let Some(p) = Self::pos(vals.len(), idx) else {
            return false;
        };
        vals.remove(p);
        if vals.is_empty() {
            self.avps.remove(name);
        }
        true
    }

    /// `$avp(n) := null`, `$(avp(n)[*]) = null`.
    pub fn delete_all(&mut self, name: &str) {
        self.avps.remove(name);
    }

    pub fn get(&self, name: &str, idx: i32) -> Value {
        self.avps
            .get(name)
            .and_then(|v| Self::pos(v.len(), idx).map(|p| v[p].clone()))
            .unwrap_or(Value::Null)
    }

    /// All values, most recent first.
    pub fn values(&self, name: &str) -> impl Iterator<Item = &Value> {
        self.avps.get(name).into_iter().flat_map(|v| v.iter().rev())
    }

    pub fn count(&self, name: &str) -> usize {
        self.avps.get(name).map(Vec::len).unwrap_or(0)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.avps.keys().map(String::as_str)
    }

    pub fn clear(&mut self) {
        self.avps.clear();
    }
}

/// `$shv(name)`: shared between all workers.
#[derive(Debug, Default)]
pub struct SharedVars {
    vars: Mutex<HashMap<String, Value>>,
}

impl SharedVars {
    pub fn get(&self, name: &str) -> Value {
        self.vars.lock().get(name).cloned().unwrap_or(Value::Null)
    }

    pub fn set(&self, name: &str, v: Value) {
        self.vars.lock().insert(name.to_string(), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_bound_script() {
        let mut v = VarStore::default();
        v.set("b", Value::Int(2));
        v.bind(7, &["a".to_string(), "b".to_string()]);
        assert_eq!(v.get_slot(1), Value::Int(2));
        assert!(v.set_slot(0, Value::Int(1)).is_ok());
        assert_eq!(v.get("a"), Value::Int(1));
        v.set("dyn", Value::Int(3));
        v.bind(8, &["dyn".to_string()]);
        assert_eq!(v.get_slot(0), Value::Int(3));
        assert_eq!(v.get("a"), Value::Int(1));
        assert_eq!(v.bound_to(), 8);
    }

    #[test]
    fn var_overwrites() {
        let mut v = VarStore::default();
        assert_eq!(v.get("x"), Value::Null);
        v.set("x", Value::Int(1));
        v.set("x", Value::str("a"));
        assert_eq!(v.get("x"), Value::str("a"));
    }

    #[test]
    fn avp_stack_semantics() {
        let mut a = AvpStore::default();
        a.push("x", Value::Int(1));
        a.push("x", Value::Int(2));
        a.push("x", Value::Int(3));
        // index 0 = last added; -1 = first added
        assert_eq!(a.get("x", 0), Value::Int(3));
        assert_eq!(a.get("x", 2), Value::Int(1));
        assert_eq!(a.get("x", -1), Value::Int(1));
        assert_eq!(a.get("x", 3), Value::Null);
        a.append("x", Value::Int(0));
        assert_eq!(a.get("x", -1), Value::Int(0));
        assert!(a.set_at("x", 1, Value::str("b")));
        assert_eq!(
            a.values("x").cloned().collect::<Vec<_>>(),
            vec![Value::Int(3), Value::str("b"), Value::Int(1), Value::Int(0)]
        );
        assert!(a.delete_at("x", 0));
        assert_eq!(a.get("x", 0), Value::str("b"));
        a.replace("x", Value::Int(9));
        assert_eq!(a.count("x"), 1);
        a.delete_all("x");
        assert_eq!(a.count("x"), 0);
        assert!(!a.set_at("x", 0, Value::Int(1)));
    }

    #[test]
    fn shared_vars() {
        let s = SharedVars::default();
        s.set("a", Value::Int(3));
        assert_eq!(s.get("a"), Value::Int(3));
    }
}
