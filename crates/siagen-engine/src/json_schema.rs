//! A JSON Schema subset compiled into a byte-level pushdown recogniser, the
//! basis of grammar-constrained decoding ([`crate::constrain`]).
//!
//! Supported: `type` (object, array, string, number, integer, boolean, null,
//! or a list of them), `properties`, `required`, `additionalProperties`
//! (boolean or schema; `false` by default in strict mode, as OpenAI's strict
//! structured outputs), `items`, `enum`, `const`, `minItems`/`maxItems`,
//! `minLength`/`maxLength`, `anyOf`, and the annotations `title`,
//! `description`, `$schema`, `$id`, `$comment`, `default`, `examples`.
//! Anything else (`$ref`, `pattern`, `minimum`, `oneOf`, `format`...) is
//! refused with an error naming the keyword and where it is: a schema that is
//! silently half-enforced would be worse than a clear refusal.
//!
//! The recogniser accepts compact JSON only: no whitespace anywhere outside
//! strings. That keeps every output bounded and makes "the value is complete"
//! mean "nothing may follow", so generation stops right after the value.
//! Object keys are written without escapes, numbers with at most 15 integer
//! and 15 fraction digits (they round-trip through `f64`/`i64`), strings
//! without `\u` escapes of lone surrogates (strict parsers reject them).

use serde_json::Value;

use crate::error::EngineError;

type NodeId = u32;

/// Most properties per object and values per `enum` (bit masks of 64 bits).
pub const MAX_ALTERNATIVES: usize = 64;
const MAX_INT_DIGITS: u8 = 15;
const MAX_FRAC_DIGITS: u8 = 15;
const MAX_EXP_DIGITS: u8 = 2;
const NONE: u32 = u32::MAX;

#[derive(Debug, Clone)]
enum Node {
    /// Serialised JSON texts (enum / const / true / false / null).
    Lit(Vec<Vec<u8>>),
    Str {
        min: u32,
        max: u32,
    },
    Num {
        integer: bool,
    },
    Arr {
        items: NodeId,
        min: u32,
        max: u32,
    },
    Obj {
        props: Vec<(Vec<u8>, NodeId)>,
        required: u64,
        /// Schema of properties not declared; `None` forbids them.
        extra: Option<NodeId>,
    },
    AnyOf(Vec<NodeId>),
}

/// A compiled schema: what `response_format` asks the output to be.
#[derive(Debug, Clone)]
pub struct JsonSchema {
    nodes: Vec<Node>,
    root: NodeId,
    any: Option<NodeId>,
}

fn err(path: &str, msg: impl std::fmt::Display) -> EngineError {
    let at = if path.is_empty() { "/" } else { path };
    EngineError::BadRequest(format!("json_schema at {at}: {msg}"))
}

const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "$schema",
    "$id",
    "$comment",
    "default",
    "examples",
];
const KNOWN: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "anyOf",
];

impl JsonSchema {
    /// Compiles `schema`. `strict` makes `additionalProperties` default to
    /// `false` (otherwise undeclared properties of any value are allowed).
    pub fn compile(schema: &Value, strict: bool) -> Result<Self, EngineError> {
        let mut s = Self {
            nodes: Vec::new(),
            root: 0,
            any: None,
        };
        s.root = s.node(schema, "", strict)?;
        Ok(s)
    }

    /// Any JSON object (`response_format: {"type": "json_object"}`).
    pub fn any_object() -> Self {
        let mut s = Self {
            nodes: Vec::new(),
            root: 0,
            any: None,
        };
        let any = s.any_node();
        s.root = s.push(Node::Obj {
            props: Vec::new(),
            required: 0,
            extra: Some(any),
        });
        s
    }

    fn push(&mut self, n: Node) -> NodeId {
        self.nodes.push(n);
        (self.nodes.len() - 1) as NodeId
    }

    /// The node for "any JSON value", created once.
    fn any_node(&mut self) -> NodeId {
        if let Some(a) = self.any {
            return a;
        }
        let any = self.push(Node::AnyOf(Vec::new()));
        self.any = Some(any);
        let alts = vec![
            self.push(Node::Lit(vec![b"null".to_vec()])),
            self.push(Node::Lit(vec![b"true".to_vec(), b"false".to_vec()])),
            self.push(Node::Num { integer: false }),
            self.push(Node::Str { min: 0, max: NONE }),
            self.push(Node::Arr {
                items: any,
                min: 0,
                max: NONE,
            }),
            self.push(Node::Obj {
                props: Vec::new(),
                required: 0,
                extra: Some(any),
            }),
        ];
        self.nodes[any as usize] = Node::AnyOf(alts);
        any
    }

