use super::{render, render_with};

#[test]
fn summary_with_labels() {
    assert_eq!(
        render(
            "{{ $labels.instance }} of job {{ $labels.job }} has been down for more than 5 minutes."
        ),
        "db-1.example.com:9100 of job node has been down for more than 5 minutes."
    );
    assert_eq!(
        render("{{ .Labels.job }}/{{ .ExternalLabels.cluster }}"),
        "node/eu-1"
    );
    assert_eq!(
        render("{{ $externalLabels.cluster }} {{ $externalURL }}"),
        "eu-1 https://weir.example.com/prefix"
    );
    assert_eq!(
        render("{{ .ExternalURL }} {{ .Value }} {{ $value }}"),
        "https://weir.example.com/prefix 0.5 0.5"
    );
    assert_eq!(render("{{ $.Labels.job }}"), "node");
}

#[test]
fn missing_label_is_empty() {
    assert_eq!(render("[{{ $labels.nope }}]"), "[]");
    assert_eq!(render("[{{ index $labels \"nope\" }}]"), "[]");
    assert_eq!(render("{{ index $labels \"job\" }}"), "node");
    assert_eq!(
        render("{{ index .Labels \"severity\" | toUpper }}"),
        "CRITICAL"
    );
}

#[test]
fn text_and_trimming() {
    assert_eq!(render("plain text, no actions"), "plain text, no actions");
    assert_eq!(render("a  {{- \"b\" -}}  \n c"), "abc");
    assert_eq!(render("a {{- /* c */ -}} b"), "ab");
    assert_eq!(render("a {{/* c */}} b"), "a  b");
    assert_eq!(render("x\n  {{- $labels.job }}\n"), "xnode\n");
    assert_eq!(render("{{-3}}"), "-3");
}

#[test]
fn variables_and_pipelines() {
    assert_eq!(render("{{ $x := $labels.job }}{{ $x }}"), "node");
    assert_eq!(render("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}"), "2");
    assert_eq!(
        render("{{ $labels.job | toUpper | printf \"%s!\" }}"),
        "NODE!"
    );
    assert_eq!(
        render("{{ printf \"%s-%s\" (toUpper $labels.job) \"x\" }}"),
        "NODE-x"
    );
    assert_eq!(render("{{ (index $labels \"job\") }}"), "node");
    assert_eq!(render("{{ ($labels).job }}"), "node");
}

#[test]
fn conditionals() {
    let t = "{{ if gt $value 100.0 }}high{{ else }}ok{{ end }}";
    assert_eq!(render_with(t, 150.0).unwrap(), "high");
    assert_eq!(render_with(t, 50.0).unwrap(), "ok");
    let t = "{{ if gt $value 100 }}high{{ else if gt $value 10 }}mid{{ else }}low{{ end }}";
    assert_eq!(render_with(t, 500.0).unwrap(), "high");
    assert_eq!(render_with(t, 50.0).unwrap(), "mid");
    assert_eq!(render_with(t, 5.0).unwrap(), "low");
    assert_eq!(
        render("{{ if eq $labels.severity \"critical\" \"page\" }}page{{ end }}"),
        "page"
    );
    assert_eq!(
        render("{{ if $labels.nope }}yes{{ else }}no{{ end }}"),
        "no"
    );
    assert_eq!(
        render("{{ if and $labels.job (not $labels.nope) }}yes{{ end }}"),
        "yes"
    );
    assert_eq!(render("{{ or $labels.nope \"default\" }}"), "default");
    assert_eq!(
        render("{{ and 1 0 }} {{ and 1 2 }} {{ or 0 \"\" }}"),
        "0 2 "
    );
    assert_eq!(
        render("{{ if $x := $labels.job }}{{ $x }}{{ end }}"),
        "node"
    );
}

