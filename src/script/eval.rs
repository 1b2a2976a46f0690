//! Reading and writing variables, arithmetic, comparisons and conditions (OpenSIPS `route.c`
//! `eval_elem` / `comp_scriptvar`, `action.c` `do_assign`, `pvar.c` setters).

use super::ast::{AssignOp, BinOp, CmpOp};
use super::errinfo::ErrInfo;
use super::ir::{CCall, CCond, CExpr, COperand, CRouteCall, CStmt};
use super::module::{RunCtx, module_pv};
use super::pv::{FmtPart, Format, PvIndex, PvInner, PvSpec, parse_format};
use super::pvclass::PvClass;
use super::pvnames;
use super::text::StrBuilder;
use super::transform::{TrEnv, bytes_to_value, eval_chain, ip_matches, value_bytes};
use super::value::{Str, Value};
use std::borrow::Cow;
use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// The variable or transformation needs something the runtime does not provide yet (the message).
    #[error("{0} is not available here")]
    Unavailable(String),
    #[error("{0}")]
    Type(String),
    #[error("`{0}` is read-only")]
    ReadOnly(String),
}

/// Why a condition stopped the script instead of giving true or false.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Halt {
    /// A function returned 0, or `exit` ran in a nested action.
    Exit,
    Drop,
}