    fn node(&mut self, v: &Value, path: &str, strict: bool) -> Result<NodeId, EngineError> {
        let obj = match v {
            Value::Bool(true) => return Ok(self.any_node()),
            Value::Bool(false) => return Err(err(path, "the schema `false` matches nothing")),
            Value::Object(o) => o,
            _ => return Err(err(path, "a schema must be an object or a boolean")),
        };
        for k in obj.keys() {
            if !KNOWN.contains(&k.as_str()) && !ANNOTATIONS.contains(&k.as_str()) {
                return Err(err(path, format!("unsupported keyword '{k}'")));
            }
        }
        if let Some(alts) = obj.get("anyOf") {
            let Value::Array(alts) = alts else {
                return Err(err(path, "anyOf must be an array"));
            };
            if alts.is_empty() {
                return Err(err(path, "anyOf must not be empty"));
            }
            if obj
                .keys()
                .any(|k| KNOWN.contains(&k.as_str()) && k != "anyOf")
            {
                return Err(err(
                    path,
                    "anyOf cannot be combined with other keywords here; move them into each alternative",
                ));
            }
            let mut ids = Vec::new();
            for (i, a) in alts.iter().enumerate() {
                ids.push(self.node(a, &format!("{path}/anyOf/{i}"), strict)?);
            }
            return Ok(self.push(Node::AnyOf(ids)));
        }
        if obj.contains_key("enum") || obj.contains_key("const") {
            return self.literals(obj, path, strict);
        }
        let types: Vec<String> = match obj.get("type") {
            None => {
                let has = |ks: &[&str]| ks.iter().any(|k| obj.contains_key(*k));
                if has(&["properties", "required", "additionalProperties"]) {
                    vec!["object".into()]
                } else if has(&["items", "minItems", "maxItems"]) {
                    vec!["array".into()]
                } else if has(&["minLength", "maxLength"]) {
                    vec!["string".into()]
                } else {
                    return Ok(self.any_node());
                }
            }
            Some(Value::String(t)) => vec![t.clone()],
            Some(Value::Array(ts)) if !ts.is_empty() => ts
                .iter()
                .map(|t| {
                    t.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| err(path, "type must be a string or a list of strings"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(err(
                    path,
                    "type must be a string or a non-empty list of strings",
                ))
            }
        };
        let mut ids = Vec::new();
        for t in &types {
            ids.push(self.typed(t, obj, path, strict)?);
        }
        Ok(if ids.len() == 1 {
            ids[0]
        } else {
            self.push(Node::AnyOf(ids))
        })
    }

    fn typed(
        &mut self,
        t: &str,
        obj: &serde_json::Map<String, Value>,
        path: &str,
        strict: bool,
    ) -> Result<NodeId, EngineError> {
        let count = |k: &str| -> Result<Option<u32>, EngineError> {
            match obj.get(k) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|&n| n < NONE)
                    .map(Some)
                    .ok_or_else(|| err(path, format!("{k} must be a non-negative integer"))),
            }
        };
        let only = |allowed: &[&str]| -> Result<(), EngineError> {
            for k in obj.keys() {
                if KNOWN.contains(&k.as_str()) && k != "type" && !allowed.contains(&k.as_str()) {
                    return Err(err(path, format!("'{k}' does not apply to type '{t}'")));
                }
            }
            Ok(())
        };
        match t {
            "null" | "boolean" | "number" | "integer" => only(&[])?,
            "string" => only(&["minLength", "maxLength"])?,
            "array" => only(&["items", "minItems", "maxItems"])?,
            "object" => only(&["properties", "required", "additionalProperties"])?,
            other => return Err(err(path, format!("unknown type '{other}'"))),
        }
        Ok(match t {
            "null" => self.push(Node::Lit(vec![b"null".to_vec()])),
            "boolean" => self.push(Node::Lit(vec![b"true".to_vec(), b"false".to_vec()])),
            "number" => self.push(Node::Num { integer: false }),
            "integer" => self.push(Node::Num { integer: true }),
            "string" => {
                let min = count("minLength")?.unwrap_or(0);
                let max = count("maxLength")?.unwrap_or(NONE);
                if min > max {
                    return Err(err(path, "minLength is greater than maxLength"));
                }
                self.push(Node::Str { min, max })
            }
            "array" => {
                let min = count("minItems")?.unwrap_or(0);
                let max = count("maxItems")?.unwrap_or(NONE);
                if min > max {
                    return Err(err(path, "minItems is greater than maxItems"));
                }
                let items = match obj.get("items") {
                    None => self.any_node(),
                    Some(i) => self.node(i, &format!("{path}/items"), strict)?,
                };
                self.push(Node::Arr { items, min, max })
            }
            _ => self.object(obj, path, strict)?,
        })
    }

