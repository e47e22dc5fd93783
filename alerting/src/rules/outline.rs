//! Where things are in a rule file's text. YAML parsing loses positions,
//! but semantic errors (a bad label name, a duplicate group) must still
//! say `file:line:column`, so this scans the text once for the block
//! structure rule files use:
//!
//! ```yaml
//! groups:
//! - name: g            # a group item: a `-` at the groups' item indent
//!   rules:
//!   - alert: A         # a rule item: a `-` at the rules' item indent
//!     expr: up == 0    # a key of the rule, at the rule's key column
//!     labels:
//!       severity: page # a key nested under `labels`
//! ```
//!
//! It is a good-enough reading, not a YAML parser: block-style files (what
//! Prometheus' documentation and every common generator write) are located
//! to the key; flow-style parts (`rules: [{...}]`) fall back to the
//! nearest enclosing item found, and to line 1 if none is. Lines are
//! 1-based, columns 1-based, as serde_yaml_ng reports its own errors.

use std::fmt;

/// A `line:column` in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

const START: Position = Position { line: 1, column: 1 };

/// One list item: its first line (0-based index), the column its keys
/// start at (0-based), and the index one past its last line.
#[derive(Debug, Clone, Copy)]
struct Item {
    first: usize,
    key_column: usize,
    end: usize,
}

#[derive(Debug, Clone)]
struct GroupItem {
    item: Item,
    rules: Vec<Item>,
}

/// The block structure of one rule file.
#[derive(Debug, Clone)]
pub struct Outline<'a> {
    lines: Vec<&'a str>,
    groups: Vec<GroupItem>,
}

