use super::{parse_error, render_with};
use crate::template::{MAX_OUTPUT, Template};

#[test]
fn parse_errors_have_positions() {
    let cases = [
        ("{{ $labels.job", "annotations.summary:1:1: unclosed action"),
        (
            "a\n  {{ if true }}x",
            "annotations.summary:2:3: unclosed {{if}}: missing {{end}}",
        ),
        ("x{{ end }}", "annotations.summary:1:2: unexpected {{end}}"),
        ("{{ else }}", "annotations.summary:1:1: unexpected {{else}}"),
        (
            "ok\n{{ $nope }}",
            "annotations.summary:2:4: undefined variable \"$nope\"",
        ),
        (
            "{{ frobnicate 1 }}",
            "annotations.summary:1:4: function \"frobnicate\" not defined",
        ),
        (
            "{{ \"abc }}",
            "annotations.summary:1:4: unterminated quoted string",
        ),
        (
            "{{ }}",
            "annotations.summary:1:4: missing value for command",
        ),
        (
            "{{ if }}x{{ end }}",
            "annotations.summary:1:7: missing value for if",
        ),
        (
            "{{ \"a\" \"b\" }}",
            "annotations.summary:1:4: can't give argument to non-function",
        ),
        (
            "{{ 1 | 2 }}",
            "annotations.summary:1:8: non executable command in pipeline stage 2",
        ),
        ("{{/* open", "annotations.summary:1:1: unclosed comment"),
        ("{{ (1 }}", "annotations.summary:1:4: unclosed left paren"),
        (
            "{{ template \"x\" }}",
            "annotations.summary:1:4: {{template}} is not supported in Weir's rule templates",
        ),
        (
            "{{ 1x }}",
            "annotations.summary:1:4: bad number syntax: \"1x\"",
        ),
    ];
    for (source, want) in cases {
        assert_eq!(parse_error(source), want, "{source:?}");
    }
}

#[test]
fn query_functions_are_not_supported() {
    for func in [
        "query",
        "first",
        "label",
        "value",
        "sortByLabel",
        "strvalue",
        "args",
        "tmpl",
        "graphLink",
        "tableLink",
    ] {
        let source = format!("é {{{{ {func} \"up\" }}}}");
        assert_eq!(
            parse_error(&source),
            format!(
                "annotations.summary:1:6: the template function {func} is not supported in Weir's rule templates"
            ),
        );
    }
    assert_eq!(
        parse_error("{{ with query \"up\" | first }}{{ end }}"),
        "annotations.summary:1:9: the template function query is not supported in Weir's rule templates"
    );
}

#[test]
fn render_errors_name_the_command() {
    let err = render_with("x\n {{ .Nope }}", 0.0).unwrap_err();
    assert!(
        err.starts_with("annotations.summary:2:5: can't evaluate field Nope"),
        "{err}"
    );
    let err = render_with("{{ $value.x }}", 0.0).unwrap_err();
    assert!(
        err.contains("can't evaluate field x in type float64"),
        "{err}"
    );
    let err = render_with("{{ humanize 1 2 }}", 0.0).unwrap_err();
    assert!(
        err.contains("wrong number of args for humanize: want 1 got 2"),
        "{err}"
    );
    let err = render_with("{{ range $value }}{{ end }}", 1.0).unwrap_err();
    assert!(err.contains("range can't iterate over 1"), "{err}");
    let err = render_with("{{ toUpper $value }}", 1.0).unwrap_err();
    assert!(err.contains("expected string; got float64"), "{err}");
}

#[test]
fn output_is_bounded() {
    let source = format!("{{{{ range 1000 }}}}{}{{{{ end }}}}", "x".repeat(100));
    let err = render_with(&source, 0.0).unwrap_err();
    assert_eq!(
        err,
        format!("annotations.summary: output exceeds {MAX_OUTPUT} bytes")
    );
    let err = render_with("{{ printf \"%70000s\" \"x\" }}", 0.0).unwrap_err();
    assert!(err.contains("exceeds"), "{err}");
    let err = render_with("{{ range 1000 }}{{ range 1000 }}{{ end }}{{ end }}", 0.0).unwrap_err();
    assert!(err.contains("steps"), "{err}");
}

#[test]
fn nesting_and_source_are_bounded() {
    let deep = format!("{}{}", "{{ if true }}".repeat(40), "{{ end }}".repeat(40));
    assert!(parse_error(&deep).contains("nested more than 32 deep"));
    let parens = format!("{{{{ {}1{} }}}}", "(".repeat(40), ")".repeat(40));
    assert!(parse_error(&parens).contains("nested more than 32 deep"));
    let big = "x".repeat(64 * 1024 + 1);
    assert!(parse_error(&big).contains("template exceeds"));
    let branches: String = (1..200)
        .map(|i| format!("{{{{ else if eq $value {i}.0 }}}}{i}"))
        .collect();
    let chain = format!("{{{{ if eq $value 0.0 }}}}0{branches}{{{{ else }}}}none{{{{ end }}}}");
    assert_eq!(render_with(&chain, 150.0).unwrap(), "150");
}

#[test]
fn template_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
    check::<Template>();
}
