//! The register / key-value model, with values and states interned to small integers
//! so that search states are cheap to hash and compare.

use faultline_history::Value;
use std::collections::HashMap;

/// What one operation does to its key, with values as interned ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Observed this value.
    Read(u32),
    /// Set the value.
    Write(u32),
    /// Set `new` if the value was `old`.
    Cas(u32, u32),
    /// Appended to a list (or a string).
    Append(u32),
}

/// One operation on one key, positioned by its invocation and completion events.
#[derive(Debug, Clone)]
pub(crate) struct KeyOp {
    /// Position of the invocation in the history.
    pub call: u32,
    /// Position of the ok completion; `None` for an indeterminate (`info`) operation,
    /// which may take effect at any time after its call, or never.
    pub ret: Option<u32>,
    pub action: Action,
}

/// Value interner and transition function of one key. Id 0 is the initial value.
#[derive(Debug)]
pub(crate) struct Model {
    ids: HashMap<String, u32>,
    values: Vec<Value>,
    appended: HashMap<(u32, u32), u32>,
}

impl Model {
    /// A model whose initial state is `initial`.
    pub fn new(initial: &Value) -> Model {
        let mut m = Model { ids: HashMap::new(), values: Vec::new(), appended: HashMap::new() };
        m.intern(initial);
        m
    }

    /// The id of `v`, adding it if new.
    pub fn intern(&mut self, v: &Value) -> u32 {
        let key = v.to_string();
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = self.values.len() as u32;
        self.ids.insert(key, id);
        self.values.push(v.clone());
        id
    }

    /// The value behind an id.
    pub fn value(&self, id: u32) -> &Value {
        &self.values[id as usize]
    }

    /// The state after applying `action` to `state`, or `None` if the action cannot
    /// happen in that state (a read of another value, a cas that would not match).
    pub fn step(&mut self, state: u32, action: Action) -> Option<u32> {
        match action {
            Action::Read(v) => (v == state).then_some(state),
            Action::Write(v) => Some(v),
            Action::Cas(old, new) => (old == state).then_some(new),
            Action::Append(v) => Some(self.append(state, v)),
        }
    }

    fn append(&mut self, state: u32, v: u32) -> u32 {
        if let Some(&next) = self.appended.get(&(state, v)) {
            return next;
        }
        let appended = match (self.value(state), self.value(v)) {
            (Value::String(s), Value::String(x)) => Value::String(format!("{s}{x}")),
            (Value::Null, Value::String(x)) => Value::String(x.clone()),
            (Value::Array(items), x) => {
                let mut items = items.clone();
                items.push(x.clone());
                Value::Array(items)
            }
            (_, x) => Value::Array(vec![x.clone()]),
        };
        let next = self.intern(&appended);
        self.appended.insert((state, v), next);
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn steps_registers_and_appends() {
        let mut m = Model::new(&json!(null));
        let (one, two) = (m.intern(&json!(1)), m.intern(&json!(2)));
        assert_eq!(m.step(0, Action::Read(0)), Some(0));
        assert_eq!(m.step(0, Action::Read(one)), None);
        assert_eq!(m.step(0, Action::Write(one)), Some(one));
        assert_eq!(m.step(one, Action::Cas(one, two)), Some(two));
        assert_eq!(m.step(two, Action::Cas(one, two)), None);
        let s = m.step(0, Action::Append(one)).unwrap();
        let s = m.step(s, Action::Append(two)).unwrap();
        assert_eq!(m.value(s), &json!([1, 2]));
        assert_eq!(m.step(s, Action::Read(m.ids[&json!([1, 2]).to_string()])), Some(s));

        let mut m = Model::new(&json!(""));
        let (a, b) = (m.intern(&json!("x")), m.intern(&json!("yz")));
        let s = m.step(0, Action::Append(a)).unwrap();
        let s = m.step(s, Action::Append(b)).unwrap();
        assert_eq!(m.value(s), &json!("xyz"));
    }
}
