use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::scenario::{LoadOptions, load_text};

/// Three scenarios across two agents, priorities, categories and tags.
fn scenarios() -> Vec<Scenario> {
    let text = "\
version: 1
agent: support_agent
scenarios:
  - id: refund_p0
    priority: P0
    category: policy
    tags: [security, refunds]
    messages: [hi]
  - id: qa_edge
    agent: qa_agent
    priority: P0
    category: edge_case
    tags: [qa]
    messages: [hi]
  - id: chat_p2
    priority: P2
    category: chit_chat
    messages: [hi]
";
    let (_, scenarios, diagnostics) =
        load_text(Path::new("suite/support.yaml"), text, false, &LoadOptions::default());
    assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
    assert_eq!(scenarios.len(), 3);
    scenarios
}

/// The ids `expr` selects.
fn select(expr: &str) -> Vec<String> {
    select_with(expr, None)
}

fn select_with(expr: &str, statuses: Option<StatusLookup>) -> Vec<String> {
    let set = FilterSet::parse(&[expr.to_owned()]).unwrap();
    let filter = set.resolve(statuses).unwrap();
    scenarios().into_iter().filter(|s| filter.matches(s)).map(|s| s.id).collect()
}

fn parse_err(expr: &str) -> Box<FilterError> {
    Expr::parse(expr).expect_err(expr)
}

#[test]
fn each_predicate_selects_what_it_names() {
    assert_eq!(select("id(qa_*)"), ["qa_edge"]);
    assert_eq!(select("agent(qa_*)"), ["qa_edge"]);
    assert_eq!(select("priority(P0)"), ["refund_p0", "qa_edge"]);
    assert_eq!(select("priority(P1, P2)"), ["chat_p2"]);
    assert_eq!(select("category(edge_case)"), ["qa_edge"]);
    assert_eq!(select("tag(security)"), ["refund_p0"]);
    assert_eq!(select("tag(*)"), ["refund_p0", "qa_edge"]);
    assert_eq!(select("file(support.yaml)"), ["refund_p0", "qa_edge", "chat_p2"]);
    assert_eq!(select("file(suite/*)").len(), 3);
    assert_eq!(select("file(other.yaml)"), Vec::<String>::new());
    assert_eq!(select("id(=qa_edge)"), ["qa_edge"]);
    assert_eq!(select("id(~und)"), ["refund_p0"]);
    assert_eq!(select("id(/^q.*e$/)"), ["qa_edge"]);
    assert_eq!(select("all()").len(), 3);
    assert!(select("none()").is_empty());
}

#[test]
fn the_issue_example_selects_p0_non_qa_security_or_edge_cases() {
    let expr = "priority(P0) and not agent(qa_*) and (tag(security) or category(edge_case))";
    assert_eq!(select(expr), ["refund_p0"]);
}

#[test]
fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
    let p = |text: &str| Expr::parse(text).unwrap();
    assert_eq!(p("not tag(a) and tag(b)"), p("(not tag(a)) and tag(b)"));
    assert_eq!(p("tag(a) or tag(b) and tag(c)"), p("tag(a) or (tag(b) and tag(c))"));
    assert_eq!(p("tag(a) and tag(b) or tag(c)"), p("(tag(a) and tag(b)) or tag(c)"));
    assert_eq!(p("not tag(a) or tag(b)"), p("(not tag(a)) or tag(b)"));
    assert_ne!(p("not (tag(a) or tag(b))"), p("not tag(a) or tag(b)"));
    // Symbols are the words' aliases; `a - b` is `a and not b`.
    assert_eq!(p("!tag(a) & tag(b) | tag(c)"), p("not tag(a) and tag(b) or tag(c)"));
    assert_eq!(p("tag(a) + tag(b)"), p("tag(a) or tag(b)"));
    assert_eq!(p("tag(a) - tag(b)"), p("tag(a) and not tag(b)"));
    // Evaluated, the difference shows: P0 or (P2 and security) selects both P0 scenarios.
    assert_eq!(select("priority(P0) or priority(P2) and tag(security)"), ["refund_p0", "qa_edge"]);
    assert!(select("(priority(P0) or priority(P2)) and tag(qa)") == ["qa_edge"]);
}

