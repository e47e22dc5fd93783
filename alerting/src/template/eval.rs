//! The evaluator: walks the tree with Go's execution semantics.
//!
//! Variables live on one stack; a block truncates it to where it started
//! when it ends, so declarations inside `if`, `with` and each `range`
//! iteration stay local. `and` and `or` evaluate their arguments lazily,
//! as Go's do. A piped value becomes the command's last argument.
//!
//! Invariants: the output never exceeds [`MAX_OUTPUT`], no string a
//! function returns does either, and at most [`MAX_STEPS`] nodes,
//! commands and range iterations are executed, so a template's cost is
//! bounded whatever its data. Errors carry `name:line:col` of the command.

use super::ast::{Command, Node, Pipeline, Pos, Term};
use super::functions::{Func, call};
use super::value::{Value, go_v};
use super::{MAX_OUTPUT, MAX_STEPS, TemplateData};

pub fn render(name: &str, nodes: &[Node], data: &TemplateData<'_>) -> Result<String, String> {
    let root = Value::Root(data);
    let mut machine = Machine {
        name,
        data,
        vars: vec![
            ("$", root.clone()),
            ("$labels", Value::Map(data.labels)),
            ("$externalLabels", Value::Map(data.external_labels)),
            ("$externalURL", Value::Str(data.external_url.to_owned())),
            ("$value", Value::Float(data.value)),
        ],
        out: String::new(),
        steps: 0,
    };
    machine.list(nodes, &root)?;
    Ok(machine.out)
}

struct Machine<'t, 'a> {
    name: &'t str,
    data: &'a TemplateData<'a>,
    vars: Vec<(&'t str, Value<'a>)>,
    out: String,
    steps: usize,
}

impl<'t, 'a> Machine<'t, 'a> {
    fn at(&self, pos: Pos, message: impl std::fmt::Display) -> String {
        format!("{}:{pos}: {message}", self.name)
    }

