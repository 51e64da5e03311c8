//! A design's templates filled in for one node of one run: the command line, the
//! environment and the client adapter's options (docs/ARCHITECTURE.md §9).

use super::spec::DesignSpec;
use std::collections::BTreeMap;

/// Where a node's files live inside its container (a volume that survives restarts).
pub const DATA_DIR: &str = "/data";

/// One node of a cluster, as the templates see it.
#[derive(Debug, Clone)]
pub struct NodeContext<'a> {
    /// Its name (n1…).
    pub node: &'a str,
    /// Its IP address.
    pub ip: &'a str,
    /// The run id.
    pub run: &'a str,
    /// Every node of the cluster, this one included: (name, IP).
    pub peers: &'a [(String, String)],
}

/// A design with what one run asks of it. Built by [`super::Design::launch`], which
/// has already refused whatever the design cannot do.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The design.
    pub spec: DesignSpec,
    /// Bugs switched on.
    pub bugs: Vec<String>,
    /// Knobs given, in order (`key`, `value`).
    pub knobs: Vec<(String, String)>,
    /// Nodes drop unsynced writes whenever they start.
    pub lose_unsynced: bool,
}

/// Fills `{name}` placeholders of `template` from `lookup`; `{{`/`}}` are braces.
pub fn expand(template: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push('{');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            out.push('}');
            rest = after;
        } else if let Some(body) = tail.strip_prefix('{') {
            let end = body.find('}').ok_or_else(|| format!("{template:?}: a `{{` is never closed (write `{{{{` for a literal brace)"))?;
            let name = &body[..end];
            out.push_str(&lookup(name).ok_or_else(|| format!("{template:?}: unknown placeholder {{{name}}}"))?);
            rest = &body[end + 1..];
        } else {
            return Err(format!("{template:?}: a lone `}}` (write `}}}}` for a literal brace)"));
        }
    }
    out.push_str(rest);
    Ok(out)
}

impl Launch {
    /// A knob's value: the last one given, else the design's default.
    pub fn knob(&self, name: &str) -> Option<String> {
        self.knobs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone()).or_else(|| self.spec.knobs.get(name).cloned())
    }

    /// What a placeholder of the design's templates stands for on `node`.
    fn lookup(&self, node: &NodeContext<'_>, name: &str) -> Option<String> {
        let port = self.spec.client.port.to_string();
        match name {
            "node" => Some(node.node.to_owned()),
            "ip" => Some(node.ip.to_owned()),
            "port" => Some(port),
            "data" => Some(DATA_DIR.to_owned()),
            "run" => Some(node.run.to_owned()),
            "peers" => {
                let one = |(name, ip): &(String, String)| {
                    expand(&self.spec.start.peer_format, &|p| match p {
                        "name" => Some(name.clone()),
                        "ip" => Some(ip.clone()),
                        "port" => Some(port.clone()),
                        _ => None,
                    })
                };
                node.peers.iter().map(one).collect::<Result<Vec<_>, _>>().ok().map(|v| v.join(&self.spec.start.peer_separator))
            }
            _ => self.knob(name.strip_prefix("knob.")?),
        }
    }

    /// The node's command line: the command, then per bug, per knob given, and the
    /// lose-unsynced arguments.
    pub fn command(&self, node: &NodeContext<'_>) -> Result<Vec<String>, String> {
        let start = &self.spec.start;
        let base = |t: &String| expand(t, &|n| self.lookup(node, n));
        let mut argv: Vec<String> = start.command.iter().map(base).collect::<Result<_, _>>()?;
        for bug in &self.bugs {
            for t in &start.per_bug {
                argv.push(expand(t, &|n| if n == "bug" { Some(bug.clone()) } else { self.lookup(node, n) })?);
            }
        }
        for (key, value) in &self.knobs {
            for t in &start.per_knob {
                argv.push(expand(t, &|n| match n {
                    "key" => Some(key.clone()),
                    "value" => Some(value.clone()),
                    _ => self.lookup(node, n),
                })?);
            }
        }
        if self.lose_unsynced {
            argv.extend(start.lose_unsynced.iter().map(base).collect::<Result<Vec<_>, _>>()?);
        }
        Ok(argv)
    }

    /// The design's extra environment for `node`, as `KEY=value`.
    pub fn env(&self, node: &NodeContext<'_>) -> Result<Vec<String>, String> {
        self.spec.start.env.iter().map(|(k, t)| Ok(format!("{k}={}", expand(t, &|n| self.lookup(node, n))?))).collect()
    }

    /// The client adapter's options, filled in (only `{knob.NAME}` and `{port}` mean
    /// something here: the adapter serves every node).
    pub fn client_options(&self) -> Result<BTreeMap<String, String>, String> {
        let port = self.spec.client.port.to_string();
        self.spec
            .client
            .options
            .iter()
            .map(|(k, t)| Ok((k.clone(), expand(t, &|n| if n == "port" { Some(port.clone()) } else { self.knob(n.strip_prefix("knob.")?) })?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_literal_braces() {
        let lookup = |n: &str| (n == "x").then(|| "1".to_owned());
        assert_eq!(expand("a{x}b{{c}}", &lookup).unwrap(), "a1b{c}");
        assert!(expand("{y}", &lookup).unwrap_err().contains("unknown placeholder {y}"));
        assert!(expand("{x", &lookup).unwrap_err().contains("never closed"));
        assert!(expand("x}", &lookup).unwrap_err().contains("lone"));
    }
}