    fn object(
        &mut self,
        obj: &serde_json::Map<String, Value>,
        path: &str,
        strict: bool,
    ) -> Result<NodeId, EngineError> {
        let mut props = Vec::new();
        if let Some(p) = obj.get("properties") {
            let Value::Object(p) = p else {
                return Err(err(path, "properties must be an object"));
            };
            if p.len() > MAX_ALTERNATIVES {
                return Err(err(
                    path,
                    format!("at most {MAX_ALTERNATIVES} properties per object are supported"),
                ));
            }
            for (name, sub) in p {
                if name.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
                    return Err(err(
                        path,
                        format!("property name {name:?} has a quote, backslash or control character, which is not supported"),
                    ));
                }
                let id = self.node(sub, &format!("{path}/properties/{name}"), strict)?;
                props.push((name.as_bytes().to_vec(), id));
            }
        }
        let mut required = 0u64;
        if let Some(r) = obj.get("required") {
            let Value::Array(r) = r else {
                return Err(err(path, "required must be an array of property names"));
            };
            for name in r {
                let name = name
                    .as_str()
                    .ok_or_else(|| err(path, "required must be an array of property names"))?;
                let i = props
                    .iter()
                    .position(|(n, _)| n == name.as_bytes())
                    .ok_or_else(|| {
                        err(
                            path,
                            format!("required property '{name}' is not declared in properties"),
                        )
                    })?;
                required |= 1 << i;
            }
        }
        let extra = match obj.get("additionalProperties") {
            None if strict => None,
            None | Some(Value::Bool(true)) => Some(self.any_node()),
            Some(Value::Bool(false)) => None,
            Some(s) => Some(self.node(s, &format!("{path}/additionalProperties"), strict)?),
        };
        Ok(self.push(Node::Obj {
            props,
            required,
            extra,
        }))
    }

    fn literals(
        &mut self,
        obj: &serde_json::Map<String, Value>,
        path: &str,
        strict: bool,
    ) -> Result<NodeId, EngineError> {
        let values: Vec<Value> = match (obj.get("enum"), obj.get("const")) {
            (Some(_), Some(_)) => return Err(err(path, "use either enum or const, not both")),
            (Some(Value::Array(vs)), None) => vs.clone(),
            (Some(_), None) => return Err(err(path, "enum must be an array")),
            (None, Some(c)) => vec![c.clone()],
            (None, None) => unreachable!("checked by the caller"),
        };
        // The other keywords (type, minLength...) still apply: keep the values they accept.
        let mut rest = obj.clone();
        rest.remove("enum");
        rest.remove("const");
        let filter = if rest.keys().any(|k| KNOWN.contains(&k.as_str())) {
            Some(Self::compile(&Value::Object(rest), strict)?)
        } else {
            None
        };
        let mut lits: Vec<Vec<u8>> = Vec::new();
        for v in &values {
            if filter.as_ref().is_some_and(|f| f.validate(v).is_err()) {
                continue;
            }
            let text = serde_json::to_vec(v).map_err(|e| err(path, e))?;
            if !lits.contains(&text) {
                lits.push(text);
            }
        }
        if lits.is_empty() {
            return Err(err(path, "no enum/const value satisfies the schema"));
        }
        if lits.len() > MAX_ALTERNATIVES {
            return Err(err(
                path,
                format!("at most {MAX_ALTERNATIVES} enum values are supported"),
            ));
        }
        Ok(self.push(Node::Lit(lits)))
    }

    /// Checks a parsed value against the schema; the error says where it fails.
    pub fn validate(&self, v: &Value) -> Result<(), String> {
        self.check(self.root, v, "")
    }

    fn check(&self, id: NodeId, v: &Value, path: &str) -> Result<(), String> {
        let fail = |m: &str| Err(format!("{}: {m}", if path.is_empty() { "/" } else { path }));
        match &self.nodes[id as usize] {
            Node::Lit(lits) => {
                let ok = lits
                    .iter()
                    .any(|l| serde_json::from_slice::<Value>(l).is_ok_and(|x| &x == v));
                if ok {
                    Ok(())
                } else {
                    fail("not one of the allowed values")
                }
            }
            Node::Str { min, max } => match v {
                Value::String(s) => {
                    let n = s.chars().count();
                    if n < *min as usize || (*max != NONE && n > *max as usize) {
                        fail("string length out of bounds")
                    } else {
                        Ok(())
                    }
                }
                _ => fail("expected a string"),
            },
            Node::Num { integer } => match v {
                Value::Number(n) if !integer || n.is_i64() || n.is_u64() => Ok(()),
                Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => Ok(()),
                _ => fail(if *integer {
                    "expected an integer"
                } else {
                    "expected a number"
                }),
            },
            Node::Arr { items, min, max } => match v {
                Value::Array(a) => {
                    if a.len() < *min as usize || (*max != NONE && a.len() > *max as usize) {
                        return fail("number of items out of bounds");
                    }
                    for (i, x) in a.iter().enumerate() {
                        self.check(*items, x, &format!("{path}/{i}"))?;
                    }
                    Ok(())
                }
                _ => fail("expected an array"),
            },
            Node::Obj {
                props,
                required,
                extra,
            } => match v {
                Value::Object(o) => {
                    for (i, (name, _)) in props.iter().enumerate() {
                        let name = String::from_utf8_lossy(name);
                        if required & (1 << i) != 0 && !o.contains_key(name.as_ref()) {
                            return fail(&format!("missing required property '{name}'"));
                        }
                    }
                    for (k, x) in o {
                        let sub = format!("{path}/{k}");
                        match props.iter().find(|(n, _)| n == k.as_bytes()) {
                            Some((_, id)) => self.check(*id, x, &sub)?,
                            None => match extra {
                                Some(id) => self.check(*id, x, &sub)?,
                                None => return fail(&format!("property '{k}' is not allowed")),
                            },
                        }
                    }
                    Ok(())
                }
                _ => fail("expected an object"),
            },
            Node::AnyOf(alts) => {
                if alts.iter().any(|a| self.check(*a, v, path).is_ok()) {
                    Ok(())
                } else {
                    fail("matches none of the anyOf alternatives")
                }
            }
        }
    }

    /// A recogniser at the start of the output.
    pub fn recognizer(&self) -> Recognizer<'_> {
        Recognizer {
            schema: self,
            stacks: vec![vec![Frame::Value(self.root)]],
        }
    }

    pub(crate) fn start(&self) -> State {
        vec![vec![Frame::Value(self.root)]]
    }
}