    fn step(&mut self) -> Result<(), String> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(format!(
                "{}: evaluation exceeds {MAX_STEPS} steps",
                self.name
            ));
        }
        Ok(())
    }

    fn emit(&mut self, s: &str) -> Result<(), String> {
        if self.out.len() + s.len() > MAX_OUTPUT {
            return Err(format!("{}: output exceeds {MAX_OUTPUT} bytes", self.name));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn list(&mut self, nodes: &'t [Node], dot: &Value<'a>) -> Result<(), String> {
        let mark = self.vars.len();
        for node in nodes {
            self.step()?;
            self.node(node, dot)?;
        }
        self.vars.truncate(mark);
        Ok(())
    }

    fn node(&mut self, node: &'t Node, dot: &Value<'a>) -> Result<(), String> {
        match node {
            Node::Text(text) => self.emit(text),
            Node::Action(pipe) => {
                let value = self.pipeline(pipe, dot)?;
                if pipe.vars.is_empty() {
                    let text = match value {
                        Value::Nil => "<no value>".to_owned(),
                        Value::Str(s) => s,
                        other => go_v(&other),
                    };
                    self.emit(&text)?;
                }
                Ok(())
            }
            Node::Cond {
                branches,
                otherwise,
            } => {
                let mark = self.vars.len();
                let mut taken = false;
                for branch in branches {
                    let value = self.pipeline(&branch.pipe, dot)?;
                    if value.truthy() {
                        let dot = if branch.with { &value } else { dot };
                        self.list(&branch.body, dot)?;
                        taken = true;
                        break;
                    }
                }
                if !taken {
                    self.list(otherwise, dot)?;
                }
                self.vars.truncate(mark);
                Ok(())
            }
            Node::Range {
                pipe,
                body,
                otherwise,
            } => self.range(pipe, body, otherwise, dot),
        }
    }

    fn range(
        &mut self,
        pipe: &'t Pipeline,
        body: &'t [Node],
        otherwise: &'t [Node],
        dot: &Value<'a>,
    ) -> Result<(), String> {
        let mark = self.vars.len();
        // The declared variables are bound per iteration, not to the
        // pipeline's value.
        let value = self.commands(pipe, dot)?;
        let items: Vec<(Value<'a>, Value<'a>)> = match value {
            Value::Map(m) => m
                .iter()
                .map(|(k, v)| (Value::Str(k.clone()), Value::Str(v.clone())))
                .collect(),
            Value::Int(n) => {
                let n = usize::try_from(n).unwrap_or(0).min(MAX_STEPS + 1);
                (0..n)
                    .map(|i| {
                        let i = Value::Int(i64::try_from(i).unwrap_or(i64::MAX));
                        (i.clone(), i)
                    })
                    .collect()
            }
            Value::Nil => Vec::new(),
            other => {
                let pos = pipe.cmds.first().map_or(Pos { line: 1, col: 1 }, |c| c.pos);
                return Err(self.at(pos, format!("range can't iterate over {}", go_v(&other))));
            }
        };
        if items.is_empty() {
            return self.list(otherwise, dot);
        }
        for (key, item) in items {
            self.step()?;
            let inner = self.vars.len();
            match pipe.vars.as_slice() {
                [v] => self.vars.push((v, item.clone())),
                [k, v] => {
                    self.vars.push((k, key));
                    self.vars.push((v, item.clone()));
                }
                _ => {}
            }
            self.list(body, &item)?;
            self.vars.truncate(inner);
        }
        self.vars.truncate(mark);
        Ok(())
    }

    /// Runs a pipeline and binds or assigns its variable.
    fn pipeline(&mut self, pipe: &'t Pipeline, dot: &Value<'a>) -> Result<Value<'a>, String> {
        let value = self.commands(pipe, dot)?;
        if let Some(var) = pipe.vars.first() {
            if pipe.assign {
                if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == var) {
                    slot.1 = value.clone();
                }
            } else {
                self.vars.push((var, value.clone()));
            }
        }
        Ok(value)
    }

    fn commands(&mut self, pipe: &'t Pipeline, dot: &Value<'a>) -> Result<Value<'a>, String> {
        let mut piped = None;
        for cmd in &pipe.cmds {
            piped = Some(self.command(cmd, dot, piped)?);
        }
        Ok(piped.unwrap_or(Value::Nil))
    }

    fn command(
        &mut self,
        cmd: &'t Command,
        dot: &Value<'a>,
        piped: Option<Value<'a>>,
    ) -> Result<Value<'a>, String> {
        self.step()?;
        let Term::Func(func) = cmd.head else {
            return self.term(&cmd.head, dot, cmd.pos);
        };
        let mut args = Vec::with_capacity(cmd.args.len() + 1);
        for arg in &cmd.args {
            let value = self.term(arg, dot, cmd.pos)?;
            // Go's and/or stop at the first argument that decides them.
            let decided = match func {
                Func::And => !value.truthy(),
                Func::Or => value.truthy(),
                _ => false,
            };
            if decided {
                return Ok(value);
            }
            args.push(value);
        }
        args.extend(piped);
        let result = call(func, args, self.data)
            .map_err(|e| self.at(cmd.pos, format!("error calling {}: {e}", func.name())))?;
        if let Value::Str(s) = &result
            && s.len() > MAX_OUTPUT
        {
            return Err(self.at(
                cmd.pos,
                format!("{} returned more than {MAX_OUTPUT} bytes", func.name()),
            ));
        }
        Ok(result)
    }

    fn term(&mut self, term: &'t Term, dot: &Value<'a>, pos: Pos) -> Result<Value<'a>, String> {
        let (base, chain) = match term {
            Term::Func(f) => return self.command_of(*f, dot, pos),
            Term::Dot => return Ok(dot.clone()),
            Term::Field(chain) => (dot.clone(), chain),
            Term::Var(name, chain) => {
                let value = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| self.at(pos, format!("undefined variable {name}")))?;
                (value, chain)
            }
            Term::Sub(pipe, chain) => (self.commands(pipe, dot)?, chain),
            Term::Str(s) => return Ok(Value::Str(s.clone())),
            Term::Num(super::ast::Number::Int(i)) => return Ok(Value::Int(*i)),
            Term::Num(super::ast::Number::Float(f)) => return Ok(Value::Float(*f)),
            Term::Bool(b) => return Ok(Value::Bool(*b)),
            Term::Nil => return Ok(Value::Nil),
        };
        let mut value = base;
        for field in chain {
            value = value.field(field).map_err(|e| self.at(pos, e))?;
        }
        Ok(value)
    }

    /// A function named as an argument: called without arguments.
    fn command_of(&mut self, func: Func, _dot: &Value<'a>, pos: Pos) -> Result<Value<'a>, String> {
        call(func, Vec::new(), self.data)
            .map_err(|e| self.at(pos, format!("error calling {}: {e}", func.name())))
    }
}
