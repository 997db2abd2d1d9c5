//! `--json` on every reporting command: stdout is exactly one JSON document, the human
//! report goes to stderr, and the two agree figure for figure; the per-op latency counts
//! equal the ops run; `analyse --stats` is right on the handwritten fixture.

use serde_json::Value;

use crate::util::{after, arg, close, json_run, on_fixture};

/// `replay --json OPTIONS` of the handwritten fixture on a scratch database: the JSON
/// document and the human report.
fn replay_json(options: &[&str]) -> (Value, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("replay.tdb");
    let mut args = vec!["replay", "--json"];
    args.extend_from_slice(options);
    args.push(arg(&db));
    json_run(&on_fixture(&args))
}

#[test]
fn replay_json_agrees_with_the_human_report() {
    let (json, human) = replay_json(&["-n", "2"]);
    assert_eq!(json["command"], "replay");
    assert_eq!(json["backend"], "c");
    assert_eq!(json["ops"], 25);
    assert_eq!(json["dependencies"], 3);
    assert!(human.contains("all results matched"), "{human}");
    assert!(human.contains(&format!("digest {}", json["digest"].as_str().unwrap())));
    let runs = json["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2);
    for (index, run) in runs.iter().enumerate() {
        let label = format!("Run {}/2:", index + 1);
        close(run["replay_ms"].as_f64().unwrap(), after(&human, &label), 1);
        assert_eq!(run["ops"], 25);
    }
    close(json["load_ms"].as_f64().unwrap(), after(&human, "load"), 1);
    close(
        json["analysis_ms"].as_f64().unwrap(),
        after(&human, "analysis"),
        1,
    );
    close(
        json["best_ms"].as_f64().unwrap(),
        after(&human, "replay best"),
        1,
    );
    close(json["wall_ms"].as_f64().unwrap(), after(&human, "wall"), 1);
    assert_eq!(
        json["reruns"].as_f64().unwrap(),
        after(&human, "back-offs ("),
        "no reruns, no back-offs on the fixture"
    );
    assert!(json["wall_ms"].as_f64().unwrap() >= json["best_ms"].as_f64().unwrap());
    // Latency: one C backend, every op of both runs timed once.
    let latency = json["latency"].as_array().expect("latency");
    assert_eq!(latency.len(), 1);
    assert_eq!(latency[0]["backend"], "c");
    assert_eq!(latency[0]["count"], 50, "2 runs x 25 ops");
    let per_type: u64 = latency[0]["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["count"].as_u64().unwrap())
        .sum();
    assert_eq!(per_type, 50);
    let fetch = latency[0]["ops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|op| op["op"] == "tdb_fetch")
        .expect("fetches timed");
    assert_eq!(fetch["count"], 12, "6 fetches per run");
    let (p50, p99, max) = (
        fetch["p50_ns"].as_u64().unwrap(),
        fetch["p99_ns"].as_u64().unwrap(),
        fetch["max_ns"].as_u64().unwrap(),
    );
    assert!(p50 <= p99 && p99 <= max, "{fetch}");
    assert!(human.contains("Latency on c (50 ops timed"), "{human}");
}

#[test]
fn mixed_replay_times_each_backend_apart() {
    let (json, _) = replay_json(&["--backend", "mixed"]);
    let latency = json["latency"].as_array().expect("latency");
    let count = |backend: &str| {
        latency
            .iter()
            .find(|l| l["backend"] == backend)
            .unwrap_or_else(|| panic!("{backend} missing: {json}"))["count"]
            .as_u64()
            .unwrap()
    };
    // a.trace (14 ops) runs on C, b.trace (11 ops) on tdb-pure.
    assert_eq!(count("c"), 14);
    assert_eq!(count("pure"), 11);
}

#[test]
fn no_latency_times_nothing() {
    let (json, human) = replay_json(&["--no-latency"]);
    assert!(json["latency"].as_array().unwrap().is_empty());
    assert!(!human.contains("Latency on"));
}

#[test]
fn analyse_stats_are_right_on_the_handwritten_set() {
    let (json, human) = json_run(&on_fixture(&["analyse", "--json", "--stats", "--top", "3"]));
    assert_eq!(json["command"], "analyse");
    assert_eq!(json["dependencies"], 3);
    let stats = &json["stats"];
    assert_eq!(stats["total"]["ops"], 25);
    assert_eq!(stats["traces"][0]["ops"], 14);
    assert_eq!(stats["traces"][1]["ops"], 11);
    let mix = |which: &Value, op: &str| {
        which["mix"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["op"] == op)
            .map_or(0, |c| c["count"].as_u64().unwrap())
    };
    // a: fetch k, fetch n; b: fetch k, fetch n, fetch log, fetch n.
    assert_eq!(mix(&stats["traces"][0], "tdb_fetch"), 2);
    assert_eq!(mix(&stats["traces"][1], "tdb_fetch"), 4);
    assert_eq!(mix(&stats["total"], "tdb_fetch"), 6);
    assert_eq!(mix(&stats["total"], "traversefn"), 3);
    assert_eq!(mix(&stats["total"], "traverse"), 1);
    assert_eq!(mix(&stats["total"], "tdb_chainlock"), 1);
    // Keys: k 4 ops, n 5, log 5, z 1: 15 keyed ops.
    assert_eq!(stats["keys"], 4);
    assert_eq!(stats["keyed_ops"], 15);
    let hot = stats["hottest_keys"].as_array().unwrap();
    assert_eq!(hot.len(), 3);
    let names: Vec<&str> = hot.iter().map(|h| h["what"].as_str().unwrap()).collect();
    assert_eq!(names, ["\"log\"", "\"n\"", "\"k\""], "ties by name");
    assert_eq!(hot[0]["count"], 5);
    close(hot[0]["share"].as_f64().unwrap(), 5.0 / 15.0, 6);
    assert_eq!(hot[2]["count"], 4);
    // Chains: tdb's default hash modulo the traces' hash size 7.
    assert_eq!(stats["hash"], "old");
    assert_eq!(stats["hash_size"], 7);
    let chain = |key: &[u8]| (tdb_pure::hash::old_hash(key) % 7).to_string();
    let mut expected: std::collections::BTreeMap<String, u64> = Default::default();
    for (key, ops) in [(&b"k"[..], 4), (b"n", 5), (b"log", 5), (b"z", 1)] {
        *expected.entry(chain(key)).or_default() += ops;
    }
    assert_eq!(stats["chains_used"], expected.len());
    let busiest = &stats["hottest_chains"][0];
    let top = expected.values().max().unwrap();
    assert_eq!(busiest["count"].as_u64().unwrap(), *top);
    assert_eq!(expected[busiest["what"].as_str().unwrap()], *top);
    // Dependencies: b waits for a twice, a for b once.
    let pairs = stats["dependency_pairs"].as_array().unwrap();
    assert_eq!(pairs[0]["count"], 2);
    assert!(pairs[0]["from"].as_str().unwrap().ends_with("b.trace"));
    assert_eq!(pairs[1]["count"], 1);
    // One transaction of 2 ops; traverses of 3 and 1 records.
    assert_eq!(stats["transactions"]["count"], 1);
    assert_eq!(stats["transactions"]["max"], 2);
    assert_eq!(stats["traverses"]["count"], 2);
    assert_eq!(stats["traverses"]["max"], 3);
    close(stats["traverses"]["mean"].as_f64().unwrap(), 2.0, 6);
    // The human report says the same.
    assert!(human.contains("Keys: 4 distinct, 15 keyed ops"), "{human}");
    assert!(human.contains("total: 25 ops"), "{human}");
    assert!(
        human.contains("Transactions (ops inside): 1 of them, mean 2.0, median 2, max 2"),
        "{human}"
    );
}

#[test]
fn diff_json_agrees_with_the_human_report() {
    let (json, human) = json_run(&on_fixture(&["diff", "--json"]));
    assert_eq!(json["command"], "diff");
    assert_eq!(json["verdict"], "agree");
    assert!(json["divergence"].is_null());
    let ops = json["ops"].as_u64().unwrap();
    assert!(human.contains(&format!("Lock step: {ops} ops")), "{human}");
    assert!(human.contains("The engines agree."), "{human}");
}

#[test]
fn microbench_json_has_every_row() {
    let (json, human) = json_run(&[
        "microbench",
        "--json",
        "--records",
        "10",
        "--ops",
        "50",
        "-n",
        "1",
    ]);
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 8);
    for row in rows {
        let c = row["c_ns"].as_f64().unwrap();
        let pure = row["pure_ns"].as_f64().unwrap();
        close(row["pure_over_c"].as_f64().unwrap(), pure / c, 6);
        let line = format!("{:<28}{:>12.0}", row["operation"].as_str().unwrap(), c);
        assert!(human.contains(&line), "{line:?} not in\n{human}");
    }
}

#[test]
fn bench_json_agrees_and_shows_both_backends_latency() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("bench.tdb");
    let (json, human) = json_run(&on_fixture(&[
        "bench",
        "--json",
        "-n",
        "1",
        "--tdbfile",
        arg(&db),
    ]));
    assert_eq!(json["command"], "bench");
    assert_eq!(json["ops"], 25);
    close(
        json["load_analysis_ms"].as_f64().unwrap(),
        after(&human, "load + analysis"),
        1,
    );
    let backends = json["backends"].as_array().unwrap();
    assert_eq!(backends.len(), 2);
    for backend in backends {
        let name = backend["backend"].as_str().unwrap();
        close(
            backend["replay_best_ms"].as_f64().unwrap(),
            after(&human, &format!("replay ({name})")),
            1,
        );
        assert_eq!(backend["latency"]["count"], 25, "{name}");
    }
    let ratio = json["pure_over_c"]["best"].as_f64().unwrap();
    close(ratio, after(&human, "replay pure / c"), 3);
    let latency = json["latency"].as_array().unwrap();
    let store = latency
        .iter()
        .find(|op| op["op"] == "tdb_store")
        .expect("stores");
    assert_eq!(store["c"]["count"], 2);
    assert_eq!(store["pure"]["count"], 2);
    let p50 = |side: &str| store[side]["p50_ns"].as_f64().unwrap();
    close(
        store["p50_ratio"].as_f64().unwrap(),
        p50("pure") / p50("c"),
        6,
    );
    assert!(human.contains("latency per op"), "{human}");
    assert!(json["diff"]["best_ms"].as_f64().is_some());
}