/// What conditions and expressions need from the interpreter: calling functions and routes.
pub trait Invoke {
    fn call(&mut self, ctx: &mut RunCtx<'_>, call: &CCall) -> i32;
    /// Runs a sub-route; Err when it ended the whole script run.
    fn route(&mut self, ctx: &mut RunCtx<'_>, rc: &CRouteCall) -> Result<i32, Halt>;
    fn stmt(&mut self, ctx: &mut RunCtx<'_>, s: &CStmt) -> Result<i32, Halt>;
}

fn strip_avp_prefix(name: &str) -> &str {
    name.strip_prefix("s:")
        .or_else(|| name.strip_prefix("i:"))
        .unwrap_or(name)
}

/// Case-insensitive comparison; on a common prefix the longer string is greater (strncasecmp).
fn cmp_nocase(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    for (x, y) in a.iter().zip(b) {
        match x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    a.len().cmp(&b.len())
}

fn ord_result(op: CmpOp, o: Ordering) -> bool {
    match op {
        CmpOp::Eq | CmpOp::Match => o == Ordering::Equal,
        CmpOp::Ne | CmpOp::NotMatch => o != Ordering::Equal,
        CmpOp::Gt => o == Ordering::Greater,
        CmpOp::Lt => o == Ordering::Less,
        CmpOp::Ge => o != Ordering::Less,
        CmpOp::Le => o != Ordering::Greater,
    }
}

/// Integer `a op b` (32-bit, wrapping; division by zero logs and gives 0).
#[inline]
pub fn int_op(op: BinOp, a: i32, b: i32) -> i32 {
    match op {
        BinOp::Add => a.wrapping_add(b),
        BinOp::Sub => a.wrapping_sub(b),
        BinOp::Mul => a.wrapping_mul(b),
        BinOp::Div | BinOp::Mod if b == 0 => {
            tracing::error!("division by zero in script expression");
            0
        }
        BinOp::Div => a.wrapping_div(b),
        BinOp::Mod => a.wrapping_rem(b),
        BinOp::BitAnd => a & b,
        BinOp::BitOr => a | b,
        BinOp::BitXor => a ^ b,
        BinOp::Shl => a.wrapping_shl(b as u32),
        BinOp::Shr => a.wrapping_shr(b as u32),
    }
}

/// `l op r` with OpenSIPS typing: integer arithmetic when the left is integer-typed (a NULL right
/// counts as 0), concatenation and equal-length bitwise ops when it is a string.
pub fn arith(op: BinOp, l: &Value, r: &Value) -> Result<Value, EvalError> {
    if l.is_null() {
        return Err(EvalError::Type(format!(
            "NULL left operand of `{}`",
            op.symbol()
        )));
    }
    if let (Some(a), false) = (l.as_int(), matches!(l, Value::Str(_))) {
        let b = match r {
            Value::Null => 0,
            v => v.as_int().ok_or_else(|| {
                EvalError::Type(format!(
                    "integer `{}` string: unsupported operand types",
                    op.symbol()
                ))
            })?,
        };
        return Ok(Value::Int(int_op(op, a, b)));
    }
    let ls = l.as_str().unwrap_or_default();
    match op {
        BinOp::Add => {
            let rs = r.text().unwrap_or_default();
            Ok(Value::Str(Str::concat(&ls, &rs)))
        }
        BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor => {
            let rs = r
                .as_str()
                .ok_or_else(|| EvalError::Type("NULL right operand".into()))?;
            let (a, b) = (value_bytes(&ls), value_bytes(&rs));
            if a.len() != b.len() {
                return Err(EvalError::Type(format!(
                    "`{}` on strings of different lengths",
                    op.symbol()
                )));
            }
            let f = |x: u8, y: u8| match op {
                BinOp::BitAnd => x & y,
                BinOp::BitOr => x | y,
                _ => x ^ y,
            };
            Ok(bytes_to_value(
                a.iter().zip(b.iter()).map(|(x, y)| f(*x, *y)).collect(),
            ))
        }
        _ => Err(EvalError::Type(format!(
            "`{}` is not defined on strings",
            op.symbol()
        ))),
    }
}

impl RunCtx<'_> {
    /// Name inside `$name(...)`: borrowed from the spec when literal (no allocation per access).
    pub fn inner_name<'p>(&mut self, spec: &'p PvSpec) -> Result<Cow<'p, str>, EvalError> {
        match &spec.inner {
            Some(PvInner::Literal(s)) => Ok(Cow::Borrowed(s)),
            Some(PvInner::Pv(p)) => Ok(Cow::Owned(
                self.get_pv(p)?
                    .as_str()
                    .map(|s| s.into_owned())
                    .unwrap_or_default(),
            )),
            None => Ok(Cow::Borrowed("")),
        }
    }

    fn index(&mut self, spec: &PvSpec) -> Result<Option<PvIndex>, EvalError> {
        Ok(match &spec.index {
            Some(PvIndex::Pv(p)) => {
                let v = self.get_pv(p)?;
                let i = v
                    .as_int()
                    .or_else(|| v.as_str().and_then(|s| Value::parse_int(&s)))
                    .ok_or_else(|| {
                        EvalError::Type(format!("index `{}` is not an integer", p.text))
                    })?;
                Some(PvIndex::At(i))
            }
            other => other.clone(),
        })
    }

    /// Value of a variable before transformations.
    fn base_value(&mut self, spec: &PvSpec) -> Result<Value, EvalError> {
        // `$var(name)` with a literal name (the only specs with a slot): no name lookup.
        if let Some(slot) = spec.slot
            && self.vars.bound_to() != 0
        {
            return Ok(self.vars.get_slot(slot));
        }
        Ok(match spec.class {
            PvClass::Var => match spec.slot {
                Some(slot) if self.vars.bound_to() != 0 => self.vars.get_slot(slot),
                _ => {
                    let n = self.inner_name(spec)?;
                    self.vars.get(&n)
                }
            },
            PvClass::Avp => {
                let n = self.inner_name(spec)?;
                let n = strip_avp_prefix(&n);
                match self.index(spec)? {
                    None => self.avps.get(n, 0),
                    Some(PvIndex::At(i)) => self.avps.get(n, i),
                    // `[*]` joins every value with ", " (OpenSIPS PV_FIELD_DELIM).
                    Some(PvIndex::All) => {
                        let all: Vec<String> = self
                            .avps
                            .values(n)
                            .map(|v| v.to_display().into_owned())
                            .collect();
                        if all.is_empty() {
                            Value::Null
                        } else {
                            Value::str(all.join(", "))
                        }
                    }
                    Some(_) => Value::Null,
                }
            }
            PvClass::Shv => {
                let n = self.inner_name(spec)?;
                self.shv.get(&n)
            }
            PvClass::Param => {
                let n = self.inner_name(spec)?;
                match Value::parse_int(&n) {
                    Some(i) if i >= 1 => self
                        .params
                        .get(i as usize - 1)
                        .map(|p| p.1.clone())
                        .unwrap_or(Value::Null),
                    Some(_) => Value::Null,
                    None => self
                        .params
                        .iter()
                        .find(|p| p.0.as_deref() == Some(n.as_ref()))
                        .map(|p| p.1.clone())
                        .unwrap_or(Value::Null),
                }
            }
            PvClass::Return => {
                let n = self.inner_name(spec)?;
                match Value::parse_int(&n) {
                    Some(i) if i >= 0 => {
                        self.returns.get(i as usize).cloned().unwrap_or(Value::Null)
                    }
                    _ => Value::Null,
                }
            }
            PvClass::Rc => Value::Int(self.last_rc),
            PvClass::Err => ErrInfo::pv(self.err.as_ref(), &spec.name[4..])
                .ok_or_else(|| EvalError::Unavailable(format!("${}", spec.name)))?,
            _ => match self.read_message_pv(spec) {
                Some(v) => v,
                None => match module_pv(&spec.name).and_then(|p| p.get) {
                    Some(get) => get(self, spec).unwrap_or(Value::Null),
                    None => return Err(EvalError::Unavailable(format!("${}", spec.name))),
                },
            },
        })
    }

    /// A message pseudo-variable; a parse error met while reading it is kept for `error_route`.
    #[inline]
    pub(crate) fn read_message_pv(&mut self, spec: &PvSpec) -> Option<Value> {
        self.msg.as_mut()?.read_pv(spec, &mut self.err)
    }

    /// The integer of an integer-typed `$var(name)` read straight from its slot (no
    /// transformation); None for any other variable or value.
    #[inline]
    pub(crate) fn slot_int(&self, spec: &PvSpec) -> Option<i32> {
        match spec.slot {
            Some(slot) if spec.trans.is_empty() && self.vars.bound_to() != 0 => {
                self.vars.slot_int(slot)
            }
            _ => None,
        }
    }

    /// Value of a variable, with its transformations applied.
    #[inline]
    pub fn get_pv(&mut self, spec: &PvSpec) -> Result<Value, EvalError> {
        // `$var(name)` with a literal name and no transformation: a slot read.
        if let Some(slot) = spec.slot
            && spec.trans.is_empty()
            && self.vars.bound_to() != 0
        {
            return Ok(self.vars.get_slot(slot));
        }
        self.get_pv_slow(spec)
    }

    fn get_pv_slow(&mut self, spec: &PvSpec) -> Result<Value, EvalError> {
        let v = match spec.class.is_message() {
            true => match self.read_message_pv(spec) {
                Some(v) => v,
                None => self.base_value(spec)?,
            },
            false => self.base_value(spec)?,
        };
        if spec.trans.is_empty() {
            return Ok(v);
        }
        eval_chain(&spec.trans, v, self).map_err(|e| EvalError::Unavailable(e.to_string()))
    }

    /// Assigns (`=`, `:=`, `+=`...) to a writable variable; `Value::Null` deletes where OpenSIPS does.
    pub fn set_pv(&mut self, spec: &PvSpec, op: AssignOp, v: Value) -> Result<(), EvalError> {
        let v = match (op, spec.slot) {
            (AssignOp::Set | AssignOp::Replace, Some(slot)) if self.vars.bound_to() != 0 => {
                match self.vars.set_slot(slot, v) {
                    Ok(()) => return Ok(()),
                    Err(v) => v,
                }
            }
            _ => v,
        };
        let v = match op {
            AssignOp::Compound(bop) => {
                let cur = self.base_value(spec)?;
                if cur.is_null() || v.is_null() {
                    return Err(EvalError::Type(format!(
                        "NULL operand in `{}=`",
                        bop.symbol()
                    )));
                }
                if !matches!(bop, BinOp::Add) && (cur.as_int().is_none() || v.as_int().is_none()) {
                    return Err(EvalError::Type(format!(
                        "`{}=` needs integers",
                        bop.symbol()
                    )));
                }
                if bop == BinOp::Add && matches!(cur, Value::Str(_)) != matches!(v, Value::Str(_)) {
                    return Err(EvalError::Type(
                        "`+=` on a string and an integer: unsupported operand types".into(),
                    ));
                }
                arith(bop, &cur, &v)?
            }
            _ => v,
        };
        match spec.name.as_str() {
            "var" => {
                // Slots are valid once the interpreter bound the table to the running script.
                let v = match spec.slot {
                    Some(slot) if self.vars.bound_to() != 0 => match self.vars.set_slot(slot, v) {
                        Ok(()) => return Ok(()),
                        Err(v) => v,
                    },
                    _ => v,
                };
                let n = self.inner_name(spec)?;
                self.vars.set(&n, v);
            }
            "shv" => {
                let n = self.inner_name(spec)?;
                self.shv.set(&n, v);
            }
            "avp" => {
                let n = self.inner_name(spec)?;
                let n = strip_avp_prefix(&n);
                let idx = self.index(spec)?;
                match (op, idx, v.is_null()) {
                    (AssignOp::Replace, _, true) | (_, Some(PvIndex::All), true) => {
                        self.avps.delete_all(n)
                    }
                    (_, None, true) => {
                        self.avps.delete_at(n, 0);
                    }
                    (_, Some(PvIndex::At(i)), true) => {
                        self.avps.delete_at(n, i);
                    }
                    (AssignOp::Replace, _, false) | (_, Some(PvIndex::All), false) => {
                        self.avps.replace(n, v)
                    }
                    (AssignOp::Compound(_), None, false) => {
                        if !self.avps.set_at(n, 0, v.clone()) {
                            self.avps.push(n, v);
                        }
                    }
                    (_, Some(PvIndex::Append), false) => self.avps.append(n, v),
                    (_, Some(PvIndex::At(i)), false) => {
                        if !self.avps.set_at(n, i, v) {
                            return Err(EvalError::Type(format!(
                                "no value at index {i} of $avp({n})"
                            )));
                        }
                    }
                    (_, None, false) => self.avps.push(n, v),
                    (_, Some(PvIndex::Append), true) | (_, Some(PvIndex::Pv(_)), _) => {}
                }
            }
            name if pvnames::lookup(name).is_some_and(|i| !i.writable) => {
                return Err(EvalError::ReadOnly(format!("${name}")));
            }
            name if module_pv(name).is_some() => match module_pv(name).and_then(|p| p.set) {
                Some(set) => set(self, spec, &v).map_err(EvalError::Type)?,
                None => return Err(EvalError::ReadOnly(format!("${name}"))),
            },
            _ => match self.msg.as_mut() {
                Some(m) => m.set_pv(spec, &v).map_err(EvalError::Type)?,
                None => return Err(EvalError::Unavailable(format!("${}", spec.name))),
            },
        }
        Ok(())
    }

    /// [`RunCtx::expand`] as a script string: a lone variable gives its value's text as is, and
    /// short results are built inline (no allocation).
    pub fn expand_str(&mut self, f: &Format) -> Str {
        match f.parts.as_slice() {
            [] => Str::new(),
            [FmtPart::Lit(s)] => s.clone(),
            [FmtPart::Pv(pv)] => match self.get_pv(pv) {
                Ok(v) => v.into_text().unwrap_or_else(|| Str::from("<null>")),
                Err(e) => {
                    tracing::warn!("{}: {e}", pv.text);
                    Str::from("<null>")
                }
            },
            parts => {
                let mut out = StrBuilder::new();
                for p in parts {
                    match p {
                        FmtPart::Lit(s) => out.push_str(s),
                        FmtPart::Pv(pv) => match self.get_pv(pv) {
                            Ok(v) => {
                                let _ = v.write_display(&mut out);
                            }
                            Err(e) => {
                                tracing::warn!("{}: {e}", pv.text);
                                out.push_str("<null>");
                            }
                        },
                    }
                }
                out.finish()
            }
        }
    }

    /// Expands a format string; unreadable variables print as `<null>` (and are logged).
    pub fn expand(&mut self, f: &Format) -> String {
        let mut out = String::new();
        for p in &f.parts {
            match p {
                FmtPart::Lit(s) => out.push_str(s),
                FmtPart::Pv(pv) => match self.get_pv(pv) {
                    Ok(v) => {
                        let _ = v.write_display(&mut out);
                    }
                    Err(e) => {
                        tracing::warn!("{}: {e}", pv.text);
                        out.push_str("<null>");
                    }
                },
            }
        }
        out
    }

    pub fn eval_expr(&mut self, e: &CExpr, inv: &mut dyn Invoke) -> Result<Value, EvalError> {
        Ok(match e {
            CExpr::Pv(p) => return self.get_pv(p),
            CExpr::Int(i) => Value::Int(*i),
            CExpr::Str(s) => Value::str(s.clone()),
            CExpr::Null => Value::Null,
            CExpr::Call(c) => {
                let rc = inv.call(self, c);
                self.last_rc = rc;
                Value::Int(rc)
            }
            CExpr::Binary(op, a, b) => {
                let l = self.eval_expr(a, inv)?;
                let r = self.eval_expr(b, inv)?;
                arith(*op, &l, &r)?
            }
            CExpr::BitNot(a) => match self.eval_expr(a, inv)?.as_int() {
                Some(i) => Value::Int(!i),
                None => return Err(EvalError::Type("`~` needs an integer".into())),
            },
            CExpr::Neg(a) => match self.eval_expr(a, inv)?.as_int() {
                Some(i) => Value::Int(i.wrapping_neg()),
                None => return Err(EvalError::Type("`-` needs an integer".into())),
            },
            CExpr::Cond(c) => Value::Int(self.eval_cond(c, inv).unwrap_or(false) as i32),
        })
    }

    /// `lhs op rhs` (OpenSIPS `comp_scriptvar`); type mismatches are false (and logged).
    pub fn compare(&mut self, lhs: &PvSpec, op: CmpOp, rhs: &COperand) -> Result<bool, EvalError> {
        let l = self.get_pv(lhs)?;
        let r = match rhs {
            COperand::Null => {
                return Ok(match op {
                    CmpOp::Eq => l.is_null(),
                    CmpOp::Ne => !l.is_null(),
                    _ => false,
                });
            }
            COperand::Pv(p) => self.get_pv(p)?,
            // A string literal: compared as strings (the left's text borrowed, not copied).
            COperand::Str(s) => {
                return Ok(match l.with_text(|a| cmp_nocase(a, s)) {
                    Some(o) => ord_result(op, o),
                    None => matches!(op, CmpOp::Ne | CmpOp::NotMatch),
                });
            }
            COperand::Int(i) => Value::Int(*i),
            COperand::Net(n) => {
                let Some(m) = l.with_text(|ls| ip_matches(ls, n).unwrap_or(false)) else {
                    return Ok(op == CmpOp::Ne);
                };
                return Ok(if op == CmpOp::Eq { m } else { !m });
            }
            COperand::Regex(re) => {
                let Some(m) = l.with_text(|ls| re.is_match(ls)) else {
                    return Ok(op == CmpOp::NotMatch);
                };
                return Ok(if op == CmpOp::Match { m } else { !m });
            }
        };
        if l.is_null() || r.is_null() {
            let both = l.is_null() && r.is_null();
            return Ok(match op {
                CmpOp::Eq | CmpOp::Match | CmpOp::Ge | CmpOp::Le => both,
                CmpOp::Ne | CmpOp::NotMatch => !both,
                _ => false,
            });
        }
        let rhs_is_int_literal = matches!(rhs, COperand::Int(_));
        let ints = (l.as_int(), r.as_int());
        if rhs_is_int_literal || (ints.0.is_some() && ints.1.is_some()) {
            let (Some(a), Some(b)) = ints else {
                return Err(EvalError::Type(format!(
                    "`{}` has no integer value to compare with a number",
                    lhs.text
                )));
            };
            if matches!(op, CmpOp::Match | CmpOp::NotMatch) {
                return Ok((a == b) == (op == CmpOp::Match));
            }
            return Ok(ord_result(op, a.cmp(&b)));
        }
        let (Some(a), Some(b)) = (l.text(), r.text()) else {
            return Err(EvalError::Type(format!("cannot compare `{}`", lhs.text)));
        };
        if matches!(op, CmpOp::Match | CmpOp::NotMatch) {
            let re = super::compiler::posix_regex(&b).map_err(EvalError::Type)?;
            return Ok(re.is_match(&a) == (op == CmpOp::Match));
        }
        Ok(ord_result(op, cmp_nocase(&a, &b)))
    }

    /// Evaluates a condition; Err(Halt) when a called function or nested action stopped the script.
    pub fn eval_cond(&mut self, c: &CCond, inv: &mut dyn Invoke) -> Result<bool, Halt> {
        Ok(match c {
            CCond::And(a, b) => self.eval_cond(a, inv)? && self.eval_cond(b, inv)?,
            CCond::Or(a, b) => self.eval_cond(a, inv)? || self.eval_cond(b, inv)?,
            CCond::Not(a) => !self.eval_cond(a, inv)?,
            // `$var(x) op <integer>` on an integer-typed $var: no value is built.
            CCond::Cmp {
                lhs,
                op,
                rhs: COperand::Int(b),
            } if let Some(a) = self.slot_int(lhs) => {
                if matches!(op, CmpOp::Match | CmpOp::NotMatch) {
                    (a == *b) == (*op == CmpOp::Match)
                } else {
                    ord_result(*op, a.cmp(b))
                }
            }
            CCond::Cmp { lhs, op, rhs } => match self.compare(lhs, *op, rhs) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!("comparison evaluated as false: {e}");
                    false
                }
            },
            CCond::Arith(e) => match self.eval_expr(e, inv) {
                Ok(v) => v.is_true(),
                Err(e) => {
                    tracing::warn!("expression evaluated as false: {e}");
                    false
                }
            },
            CCond::Call(call) => {
                let rc = inv.call(self, call);
                self.last_rc = rc;
                if rc == 0 {
                    return Err(Halt::Exit);
                }
                rc > 0
            }
            CCond::Route(rc) => {
                let r = inv.route(self, rc)?;
                self.last_rc = r;
                if r == 0 {
                    return Err(Halt::Exit);
                }
                r > 0
            }
            CCond::Pv(p) => match self.get_pv(p) {
                Ok(v) => v.is_true(),
                Err(e) => {
                    tracing::warn!("{}: {e}", p.text);
                    false
                }
            },
            CCond::Int(i) => *i > 0,
            CCond::Assign(s) => inv.stmt(self, s)? > 0,
        })
    }
}

impl TrEnv for RunCtx<'_> {
    fn pv_value(&mut self, pv: &PvSpec) -> Value {
        self.get_pv(pv).unwrap_or(Value::Null)
    }

    fn expand(&mut self, text: &str) -> Option<String> {
        let f = parse_format(text, &pvnames::is_known).ok()?;
        Some(RunCtx::expand(self, &f))
    }
}
