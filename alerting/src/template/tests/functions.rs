use super::{render, render_with};

fn apply(func: &str, value: f64) -> String {
    render_with(&format!("{{{{ $value | {func} }}}}"), value).unwrap()
}

#[test]
fn humanize_table() {
    let cases = [
        (0.0, "0"),
        (12.0, "12"),
        (1000.0, "1k"),
        (1234567.0, "1.235M"),
        (12345.0, "12.35k"),
        (1.0, "1"),
        (-1234.0, "-1.234k"),
        (0.001234, "1.234m"),
        (0.5, "500m"),
        (1.5e-9, "1.5n"),
        (1e30, "1e+06Y"),
        (f64::INFINITY, "+Inf"),
        (f64::NAN, "NaN"),
    ];
    for (v, want) in cases {
        assert_eq!(apply("humanize", v), want, "humanize {v}");
    }
}

#[test]
fn humanize1024_table() {
    let cases = [
        (0.5, "0.5"),
        (1.0, "1"),
        (1023.0, "1023"),
        (1024.0, "1ki"),
        (1048576.0, "1Mi"),
        (1536.0 * 1024.0 * 1024.0, "1.5Gi"),
    ];
    for (v, want) in cases {
        assert_eq!(apply("humanize1024", v), want, "humanize1024 {v}");
    }
}

#[test]
fn humanize_duration_table() {
    let cases = [
        (0.0, "0s"),
        (1.0, "1s"),
        (1.5, "1.5s"),
        (59.99, "59.99s"),
        (90.0, "1m 30s"),
        (3600.0, "1h 0m 0s"),
        (90061.0, "1d 1h 1m 1s"),
        (-90.0, "-1m 30s"),
        (0.5, "500ms"),
        (0.000123, "123us"),
        (1.2e-9, "1.2ns"),
    ];
    for (v, want) in cases {
        assert_eq!(apply("humanizeDuration", v), want, "humanizeDuration {v}");
    }
}

#[test]
fn humanize_percentage_and_timestamp() {
    assert_eq!(apply("humanizePercentage", 0.1234), "12.34%");
    assert_eq!(apply("humanizePercentage", 1.0), "100%");
    assert_eq!(apply("humanizePercentage", 0.0), "0%");
    assert_eq!(
        apply("humanizeTimestamp", 1435065584.128),
        "2015-06-23 13:19:44.128 +0000 UTC"
    );
    assert_eq!(
        apply("humanizeTimestamp", 0.0),
        "1970-01-01 00:00:00 +0000 UTC"
    );
    assert_eq!(
        apply("humanizeTimestamp", 951782400.5),
        "2000-02-29 00:00:00.5 +0000 UTC"
    );
    assert_eq!(
        apply("humanizeTimestamp", -1.0),
        "1969-12-31 23:59:59 +0000 UTC"
    );
    assert_eq!(apply("humanizeTimestamp", f64::NAN), "NaN");
    assert!(
        render_with("{{ humanizeTimestamp 1e300 }}", 0.0)
            .unwrap_err()
            .contains("overflows int64")
    );
}

#[test]
fn humanize_accepts_numeric_strings() {
    assert_eq!(render("{{ humanize \"1234567\" }}"), "1.235M");
    assert_eq!(render("{{ \"90\" | humanizeDuration }}"), "1m 30s");
    assert_eq!(render("{{ humanize 2048 }}"), "2.048k");
    let err = render_with("{{ humanize $labels.job }}", 0.0).unwrap_err();
    assert!(
        err.starts_with("annotations.summary:1:4: error calling humanize"),
        "{err}"
    );
}