#[test]
fn repeated_expressions_are_alternatives() {
    let set = FilterSet::parse(&["id(qa_*)".to_owned(), "priority(P2)".to_owned()]).unwrap();
    let filter = set.resolve(None).unwrap();
    let ids: Vec<String> =
        scenarios().into_iter().filter(|s| filter.matches(s)).map(|s| s.id).collect();
    assert_eq!(ids, ["qa_edge", "chat_p2"]);
}

#[test]
fn status_reads_the_latest_run_and_new_is_what_it_did_not_hold() {
    let lookup = StatusLookup {
        latest: [
            ("refund_p0".to_owned(), RecordedStatus::Failed),
            ("qa_edge".to_owned(), RecordedStatus::Passed),
        ]
        .into(),
        flaky: ["qa_edge".to_owned()].into(),
    };
    assert_eq!(select_with("status(failed)", Some(lookup.clone())), ["refund_p0"]);
    assert_eq!(select_with("status(new)", Some(lookup.clone())), ["chat_p2"]);
    assert_eq!(select_with("status(flaky)", Some(lookup.clone())), ["qa_edge"]);
    assert_eq!(
        select_with("status(failed, error) or status(new)", Some(lookup)),
        ["refund_p0", "chat_p2"]
    );
}

#[test]
fn status_without_a_recorded_run_is_an_error_not_an_empty_selection() {
    let set = FilterSet::parse(&["tag(a) or not status(failed)".to_owned()]).unwrap();
    assert!(set.needs_status());
    assert!(set.resolve(None).is_err());
    let plain = FilterSet::parse(&["tag(a)".to_owned()]).unwrap();
    assert!(!plain.needs_status());
    assert!(plain.resolve(None).is_ok());
}

#[test]
fn errors_point_at_the_column_with_a_hint() {
    let e = parse_err("priority(P0) and tga(security)");
    assert_eq!(e.column(), 18);
    assert_eq!(e.message, "unknown predicate `tga`");
    assert!(e.help.starts_with("did you mean tag(…)?"), "{}", e.help);
    assert!(e.help.contains("category(GLOB)"), "{}", e.help);

    let e = parse_err("priority(P3)");
    assert_eq!((e.column(), e.message.as_str()), (10, "unknown priority `P3`"));
    let e = parse_err("status(broken)");
    assert_eq!(e.column(), 8);
    assert!(e.help.contains("failed, error, flaky, new"), "{}", e.help);
    let e = parse_err("tag(a) tag(b)");
    assert_eq!(e.column(), 8);
    let e = parse_err("(tag(a) or tag(b)");
    assert_eq!((e.column(), e.message.as_str()), (1, "this `(` is never closed"));
    let e = parse_err("tag(a");
    assert_eq!(e.column(), 4);
    let e = parse_err("tag(a) and");
    assert_eq!(e.column(), 11);
    let e = parse_err("tag()");
    assert_eq!(e.column(), 5);
    let e = parse_err("tag(a) )");
    assert_eq!((e.column(), e.message.as_str()), (8, "unexpected `)`"));
    let e = parse_err("tag");
    assert!(e.message.contains("parentheses"), "{}", e.message);
    let e = parse_err("id([)");
    assert!(e.message.starts_with("invalid glob"), "{}", e.message);
    let e = parse_err("id(/(/)");
    assert_eq!(e.message, "invalid regex");
}

#[test]
fn a_rendered_diagnostic_shows_the_expression_and_the_column() {
    let e = parse_err("priority(P0) and not agnt(qa_*)");
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, &*e)
        .unwrap();
    insta::assert_snapshot!(out);
}

#[test]
fn escapes_keep_parentheses_and_commas_in_values() {
    let e = Expr::parse(r"id(=a\,b\)c)").unwrap();
    let Expr::Predicate(Predicate::Text(TextField::Id, ms)) = &e else { panic!("{e:?}") };
    assert_eq!(ms.len(), 1);
    assert!(ms[0].is_match("a,b)c"));
    assert_eq!(Expr::parse(&e.to_string()).unwrap(), e);
    let re = Expr::parse(r"id(/^qa_\d+\/x$/)").unwrap();
    assert_eq!(re.to_string(), r"id(/^qa_\d+\/x$/)");
    assert_eq!(Expr::parse(&re.to_string()).unwrap(), re);
}