impl<'a> Outline<'a> {
    pub fn scan(text: &'a str) -> Outline<'a> {
        let lines: Vec<&str> = text.lines().collect();
        let groups = match find_key(&lines, 0..lines.len(), None, "groups") {
            Some((at, column)) => items(&lines, at + 1, column)
                .into_iter()
                .map(|item| GroupItem {
                    rules: match find_key(
                        &lines,
                        item.first..item.end,
                        Some(item.key_column),
                        "rules",
                    ) {
                        Some((at, column)) => items(&lines, at + 1, column)
                            .into_iter()
                            .filter(|rule| rule.end <= item.end)
                            .collect(),
                        None => Vec::new(),
                    },
                    item,
                })
                .collect(),
            None => Vec::new(),
        };
        Outline { lines, groups }
    }

    /// The `n`-th group (its `name` key, else its first line).
    pub fn group(&self, group: usize) -> Position {
        self.group_key(group, "name")
    }

    /// A key of the `n`-th group, else the group.
    pub fn group_key(&self, group: usize, key: &str) -> Position {
        let Some(g) = self.groups.get(group) else {
            return START;
        };
        self.key_in(g.item, key)
    }

    /// A key nested under a group key (`labels.team`), else the key.
    pub fn group_nested(&self, group: usize, key: &str, nested: &str) -> Position {
        let Some(g) = self.groups.get(group) else {
            return START;
        };
        self.nested_in(g.item, key, nested)
    }

    /// The `r`-th rule of the `g`-th group, else the group.
    pub fn rule(&self, group: usize, rule: usize) -> Position {
        match self.rule_item(group, rule) {
            Some(item) => position(&self.lines, item.first, item.key_column),
            None => self.group(group),
        }
    }

    /// A key of a rule (`expr`), else the rule.
    pub fn rule_key(&self, group: usize, rule: usize, key: &str) -> Position {
        match self.rule_item(group, rule) {
            Some(item) => self.key_in(item, key),
            None => self.group(group),
        }
    }

    /// A key nested under a rule key (`annotations.summary`), else the key.
    pub fn rule_nested(&self, group: usize, rule: usize, key: &str, nested: &str) -> Position {
        match self.rule_item(group, rule) {
            Some(item) => self.nested_in(item, key, nested),
            None => self.group(group),
        }
    }

    fn rule_item(&self, group: usize, rule: usize) -> Option<Item> {
        self.groups.get(group)?.rules.get(rule).copied()
    }

    fn key_in(&self, item: Item, key: &str) -> Position {
        match find_key(
            &self.lines,
            item.first..item.end,
            Some(item.key_column),
            key,
        ) {
            Some((at, column)) => position(&self.lines, at, column),
            None => position(&self.lines, item.first, item.key_column),
        }
    }

    fn nested_in(&self, item: Item, key: &str, nested: &str) -> Position {
        let Some((at, column)) = find_key(
            &self.lines,
            item.first..item.end,
            Some(item.key_column),
            key,
        ) else {
            return position(&self.lines, item.first, item.key_column);
        };
        let end = (at + 1..item.end)
            .find(|&i| indent_of(self.lines[i]).is_some_and(|ind| ind <= column))
            .unwrap_or(item.end);
        match find_key(&self.lines, at + 1..end, None, nested) {
            Some((inner, inner_column)) => position(&self.lines, inner, inner_column),
            None => position(&self.lines, at, column),
        }
    }
}

fn position(lines: &[&str], line: usize, column: usize) -> Position {
    if line >= lines.len() {
        return START;
    }
    Position {
        line: line + 1,
        column: column + 1,
    }
}

/// The indent of a line that carries content (not blank, not a comment).
fn indent_of(line: &str) -> Option<usize> {
    let trimmed = line.trim_start_matches(' ');
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    Some(line.len() - trimmed.len())
}

/// For a line that starts a list item (`- ...`), the column of the dash
/// and the column the item's content starts at.
fn dash_of(line: &str) -> Option<(usize, usize)> {
    let indent = indent_of(line)?;
    let rest = &line[indent..];
    if rest == "-" {
        return Some((indent, indent + 2));
    }
    let after = rest.strip_prefix("- ")?;
    let content = after.trim_start_matches(' ');
    Some((indent, indent + 2 + after.len() - content.len()))
}

/// The first line in `range` holding `key:` as a mapping key (at
/// `column` if given, counting a key right after an item's dash), with
/// the key's column. Quoted keys (`"summary":`) count.
fn find_key(
    lines: &[&str],
    range: std::ops::Range<usize>,
    column: Option<usize>,
    key: &str,
) -> Option<(usize, usize)> {
    range.into_iter().find_map(|i| {
        let line = lines.get(i)?;
        let start = match dash_of(line) {
            Some((_, content)) if column.is_none_or(|c| c == content) => content,
            _ => indent_of(line)?,
        };
        if column.is_some_and(|c| c != start) {
            return None;
        }
        let rest = &line[start..];
        let bare = rest.strip_prefix(key);
        let quoted = ["\"", "'"]
            .iter()
            .find_map(|q| rest.strip_prefix(q)?.strip_prefix(key)?.strip_prefix(q));
        bare.or(quoted)
            .filter(|after| after.trim_start_matches(' ').starts_with(':'))
            .map(|_| (i, start))
    })
}

/// The items of the block list starting after a `key:` line at
/// `key_column`: each `-` at the list's indent starts one, and the list
/// ends at the first content line left of it (or at it, not a dash).
fn items(lines: &[&str], from: usize, key_column: usize) -> Vec<Item> {
    let mut found: Vec<Item> = Vec::new();
    let mut item_indent = None;
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate().skip(from) {
        let Some(indent) = indent_of(line) else {
            continue;
        };
        let dash = dash_of(line);
        let expected = *item_indent.get_or_insert(match dash {
            Some((d, _)) if d >= key_column => d,
            _ => usize::MAX,
        });
        if expected == usize::MAX || indent < expected {
            end = i;
            break;
        }
        match dash {
            Some((d, content)) if d == expected => {
                if let Some(last) = found.last_mut() {
                    last.end = i;
                }
                found.push(Item {
                    first: i,
                    key_column: content,
                    end: lines.len(),
                });
            }
            _ if indent == expected => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    if let Some(last) = found.last_mut() {
        last.end = last.end.min(end);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> Position {
        Position { line, column }
    }

    #[test]
    fn compact_and_indented_lists_are_both_found() {
        let text = "\
groups:
- name: a
  rules:
  - alert: A
    expr: up
    # a comment
    labels:
      team: x
  - record: r
    expr: |
      - not an item
      sum(up)
- name: b
  interval: 1m
  rules:
      -   alert: B
          labels: {}
          expr: up
";
        let outline = Outline::scan(text);
        assert_eq!(outline.group(0), at(2, 3));
        assert_eq!(outline.rule(0, 0), at(4, 5));
        assert_eq!(outline.rule_key(0, 0, "expr"), at(5, 5));
        assert_eq!(outline.rule_nested(0, 0, "labels", "team"), at(8, 7));
        assert_eq!(outline.rule(0, 1), at(9, 5));
        assert_eq!(outline.rule_key(0, 1, "expr"), at(10, 5));
        assert_eq!(outline.group_key(1, "interval"), at(14, 3));
        assert_eq!(outline.rule(1, 0), at(16, 11));
        assert_eq!(outline.rule_key(1, 0, "expr"), at(18, 11));
        assert_eq!(outline.rule(1, 1), at(13, 3), "no such rule: its group");
    }

    #[test]
    fn flow_style_falls_back_to_the_enclosing_item() {
        let text = "groups:\n  - name: a\n    rules: [{alert: A, expr: up}]\n";
        let outline = Outline::scan(text);
        assert_eq!(outline.rule_key(0, 0, "expr"), at(2, 5));
        assert_eq!(Outline::scan("{groups: []}").group(0), at(1, 1));
    }
}