#[test]
fn printf_verbs() {
    let t = |s: &str, v: f64| render_with(s, v).unwrap();
    assert_eq!(t("{{ printf \"%.2f\" $value }}", 4.56789), "4.57");
    assert_eq!(t("{{ printf \"%f\" $value }}", 1.5), "1.500000");
    assert_eq!(t("{{ printf \"%e\" $value }}", 123456.0), "1.234560e+05");
    assert_eq!(
        t("{{ printf \"%g|%v\" $value $value }}", 1e6),
        "1e+06|1e+06"
    );
    assert_eq!(t("{{ printf \"%.3g\" $value }}", 4.56789), "4.57");
    assert_eq!(
        t(
            "{{ printf \"%8.2f|%-8.2f|%08.2f|%+.1f\" $value $value $value $value }}",
            4.56789
        ),
        "    4.57|4.57    |00004.57|+4.6"
    );
    assert_eq!(
        render("{{ printf \"%d %5d %-5d| %05d %x %X %o\" 42 42 42 -42 255 255 8 }}"),
        "42    42 42   | -0042 ff FF 10"
    );
    assert_eq!(
        render("{{ printf \"%s %q %v %x\" \"a\" \"b\\n\" true \"hi\" }}"),
        "a \"b\\n\" true 6869"
    );
    assert_eq!(
        render("{{ printf \"%.2s|%5s|%-5s|\" \"abcdef\" \"ab\" \"ab\" }}"),
        "ab|   ab|ab   |"
    );
    assert_eq!(render("{{ printf \"100%%\" }}"), "100%");
    assert_eq!(t("{{ printf \"%d\" $value }}", 1.5), "%!d(float64=1.5)");
    assert_eq!(render("{{ printf \"%s %s\" \"a\" }}"), "a %!s(MISSING)");
    assert_eq!(render("{{ printf \"%s\" \"a\" 1 }}"), "a%!(EXTRA int=1)");
    assert_eq!(t("{{ printf \"%.1f\" $value }}", f64::INFINITY), "+Inf");
}

#[test]
fn exact_ties_round_to_even_as_go_does() {
    assert_eq!(
        render("{{ printf \"%.2f %.0f %.0f %.1e\" 0.125 2.5 0.5 1.25 }}"),
        "0.12 2 0 1.2e+00"
    );
    assert_eq!(
        render("{{ printf \"%.4g|%.2g|%g\" 12345.0 0.000125 1e-5 }}"),
        "1.234e+04|0.00013|1e-05"
    );
}

#[test]
fn print_and_println() {
    assert_eq!(render("{{ print \"a\" \"b\" 1 2 \"c\" }}"), "ab1 2c");
    assert_eq!(render("{{ println \"a\" 1 }}"), "a 1\n");
    assert_eq!(render("{{ print $value }}"), "0.5");
}

#[test]
fn string_functions() {
    assert_eq!(
        render("{{ toUpper \"abc\" }} {{ toLower \"ABC\" }}"),
        "ABC abc"
    );
    assert_eq!(
        render("{{ title \"hello wide-world_x\" }}"),
        "Hello Wide-World_x"
    );
    assert_eq!(
        render("{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}"),
        "db-1.example.com"
    );
    assert_eq!(
        render("{{ reReplaceAll \"-([0-9])\" \"#${1}\" \"db-1-2\" }}"),
        "db#1#2"
    );
    assert_eq!(
        render("{{ if match \"^db-\" $labels.instance }}db{{ end }}"),
        "db"
    );
    assert_eq!(render("{{ match \"^web\" $labels.instance }}"), "false");
    assert_eq!(render("{{ safeHtml \"<b>x</b>\" }}"), "<b>x</b>");
    assert_eq!(
        render("{{ urlquery \"a b&c=d/é\" }}"),
        "a+b%26c%3Dd%2F%C3%A9"
    );
    assert_eq!(
        render("{{ externalURL }} {{ pathPrefix }}"),
        "https://weir.example.com/prefix /prefix"
    );
    let err = render_with("{{ match \"(\" \"x\" }}", 0.0).unwrap_err();
    assert!(
        err.contains("error calling match: invalid regular expression"),
        "{err}"
    );
}

#[test]
fn host_functions() {
    let cases = [
        ("stripPort", "db-1.example.com:9100", "db-1.example.com"),
        ("stripPort", "[::1]:9100", "::1"),
        ("stripPort", "db-1", "db-1"),
        ("stripPort", "::1", "::1"),
        ("stripDomain", "db-1.example.com:9100", "db-1:9100"),
        ("stripDomain", "db-1.example.com", "db-1"),
        ("stripDomain", "10.0.0.1:9100", "10.0.0.1:9100"),
        ("stripDomain", "[::1]:9100", "[::1]:9100"),
    ];
    for (func, input, want) in cases {
        assert_eq!(
            render(&format!("{{{{ {func} {input:?} }}}}")),
            want,
            "{func} {input}"
        );
    }
}