fn arb_value() -> impl Strategy<Value = String> {
    // Text a user could write, including the characters that need escaping.
    "[a-z_*?,)=~#/\\\\ ]{1,6}".prop_filter("a value", |v| !v.trim().is_empty())
}

fn arb_leaf() -> impl Strategy<Value = Expr> {
    let text = (0..5usize, prop::collection::vec((arb_value(), 0..3usize), 1..3)).prop_filter_map(
        "valid glob",
        |(field, values)| {
            let field = [
                TextField::Id,
                TextField::File,
                TextField::Agent,
                TextField::Category,
                TextField::Tag,
            ][field];
            let matchers: Option<Vec<Matcher>> = values
                .into_iter()
                .map(|(v, kind)| {
                    let v = v.trim().to_owned();
                    let written = match kind {
                        0 => v.clone(),
                        1 => format!("={v}"),
                        _ => format!("~{v}"),
                    };
                    let p = Parser { text: "", pos: 0 };
                    p.matcher(0, &written, false).ok()
                })
                .collect();
            matchers.map(|ms| Expr::Predicate(Predicate::Text(field, ms)))
        },
    );
    prop_oneof![
        text,
        prop::collection::vec(prop::sample::select(Priority::ALL.to_vec()), 1..3)
            .prop_map(|ps| Expr::Predicate(Predicate::Priority(ps))),
        prop::collection::vec(
            prop::sample::select(StatusFilter::ALL.map(|(_, s)| s).to_vec()),
            1..3
        )
        .prop_map(|ss| Expr::Predicate(Predicate::Status(ss))),
        Just(Expr::All),
        Just(Expr::None),
    ]
}

fn arb_expr() -> impl Strategy<Value = Expr> {
    arb_leaf().prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Expr::Or(Box::new(a), Box::new(b))),
        ]
    })
}

proptest! {
    #[test]
    fn display_then_parse_gives_the_same_expression(expr in arb_expr()) {
        let text = expr.to_string();
        let again = Expr::parse(&text);
        prop_assert!(again.is_ok(), "{text}: {again:?}");
        prop_assert_eq!(again.unwrap(), expr, "{}", text);
    }
}

#[test]
fn a_sample_depends_on_the_seed_and_the_selection_not_on_the_file_order() {
    use crate::scenario::Sampling;
    let ids = |v: Vec<Scenario>| -> Vec<String> {
        let mut ids: Vec<String> = v.into_iter().map(|s| s.id).collect();
        ids.sort();
        ids
    };
    let sample = Sampling::Sample { n: 2, seed: 42 };
    let forward = ids(sample.apply(scenarios()));
    let mut reversed = scenarios();
    reversed.reverse();
    assert_eq!(ids(sample.apply(reversed)), forward);
    assert_eq!(forward.len(), 2);
    // Some seed draws another pair: the seed is what varies it.
    assert!((0..20).any(|seed| ids(Sampling::Sample { n: 2, seed }.apply(scenarios())) != forward));
    // More than there are takes them all; --limit takes P0 first, in file order.
    assert_eq!(Sampling::Sample { n: 9, seed: 1 }.apply(scenarios()).len(), 3);
    let limited: Vec<String> =
        Sampling::Limit(1).apply(scenarios()).into_iter().map(|s| s.id).collect();
    assert_eq!(limited, ["refund_p0"]);
}

#[test]
fn errors_at_characters_beyond_ascii_render_whole_characters() {
    for (expr, column) in [("tag(a) é", 8), ("é", 1), (r"id(\é)", 4), ("tâg(a)", 1)] {
        let e = parse_err(expr);
        assert_eq!(e.column(), column, "{expr}");
        let mut out = String::new();
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .render_report(&mut out, &*e)
            .unwrap();
        assert!(out.contains(expr), "{out}");
    }
}