#[test]
fn with_rebinds_dot() {
    assert_eq!(
        render("{{ with $labels.job }}job={{ . }}{{ end }}"),
        "job=node"
    );
    assert_eq!(
        render("{{ with $labels.nope }}x{{ else }}none{{ end }}"),
        "none"
    );
    assert_eq!(
        render("{{ with $labels.nope }}x{{ else with $labels.job }}{{ . }}{{ end }}"),
        "node"
    );
    assert_eq!(
        render("{{ with .Labels }}{{ .instance }}{{ end }}"),
        "db-1.example.com:9100"
    );
}

#[test]
fn range_over_labels_sorted() {
    assert_eq!(
        render("{{ range $k, $v := $labels }}{{ $k }}={{ $v }} {{ end }}"),
        "alertname=InstanceDown instance=db-1.example.com:9100 job=node severity=critical "
    );
    assert_eq!(
        render("{{ range $v := .ExternalLabels }}{{ $v }}{{ end }}"),
        "eu-1"
    );
    assert_eq!(
        render("{{ range .ExternalLabels }}<{{ . }}>{{ end }}"),
        "<eu-1>"
    );
    // As in Go, a string (here a missing label) is not iterable.
    let err = render_with("{{ range $labels.nope }}x{{ else }}empty{{ end }}", 0.0).unwrap_err();
    assert!(err.contains("range can't iterate over"), "{err}");
    assert_eq!(render("{{ range 3 }}{{ . }}{{ end }}"), "012");
    assert_eq!(
        render("{{ range $i := 0 }}x{{ else }}none{{ end }}"),
        "none"
    );
}

#[test]
fn scopes_end_with_blocks() {
    assert_eq!(
        render("{{ $x := \"outer\" }}{{ if true }}{{ $x := \"inner\" }}{{ $x }}{{ end }} {{ $x }}"),
        "inner outer"
    );
    assert_eq!(
        render("{{ $n := 0 }}{{ range $labels }}{{ $n = 1 }}{{ end }}{{ $n }}"),
        "1"
    );
}

#[test]
fn literals() {
    assert_eq!(render(r#"{{ "a\tb\n\"c\"\u00e9\x41" }}"#), "a\tb\n\"c\"éA");
    assert_eq!(render("{{ `raw \\n` }}"), "raw \\n");
    assert_eq!(
        render("{{ 42 }} {{ -7 }} {{ 0x1F }} {{ 1.5 }} {{ 1e3 }} {{ true }}"),
        "42 -7 31 1.5 1000 true"
    );
    assert_eq!(
        render("{{ .Labels }}"),
        "map[alertname:InstanceDown instance:db-1.example.com:9100 job:node severity:critical]"
    );
}

#[test]
fn value_prints_like_go() {
    let cases = [
        (0.5, "0.5"),
        (100.0, "100"),
        (0.0, "0"),
        (-2.25, "-2.25"),
        (1e21, "1e+21"),
        (1.5e-7, "1.5e-07"),
        (123456789.0, "1.23456789e+08"),
        (100000.0, "100000"),
        (1e6, "1e+06"),
        (0.0001234, "0.0001234"),
        (0.00001, "1e-05"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (0.1 + 0.2, "0.30000000000000004"),
    ];
    for (value, want) in cases {
        assert_eq!(render_with("{{ $value }}", value).unwrap(), want, "{value}");
    }
}

#[test]
fn comparisons() {
    assert_eq!(
        render("{{ lt 1 2 }} {{ le 2 2 }} {{ gt 1 2 }} {{ ge 2 2.0 }}"),
        "true true false true"
    );
    assert_eq!(
        render("{{ eq 1 1.0 }} {{ ne \"a\" \"b\" }} {{ lt \"a\" \"b\" }}"),
        "true true true"
    );
    assert_eq!(render_with("{{ gt $value 1 }}", f64::NAN).unwrap(), "true");
    assert_eq!(render("{{ len $labels }} {{ len \"abc\" }}"), "4 3");
    let err = render_with("{{ eq $labels.job 1 }}", 0.0).unwrap_err();
    assert!(err.contains("incompatible types for comparison"), "{err}");
}
