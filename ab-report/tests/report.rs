//! The HTML page without a browser: self-contained, escaped, one SVG per plot.

mod common;

use ab_report::render_html;
use common::{bench, svg_elements};

#[test]
fn the_page_has_three_plots_each_naming_every_engine() {
    let names = ["c", "lib:patched", "pure"];
    let (engines, comparisons) = bench(names);
    let html = render_html("bench", &engines, &comparisons);
    let svgs = svg_elements(&html);
    assert_eq!(svgs.len(), 3, "one SVG per plot");
    for (svg, id) in svgs
        .iter()
        .zip(["replay-distribution", "latency-cdfs", "ratio-forest"])
    {
        assert!(html.contains(&format!("<figure id=\"{id}\">")));
        for name in names {
            assert!(svg.contains(name), "{id} lacks {name}");
        }
    }
    assert!(html.contains("lib:patched is 5.0% faster than c (95% CI "));
    assert!(
        html.contains("pure is 30.0% slower than c (95% CI ")
            || html.contains("pure is 30.1% slower")
    );
}

#[test]
fn the_page_needs_nothing_from_the_network() {
    let (engines, comparisons) = bench(["c", "lib:patched", "pure"]);
    let html = render_html("bench", &engines, &comparisons);
    for outside in [
        "<script", "<link", "src=", "href=", "url(", "@import", "<img",
    ] {
        assert!(!html.contains(outside), "the page holds {outside}");
    }
    // The only URL is the SVG namespace name, which is never fetched.
    let urls = html.matches("http").count();
    let namespaces = html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
    assert_eq!(urls, namespaces);
}

#[test]
fn names_and_title_are_escaped_everywhere() {
    let hostile = "lib:/tmp/<script>alert(1)</script>&\"x\"";
    let (engines, comparisons) = bench(["c", hostile, "pure"]);
    let html = render_html("<b>title</b> & co", &engines, &comparisons);
    assert!(
        !html.contains("<script"),
        "a name reached the page unescaped"
    );
    assert!(!html.contains("<b>"));
    assert!(html.contains("&lt;b&gt;title&lt;/b&gt; &amp; co"));
    let escaped = "lib:/tmp/&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;x&quot;";
    for svg in svg_elements(&html) {
        assert!(svg.contains(escaped), "an SVG lacks the escaped name");
    }
}

#[test]
fn pages_without_comparisons_or_samples_still_render() {
    let (engines, _) = bench(["c", "lib:patched", "pure"]);
    let alone = render_html("one engine", &engines[..1], &[]);
    assert_eq!(svg_elements(&alone).len(), 3);
    assert!(alone.contains("nothing to compare"));
    assert!(svg_elements(&alone)[2].contains("only one engine"));
    let mut odd = engines[0].clone();
    odd.name = "odd".to_string();
    odd.replay_ms = vec![f64::NAN, 0.0, f64::INFINITY, -3.0];
    odd.ops[0].per_run_median_ns = vec![f64::NAN];
    odd.ops[0].buckets = vec![ab_report::LatencyBucket {
        lo_ns: 0,
        hi_ns: 0,
        count: 9,
    }];
    odd.ops[1].buckets.clear();
    let odd_comparison = ab_report::compare(&engines[0], &odd);
    let page = render_html("odd", &[engines[0].clone(), odd], &[odd_comparison]);
    assert_eq!(svg_elements(&page).len(), 3);
    assert!(page.contains("odd vs c: not enough runs"), "{page}");
    let empty = render_html("nothing", &[], &[]);
    assert_eq!(svg_elements(&empty).len(), 3);
    assert!(!empty.contains("could not be drawn"), "{empty}");
}