/// One level of the pushdown stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frame {
    /// Expecting the first byte of a value of this node.
    Value(NodeId),
    Lit {
        node: NodeId,
        pos: u16,
        cand: u64,
    },
    Str {
        node: NodeId,
        len: u32,
        /// 0 plain, 1 after `\`, 2..5 hex digits of `\u` seen + 2, 6 after `\uD`.
        esc: u8,
        /// UTF-8 continuation bytes still expected.
        utf8: u8,
    },
    /// An object key, after its opening quote.
    Key {
        obj: NodeId,
        pos: u16,
        /// Declared names still matching what was typed.
        cand: u64,
        utf8: u8,
    },
    Num {
        integer: bool,
        phase: u8,
        digits: u8,
    },
    Arr {
        node: NodeId,
        count: u32,
        /// 0 after `[`, 1 after a value, 2 after `,`.
        phase: u8,
    },
    Obj {
        node: NodeId,
        used: u64,
        /// 0 after `{`, 1 after a key, 2 after `:`, 3 after a value, 4 after `,`.
        phase: u8,
        /// Schema of the value after the current key.
        value: NodeId,
    },
}

pub(crate) type Stack = Vec<Frame>;
/// Every way the bytes so far can be read (anyOf makes it a set).
pub(crate) type State = Vec<Stack>;

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// UTF-8 state after a lead byte: continuation bytes expected (low 2 bits)
/// and the range the next one must be in (high bits), so that only
/// well-formed UTF-8 passes (no overlong forms, surrogates or > U+10FFFF).
fn utf8_lead(b: u8) -> Option<u8> {
    Some(match b {
        0xC2..=0xDF => 1,
        0xE0 => 2 | (1 << 2),
        0xED => 2 | (2 << 2),
        0xE1..=0xEF => 2,
        0xF0 => 3 | (3 << 2),
        0xF1..=0xF3 => 3,
        0xF4 => 3 | (4 << 2),
        _ => return None,
    })
}

fn utf8_cont(state: u8, b: u8) -> Option<u8> {
    let ok = match state >> 2 {
        1 => (0xA0..=0xBF).contains(&b),
        2 => (0x80..=0x9F).contains(&b),
        3 => (0x90..=0xBF).contains(&b),
        4 => (0x80..=0x8F).contains(&b),
        _ => (0x80..=0xBF).contains(&b),
    };
    ok.then(|| (state & 3) - 1)
}

impl JsonSchema {
    fn all_props(&self, obj: NodeId) -> u64 {
        match &self.nodes[obj as usize] {
            Node::Obj { props, .. } => {
                if props.len() == 64 {
                    u64::MAX
                } else {
                    (1u64 << props.len()) - 1
                }
            }
            _ => 0,
        }
    }

    /// Whether another key may follow in an object with `used` properties.
    fn key_possible(&self, obj: NodeId, used: u64) -> bool {
        match &self.nodes[obj as usize] {
            Node::Obj { extra, .. } => extra.is_some() || self.all_props(obj) & !used != 0,
            _ => false,
        }
    }

    fn can_close(&self, obj: NodeId, used: u64) -> bool {
        match &self.nodes[obj as usize] {
            Node::Obj { required, .. } => required & !used == 0,
            _ => false,
        }
    }

    /// Advances every reading by one byte.
    pub(crate) fn step(&self, state: &State, b: u8) -> State {
        let mut out: State = Vec::new();
        for s in state {
            self.step_stack(s.clone(), b, &mut out);
        }
        if out.len() > 1 {
            let mut uniq: State = Vec::with_capacity(out.len());
            for s in out {
                if !uniq.contains(&s) {
                    uniq.push(s);
                }
            }
            return uniq;
        }
        out
    }

    /// Pops the completed top frame and tells its parent; `false` when the
    /// parent cannot take a value here (never happens by construction).
    fn complete(&self, s: &mut Stack) {
        s.pop();
        let Some(top) = s.last_mut() else { return };
        match top {
            Frame::Arr { count, phase, .. } => {
                *count += 1;
                *phase = 1;
            }
            Frame::Obj { phase, .. } => *phase = 3,
            _ => {}
        }
    }

