//! The register / key-value model. Every value and every state is a small integer
//! (a *node*), so search states are cheap to hash and compare.
//!
//! States are identified by their *content*: two states are the same node exactly
//! when they hold the same value, however they were built. A state reached by
//! appends is stored as its parent and the appended value, with a running hash of
//! its content, never as the whole string or list: a history of 50 clients
//! appending to the same key explores millions of states whose text grows with every
//! append, and keeping that text made the search's memory grow without bound. A
//! state's value is rebuilt only to explain a failure.
//!
//! Content hashes are two polynomial hashes modulo the Mersenne prime 2^61 − 1 (with
//! the kind and the length, 122 bits of hash): appending `x` to a string with hash
//! `h` gives `h · B^len(x) + hash(x)`, so an append costs O(1) after the first time.

use faultline_history::Value;
use super::hash::FastMap;

/// What one operation does to its key, with values as node ids.
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
    /// A multi-register transaction (an index into the model's transactions).
    Txn(u32),
}

/// One micro-op of a multi-register transaction.
#[derive(Debug, Clone)]
pub(crate) enum RegisterMop {
    /// Saw this value in this register (`null`: never written).
    Read(String, Value),
    /// Set this register.
    Write(String, Value),
}

impl Action {
    /// Whether the action is allowed in `state` and is the identity wherever it is
    /// allowed: a read of it, a cas from it to itself. Such an action can be moved to
    /// the front of any linearization (docs/ARCHITECTURE.md §7). A write of the
    /// current value is not one: later in the order it would *reset* the state (w3
    /// then w2 then cas 2→0 is legal; w2 first is not), so it is a real choice.
    pub fn keeps(self, state: u32) -> bool {
        match self {
            Action::Read(v) => v == state,
            Action::Cas(old, new) => old == state && new == state,
            Action::Write(_) | Action::Append(_) | Action::Txn(_) => false,
        }
    }
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

const P: u64 = (1 << 61) - 1;
const BASES: [u64; 2] = [0x1f3d_5b79_a2c4_e681 % P, 0x0c2b_8e4f_7d19_36a5 % P];

fn mul(a: u64, b: u64) -> u64 {
    let x = u128::from(a) * u128::from(b);
    let r = ((x >> 61) as u64) + ((x as u64) & P);
    if r >= P {
        r - P
    } else {
        r
    }
}

fn add(a: u64, b: u64) -> u64 {
    let r = a + b;
    if r >= P {
        r - P
    } else {
        r
    }
}

fn pow(mut base: u64, mut exp: u64) -> u64 {
    let mut out = 1;
    while exp > 0 {
        if exp & 1 == 1 {
            out = mul(out, base);
        }
        base = mul(base, base);
        exp >>= 1;
    }
    out
}

/// The two hashes of a sequence of symbols (each below P).
fn fold(h: [u64; 2], symbols: impl Iterator<Item = u64> + Clone) -> [u64; 2] {
    let mut out = h;
    for (i, base) in BASES.iter().enumerate() {
        for s in symbols.clone() {
            out[i] = add(mul(out[i], *base), s);
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Null,
    Str,
    List,
    /// Numbers, booleans, maps: compared by their JSON text.
    Other,
}

/// What a state holds, as the model compares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Content {
    kind: Kind,
    /// Bytes of a string, items of a list.
    len: u64,
    hash: [u64; 2],
}

/// How a node was made.
#[derive(Debug, Clone, Copy)]
enum Origin {
    /// A value from the history (an index into `values`).
    Value(u32),
    /// `value` appended to the state `parent`.
    Appended { parent: u32, value: u32 },
}

#[derive(Debug, Clone, Copy)]
struct Node {
    content: Content,
    origin: Origin,
    /// This value's hash as one item of a list (for a value from the history).
    item: u64,
    /// B^len for a string from the history: what appending it multiplies a hash by.
    shift: [u64; 2],
}

/// Value interner and transition function of one key. Node 0 is the initial value.
#[derive(Debug)]
pub(crate) struct Model {
    values: Vec<Value>,
    value_bytes: usize,
    nodes: Vec<Node>,
    by_content: FastMap<Content, u32>,
    appended: FastMap<(u32, u32), u32>,
    txns: Vec<Vec<RegisterMop>>,
    /// (state, transaction) → the state after it, or `None` when a read disagrees.
    txn_steps: FastMap<(u32, u32), Option<u32>>,
}

/// The content of a value from the history, its hash as a list item, and the length
/// of its JSON text.
fn content_of(v: &Value) -> (Content, u64, usize) {
    let text = v.to_string();
    let item = fold([0, 0], text.bytes().map(|b| u64::from(b) + 1))[0];
    let content = match v {
        Value::Null => Content { kind: Kind::Null, len: 0, hash: [0, 0] },
        Value::String(s) => Content { kind: Kind::Str, len: s.len() as u64, hash: fold([0, 0], s.bytes().map(|b| u64::from(b) + 1)) },
        Value::Array(items) => {
            let digests: Vec<u64> = items.iter().map(|x| content_of(x).1 + 1).collect();
            Content { kind: Kind::List, len: items.len() as u64, hash: fold([0, 0], digests.into_iter()) }
        }
        _ => Content { kind: Kind::Other, len: text.len() as u64, hash: fold([0, 0], text.bytes().map(|b| u64::from(b) + 1)) },
    };
    (content, item, text.len())
}

impl Model {
    /// A model whose initial state is `initial`.
    pub fn new(initial: &Value) -> Model {
        let mut m = Model { values: Vec::new(), value_bytes: 0, nodes: Vec::new(), by_content: FastMap::default(), appended: FastMap::default(), txns: Vec::new(), txn_steps: FastMap::default() };
        m.intern(initial);
        m
    }

    /// The node of `v`, adding it if new.
    pub fn intern(&mut self, v: &Value) -> u32 {
        let (content, item, text_len) = content_of(v);
        if let Some(&id) = self.by_content.get(&content) {
            // An appended state may already hold this content: the history's value
            // then names it, and a read compares equal to it.
            if matches!(self.nodes[id as usize].origin, Origin::Value(_)) {
                return id;
            }
            let index = self.push_value(v, text_len);
            let node = &mut self.nodes[id as usize];
            node.origin = Origin::Value(index);
            node.item = item;
            if content.kind == Kind::Str {
                node.shift = BASES.map(|b| pow(b, content.len));
            }
            return id;
        }
        let index = self.push_value(v, text_len);
        let shift = if content.kind == Kind::Str { BASES.map(|b| pow(b, content.len)) } else { [1, 1] };
        self.add_node(Node { content, origin: Origin::Value(index), item, shift })
    }

    /// Keeps a value from the history; `text_len` is its JSON text's length, already
    /// known from hashing it, which stands for the bytes it holds.
    fn push_value(&mut self, v: &Value, text_len: usize) -> u32 {
        self.value_bytes += text_len + std::mem::size_of::<Value>();
        self.values.push(v.clone());
        (self.values.len() - 1) as u32
    }

    fn add_node(&mut self, node: Node) -> u32 {
        let id = self.nodes.len() as u32;
        self.by_content.insert(node.content, id);
        self.nodes.push(node);
        id
    }

    /// The value a node holds (rebuilt from its appends, for explanations).
    pub fn value(&self, id: u32) -> Value {
        let mut appended = Vec::new();
        let mut at = id;
        let base = loop {
            match self.nodes[at as usize].origin {
                Origin::Value(v) => break self.values[v as usize].clone(),
                Origin::Appended { parent, value } => {
                    appended.push(value);
                    at = parent;
                }
            }
        };
        appended.iter().rev().fold(base, |state, &v| append_value(state, &self.value(v)))
    }

    /// The state after applying `action` to `state`, or `None` if the action cannot
    /// happen in that state (a read of another value, a cas that would not match).
    pub fn step(&mut self, state: u32, action: Action) -> Option<u32> {
        match action {
            Action::Read(v) => (v == state).then_some(state),
            Action::Write(v) => Some(v),
            Action::Cas(old, new) => (old == state).then_some(new),
            Action::Append(v) => Some(self.append(state, v)),
            Action::Txn(t) => self.txn(state, t),
        }
    }

    /// Adds a multi-register transaction; answers its id for [`Action::Txn`].
    pub fn add_txn(&mut self, mops: Vec<RegisterMop>) -> u32 {
        self.txns.push(mops);
        (self.txns.len() - 1) as u32
    }

    /// The registers (a map; `null` is every register unwritten) after transaction
    /// `t` from `state`, or `None` when one of its reads disagrees.
    fn txn(&mut self, state: u32, t: u32) -> Option<u32> {
        if let Some(&next) = self.txn_steps.get(&(state, t)) {
            return next;
        }
        let mut registers = match self.value(state) {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        let mut ok = true;
        for mop in &self.txns[t as usize] {
            match mop {
                RegisterMop::Read(k, v) => ok &= registers.get(k).unwrap_or(&Value::Null) == v,
                RegisterMop::Write(k, v) => {
                    registers.insert(k.clone(), v.clone());
                }
            }
        }
        let next = ok.then(|| self.intern(&Value::Object(registers)));
        self.txn_steps.insert((state, t), next);
        next
    }

    fn append(&mut self, state: u32, v: u32) -> u32 {
        if let Some(&next) = self.appended.get(&(state, v)) {
            return next;
        }
        let (s, x) = (self.nodes[state as usize], self.nodes[v as usize]);
        let content = match (s.content.kind, x.content.kind) {
            (Kind::Str, Kind::Str) => {
                let hash: [u64; 2] = std::array::from_fn(|i| add(mul(s.content.hash[i], x.shift[i]), x.content.hash[i]));
                Content { kind: Kind::Str, len: s.content.len + x.content.len, hash }
            }
            (Kind::Null, Kind::Str) => x.content,
            (Kind::List, _) => Content { kind: Kind::List, len: s.content.len + 1, hash: fold(s.content.hash, std::iter::once(x.item + 1)) },
            _ => Content { kind: Kind::List, len: 1, hash: fold([0, 0], std::iter::once(x.item + 1)) },
        };
        let next = match self.by_content.get(&content) {
            Some(&id) => id,
            None => self.add_node(Node { content, origin: Origin::Appended { parent: state, value: v }, item: 0, shift: [1, 1] }),
        };
        self.appended.insert((state, v), next);
        next
    }

    /// Bytes this model holds now: its values, its nodes and its tables.
    pub fn bytes(&self) -> usize {
        fn table<K, V>(m: &FastMap<K, V>) -> usize {
            m.capacity() * 8 / 7 * (std::mem::size_of::<(K, V)>() + 1)
        }
        self.value_bytes + self.nodes.capacity() * std::mem::size_of::<Node>() + table(&self.by_content) + table(&self.appended) + table(&self.txn_steps)
    }
}

/// `x` appended to `state`: strings concatenate, lists grow, anything else becomes
/// a list of `x`.
fn append_value(state: Value, x: &Value) -> Value {
    match (state, x) {
        (Value::String(s), Value::String(x)) => Value::String(s + x),
        (Value::Null, Value::String(x)) => Value::String(x.clone()),
        (Value::Array(mut items), x) => {
            items.push(x.clone());
            Value::Array(items)
        }
        (_, x) => Value::Array(vec![x.clone()]),
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
        assert_eq!(m.value(s), json!([1, 2]));
        let read = m.intern(&json!([1, 2]));
        assert_eq!(m.step(s, Action::Read(read)), Some(s), "a read of the list names the appended state");

        let mut m = Model::new(&json!(""));
        let (a, b) = (m.intern(&json!("x")), m.intern(&json!("yz")));
        let s = m.step(0, Action::Append(a)).unwrap();
        let s = m.step(s, Action::Append(b)).unwrap();
        assert_eq!(m.value(s), json!("xyz"));
    }

    #[test]
    fn states_with_the_same_content_are_one_state() {
        let mut m = Model::new(&json!(""));
        let (ab, c, a, bc) = (m.intern(&json!("ab")), m.intern(&json!("c")), m.intern(&json!("a")), m.intern(&json!("bc")));
        let s1 = m.step(0, Action::Append(ab)).and_then(|s| m.step(s, Action::Append(c))).unwrap();
        let s2 = m.step(0, Action::Append(a)).and_then(|s| m.step(s, Action::Append(bc))).unwrap();
        assert_eq!(s1, s2, "\"ab\"+\"c\" and \"a\"+\"bc\" are the same string");
        let read = m.intern(&json!("abc"));
        assert_eq!(m.step(s1, Action::Read(read)), Some(s1), "a read of \"abc\" after the appends");
        assert_eq!(m.value(read), json!("abc"));
        // Kinds stay apart: "1" is not 1, [] is not "", null is not [] nor [null].
        let ids = [json!("1"), json!(1), json!([]), json!(""), json!(null), json!([null])].map(|v| m.intern(&v));
        let mut unique = ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 6, "six contents, six states: {ids:?}");
        assert_eq!(ids[3], 0, "\"\" is the initial state");
    }

    #[test]
    fn long_append_chains_cost_constant_memory_per_state() {
        let mut m = Model::new(&json!(""));
        let x = m.intern(&json!("x 12 34 y"));
        let mut s = 0;
        for _ in 0..10_000 {
            s = m.step(s, Action::Append(x)).unwrap();
        }
        assert!(m.bytes() < 3_000_000, "{} bytes for 10,000 appended states (about 200 a state)", m.bytes());
        assert_eq!(m.value(s).as_str().map(str::len), Some(90_000));
    }
}