    fn step_stack(&self, mut s: Stack, b: u8, out: &mut State) {
        let Some(&top) = s.last() else {
            return; // the value is complete: nothing may follow
        };
        let n = s.len() - 1;
        match top {
            Frame::Value(id) => match &self.nodes[id as usize] {
                Node::AnyOf(alts) => {
                    for &a in alts {
                        let mut t = s.clone();
                        t[n] = Frame::Value(a);
                        self.step_stack(t, b, out);
                    }
                }
                Node::Lit(lits) => {
                    let mut cand = 0u64;
                    for (i, l) in lits.iter().enumerate() {
                        if l[0] == b {
                            cand |= 1 << i;
                        }
                    }
                    if cand != 0 {
                        s[n] = Frame::Lit {
                            node: id,
                            pos: 1,
                            cand,
                        };
                        out.push(s);
                    }
                }
                Node::Str { .. } => {
                    if b == b'"' {
                        s[n] = Frame::Str {
                            node: id,
                            len: 0,
                            esc: 0,
                            utf8: 0,
                        };
                        out.push(s);
                    }
                }
                Node::Num { integer } => {
                    let phase = match b {
                        b'-' => 1,
                        b'0' => 2,
                        b'1'..=b'9' => 3,
                        _ => return,
                    };
                    s[n] = Frame::Num {
                        integer: *integer,
                        phase,
                        digits: u8::from(phase == 3),
                    };
                    out.push(s);
                }
                Node::Arr { .. } => {
                    if b == b'[' {
                        s[n] = Frame::Arr {
                            node: id,
                            count: 0,
                            phase: 0,
                        };
                        out.push(s);
                    }
                }
                Node::Obj { .. } => {
                    if b == b'{' {
                        s[n] = Frame::Obj {
                            node: id,
                            used: 0,
                            phase: 0,
                            value: 0,
                        };
                        out.push(s);
                    }
                }
            },
            Frame::Lit { node, pos, cand } => {
                let Node::Lit(lits) = &self.nodes[node as usize] else {
                    return;
                };
                let p = pos as usize;
                let mut next = 0u64;
                let mut exact = false;
                for (i, l) in lits.iter().enumerate() {
                    if cand & (1 << i) == 0 {
                        continue;
                    }
                    if l.len() == p {
                        exact = true;
                    } else if l[p] == b {
                        next |= 1 << i;
                    }
                }
                if exact {
                    let mut t = s.clone();
                    self.complete(&mut t);
                    self.step_stack(t, b, out);
                }
                if next != 0 {
                    s[n] = Frame::Lit {
                        node,
                        pos: pos + 1,
                        cand: next,
                    };
                    out.push(s);
                }
            }
            Frame::Str {
                node,
                len,
                esc,
                utf8,
            } => {
                let Node::Str { min, max } = self.nodes[node as usize] else {
                    return;
                };
                let (len, esc, utf8) = match (esc, utf8) {
                    (0, 0) => match b {
                        b'"' => {
                            if len >= min {
                                self.complete(&mut s);
                                out.push(s);
                            }
                            return;
                        }
                        b'\\' if len < max => (len + 1, 1, 0),
                        0x20..=0x7F if len < max => (len + 1, 0, 0),
                        _ if len < max => match utf8_lead(b) {
                            Some(u) => (len + 1, 0, u),
                            None => return,
                        },
                        _ => return,
                    },
                    (0, u) => match utf8_cont(u, b) {
                        Some(u) => (len, 0, u),
                        None => return,
                    },
                    (1, _) => match b {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => (len, 0, 0),
                        b'u' => (len, 2, 0),
                        _ => return,
                    },
                    (2, _) if b == b'd' || b == b'D' => (len, 6, 0),
                    (6, _) if matches!(b, b'0'..=b'7') => (len, 4, 0),
                    (2..=4, _) if is_hex(b) => (len, esc + 1, 0),
                    (5, _) if is_hex(b) => (len, 0, 0),
                    _ => return,
                };
                s[n] = Frame::Str {
                    node,
                    len,
                    esc,
                    utf8,
                };
                out.push(s);
            }
            Frame::Key {
                obj,
                pos,
                cand,
                utf8,
            } => {
                let Node::Obj { props, extra, .. } = &self.nodes[obj as usize] else {
                    return;
                };
                let used = match s.get(n.wrapping_sub(1)) {
                    Some(Frame::Obj { used, .. }) => *used,
                    _ => return,
                };
                let p = pos as usize;
                if b == b'"' && utf8 == 0 {
                    let hit = props
                        .iter()
                        .enumerate()
                        .find(|(i, (name, _))| cand & (1 << i) != 0 && name.len() == p);
                    let (bit, value) = match hit {
                        Some((i, (_, id))) if used & (1 << i) == 0 => (1u64 << i, *id),
                        Some(_) => return, // duplicate key
                        None => match extra {
                            Some(id) => (0, *id),
                            None => return,
                        },
                    };
                    s.pop();
                    if let Some(Frame::Obj {
                        used,
                        phase,
                        value: v,
                        ..
                    }) = s.last_mut()
                    {
                        *used |= bit;
                        *phase = 1;
                        *v = value;
                    }
                    out.push(s);
                    return;
                }
                let utf8 = match (utf8, b) {
                    (0, 0x20..=0x7F) if b != b'\\' && b != b'"' => 0,
                    (0, _) => match utf8_lead(b) {
                        Some(u) => u,
                        None => return,
                    },
                    (u, _) => match utf8_cont(u, b) {
                        Some(u) => u,
                        None => return,
                    },
                };
                let mut next = 0u64;
                for (i, (name, _)) in props.iter().enumerate() {
                    if cand & (1 << i) != 0 && name.get(p) == Some(&b) {
                        next |= 1 << i;
                    }
                }
                if extra.is_none() && next & !used == 0 {
                    return;
                }
                if pos == u16::MAX {
                    return;
                }
                s[n] = Frame::Key {
                    obj,
                    pos: pos + 1,
                    cand: next,
                    utf8,
                };
                out.push(s);
            }
            Frame::Num {
                integer,
                phase,
                digits,
            } => {
                let digit = b.is_ascii_digit();
                let next = match (phase, b) {
                    (1, b'0') => Some((2, 0)),
                    (1, b'1'..=b'9') => Some((3, 1)),
                    (3, _) if digit && digits < MAX_INT_DIGITS => Some((3, digits + 1)),
                    (2 | 3, b'.') if !integer => Some((4, 0)),
                    (2 | 3 | 5, b'e' | b'E') if !integer => Some((6, 0)),
                    (4, _) if digit => Some((5, 1)),
                    (5, _) if digit && digits < MAX_FRAC_DIGITS => Some((5, digits + 1)),
                    (6, b'+' | b'-') => Some((7, 0)),
                    (6 | 7, _) if digit => Some((8, 1)),
                    (8, _) if digit && digits < MAX_EXP_DIGITS => Some((8, digits + 1)),
                    _ => None,
                };
                match next {
                    Some((phase, digits)) => {
                        s[n] = Frame::Num {
                            integer,
                            phase,
                            digits,
                        };
                        out.push(s);
                    }
                    None if matches!(phase, 2 | 3 | 5 | 8) => {
                        self.complete(&mut s);
                        self.step_stack(s, b, out);
                    }
                    None => {}
                }
            }
            Frame::Arr { node, count, phase } => {
                let Node::Arr { items, min, max } = self.nodes[node as usize] else {
                    return;
                };
                match (phase, b) {
                    (0 | 1, b']') if count >= min => {
                        self.complete(&mut s);
                        out.push(s);
                    }
                    (1, b',') if count < max => {
                        s[n] = Frame::Arr {
                            node,
                            count,
                            phase: 2,
                        };
                        out.push(s);
                    }
                    (0 | 2, _) if count < max => {
                        s.push(Frame::Value(items));
                        self.step_stack(s, b, out);
                    }
                    _ => {}
                }
            }
            Frame::Obj {
                node,
                used,
                phase,
                value,
            } => match (phase, b) {
                (0 | 3, b'}') if self.can_close(node, used) => {
                    self.complete(&mut s);
                    out.push(s);
                }
                (0 | 4, b'"') if self.key_possible(node, used) => {
                    s.push(Frame::Key {
                        obj: node,
                        pos: 0,
                        cand: self.all_props(node),
                        utf8: 0,
                    });
                    out.push(s);
                }
                (1, b':') => {
                    s[n] = Frame::Obj {
                        node,
                        used,
                        phase: 2,
                        value,
                    };
                    out.push(s);
                }
                (2, _) => {
                    s.push(Frame::Value(value));
                    self.step_stack(s, b, out);
                }
                (3, b',') if self.key_possible(node, used) => {
                    s[n] = Frame::Obj {
                        node,
                        used,
                        phase: 4,
                        value,
                    };
                    out.push(s);
                }
                _ => {}
            },
        }
    }

    /// Whether some reading is a complete value with nothing left open.
    pub(crate) fn is_complete(&self, state: &State) -> bool {
        state.iter().any(|s| match s.as_slice() {
            [] => true,
            [Frame::Num { phase, .. }] => matches!(phase, 2 | 3 | 5 | 8),
            [Frame::Lit { node, pos, cand }] => match &self.nodes[*node as usize] {
                Node::Lit(lits) => lits
                    .iter()
                    .enumerate()
                    .any(|(i, l)| cand & (1 << i) != 0 && l.len() == *pos as usize),
                _ => false,
            },
            _ => false,
        })
    }

    /// How much plain text (see [`plain_text`]) the reading `s` still takes
    /// without dying, when it is inside a string that any plain text
    /// continues: a string value between characters, or the key of an object
    /// that takes undeclared properties (no declared name narrows it).
    /// `None` for every other position (enum / const literals, declared keys,
    /// escapes, the middle of a UTF-8 sequence...). The constrained decoder
    /// uses it to accept whole plain subtrees of the vocabulary at once.
    pub(crate) fn plain_room(&self, s: &Stack) -> Option<PlainRoom> {
        match s.last()? {
            Frame::Str {
                node,
                len,
                esc: 0,
                utf8: 0,
            } => match self.nodes[*node as usize] {
                // Each character (ASCII byte or UTF-8 lead byte) needs
                // `len < max` before it; continuation bytes are free.
                Node::Str { max, .. } => Some(PlainRoom {
                    chars: max.saturating_sub(*len),
                    bytes: u32::MAX,
                }),
                _ => None,
            },
            Frame::Key {
                obj, pos, utf8: 0, ..
            } => match &self.nodes[*obj as usize] {
                // With undeclared properties allowed, a key byte dies only
                // when `pos` would overflow.
                Node::Obj { extra: Some(_), .. } => Some(PlainRoom {
                    chars: u32::MAX,
                    bytes: u32::from(u16::MAX - *pos),
                }),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Room left in a string for plain text: a plain token keeps the reading
/// alive exactly when it has at most `chars` characters and `bytes` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PlainRoom {
    pub chars: u32,
    pub bytes: u32,
}

/// Whether `bytes` is plain string text, and if so how many characters it
/// starts: no `"`, `\` or control byte below 0x20, and well-formed UTF-8
/// from a character boundary (it may stop inside a character, never start
/// inside one). Such bytes move a reading with [`JsonSchema::plain_room`]
/// only through its length, so whether they fit depends on that room only.
pub(crate) fn plain_text(bytes: &[u8]) -> Option<u32> {
    let (mut utf8, mut chars) = (0u8, 0u32);
    for &b in bytes {
        utf8 = if utf8 != 0 {
            utf8_cont(utf8, b)?
        } else {
            chars += 1;
            match b {
                b'"' | b'\\' => return None,
                0x20..=0x7F => 0,
                _ => utf8_lead(b)?,
            }
        };
    }
    Some(chars)
}

/// Reads output bytes and says whether they can still become a valid value
/// ([`is_viable`](Self::is_viable)) and whether they already are one
/// ([`is_complete`](Self::is_complete)).
#[derive(Debug, Clone)]
pub struct Recognizer<'a> {
    schema: &'a JsonSchema,
    stacks: State,
}

impl Recognizer<'_> {
    /// Feeds bytes; returns whether the text so far is still viable.
    pub fn feed(&mut self, bytes: &[u8]) -> bool {
        for &b in bytes {
            if self.stacks.is_empty() {
                return false;
            }
            self.stacks = self.schema.step(&self.stacks, b);
        }
        self.is_viable()
    }

    /// Whether some continuation makes the text valid.
    pub fn is_viable(&self) -> bool {
        !self.stacks.is_empty()
    }

    /// Whether the text is a complete valid value.
    pub fn is_complete(&self) -> bool {
        self.schema.is_complete(&self.stacks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn viable(s: &JsonSchema, text: &str) -> bool {
        s.recognizer().feed(text.as_bytes())
    }

    fn complete(s: &JsonSchema, text: &str) -> bool {
        let mut r = s.recognizer();
        r.feed(text.as_bytes()) && r.is_complete()
    }

    #[test]
    fn strict_object_prefixes() {
        let s = JsonSchema::compile(
            &json!({"type":"object","properties":{
                "name":{"type":"string","maxLength":3},
                "age":{"type":"integer"},
                "ok":{"type":"boolean"}},
              "required":["name","age"]}),
            true,
        )
        .unwrap();
        assert!(viable(&s, ""));
        assert!(viable(&s, "{"));
        assert!(!viable(&s, " {"), "no whitespace");
        assert!(!viable(&s, "{}"), "required properties missing");
        assert!(viable(&s, "{\"na"));
        assert!(
            !viable(&s, "{\"nx"),
            "undeclared key with additionalProperties false"
        );
        assert!(viable(&s, "{\"name\":\"abc"));
        assert!(!viable(&s, "{\"name\":\"abcd"), "maxLength");
        assert!(!viable(&s, "{\"name\":\"ab\",\"name\""), "duplicate key");
        assert!(viable(&s, "{\"name\":\"ab\",\"age\":-12"));
        assert!(!viable(&s, "{\"name\":\"ab\",\"age\":1.5"), "integer");
        assert!(!viable(&s, "{\"name\":\"ab\",\"age\":012"), "leading zero");
        assert!(!complete(&s, "{\"name\":\"ab\",\"age\":12"));
        assert!(complete(&s, "{\"name\":\"ab\",\"age\":12}"));
        assert!(
            !viable(&s, "{\"name\":\"ab\",\"age\":12}x"),
            "no trailing junk"
        );
        assert!(complete(
            &s,
            "{\"ok\":true,\"age\":0,\"name\":\"\\u00e9t\"}"
        ));
        assert!(!viable(&s, "{\"ok\":tru}"));
        assert!(!viable(&s, "{\"name\":\"\\ud800"), "lone surrogate escape");
        assert!(viable(&s, "{\"name\":\"é"));
        let mut r = s.recognizer();
        assert!(
            r.feed(b"{\"name\":\"\xE2\x82"),
            "a partial character is viable"
        );
        assert!(!r.clone().feed(b"\""), "but cannot end the string");
        assert!(r.feed(b"\xAC\""), "U+20AC");
        for bad in [
            &b"\xC0\xAF"[..],
            b"\xE0\x80\x80",
            b"\xED\xA0\x80",
            b"\xF4\x90\x80\x80",
            b"\xFF",
        ] {
            let mut r = s.recognizer();
            assert!(!r.feed(&[&b"{\"name\":\""[..], bad].concat()), "{bad:?}");
        }
        assert!(!viable(&s, "{\"name\":\"\u{1}"), "control character");
    }

    #[test]
    fn arrays_enums_anyof_and_numbers() {
        let s = JsonSchema::compile(
            &json!({"type":"array","minItems":1,"maxItems":2,
                    "items":{"anyOf":[{"enum":["a","ab",1,12]},{"type":"null"}]}}),
            true,
        )
        .unwrap();
        assert!(!viable(&s, "[]"));
        assert!(complete(&s, "[1]"));
        assert!(complete(&s, "[12,null]"));
        assert!(complete(&s, "[\"ab\"]"));
        assert!(!viable(&s, "[13"));
        assert!(!viable(&s, "[\"b"));
        assert!(!viable(&s, "[1,1,"), "maxItems");
        let n = JsonSchema::compile(&json!({"type":"number"}), true).unwrap();
        for ok in ["0", "-0.5", "12e3", "1.25E-2", "7"] {
            assert!(complete(&n, ok), "{ok}");
        }
        for bad in ["-", "1.", "1e", "+1", "01", ".5"] {
            assert!(!complete(&n, bad), "{bad}");
        }
        let c = JsonSchema::compile(&json!({"const":{"b":[1,2],"a":null}}), true).unwrap();
        assert!(complete(&c, "{\"a\":null,\"b\":[1,2]}"));
        assert!(!viable(&c, "{\"b\""));
    }

    #[test]
    fn json_object_and_non_strict_extra_properties() {
        let s = JsonSchema::any_object();
        assert!(!viable(&s, "[1]"));
        assert!(!viable(&s, "\"x\""));
        assert!(complete(&s, "{}"));
        assert!(complete(
            &s,
            "{\"x\":[1,{\"y\":\"z\"},null,false],\"w\":-1.5e2}"
        ));
        let t = JsonSchema::compile(
            &json!({"type":"object","properties":{"a":{"type":"integer"}}}),
            false,
        )
        .unwrap();
        assert!(complete(&t, "{\"a\":1,\"b\":\"x\"}"));
        assert!(
            !viable(&t, "{\"a\":\"x"),
            "declared property keeps its schema"
        );
        assert!(
            !viable(&t, "{\"a\":1,\"a\""),
            "no duplicate of a declared key"
        );
    }

    #[test]
    fn unsupported_and_inconsistent_schemas_are_refused() {
        let cases = [
            (
                json!({"type":"string","pattern":"^a"}),
                "unsupported keyword 'pattern'",
            ),
            (json!({"$ref":"#/$defs/x"}), "unsupported keyword '$ref'"),
            (
                json!({"type":"integer","minimum":0}),
                "unsupported keyword 'minimum'",
            ),
            (
                json!({"type":"object","properties":{"a":{"oneOf":[]}}}),
                "/properties/a: unsupported keyword 'oneOf'",
            ),
            (
                json!({"type":"string","minLength":3,"maxLength":2}),
                "minLength is greater",
            ),
            (
                json!({"type":"object","required":["x"]}),
                "'x' is not declared",
            ),
            (json!({"type":"color"}), "unknown type 'color'"),
            (
                json!({"type":"string","items":{}}),
                "'items' does not apply",
            ),
            (
                json!({"enum":["a"],"type":"integer"}),
                "no enum/const value",
            ),
            (json!(false), "matches nothing"),
        ];
        for (schema, want) in cases {
            match JsonSchema::compile(&schema, true) {
                Err(EngineError::BadRequest(m)) => assert!(m.contains(want), "{schema}: {m}"),
                other => panic!("{schema}: {other:?}"),
            }
        }
    }

    #[test]
    fn validate_reports_where() {
        let s = JsonSchema::compile(
            &json!({"type":"object","properties":{"xs":{"type":"array","items":{"type":"integer"}}},"required":["xs"]}),
            true,
        )
        .unwrap();
        assert!(s.validate(&json!({"xs":[1,2]})).is_ok());
        assert_eq!(
            s.validate(&json!({"xs":[1,"2"]})).unwrap_err(),
            "/xs/1: expected an integer"
        );
        assert!(s.validate(&json!({"xs":[], "y":1})).is_err());
        assert!(s.validate(&json!({})).is_err());
    }
}
