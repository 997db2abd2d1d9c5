//! The region tree on small traces: nesting, crossing regions merged, a key walk through
//! a transaction, traverses with their entries and callback ops, regions left open.

use super::{at_depth, tree, unwrappings, Node};
use crate::trace::{parse_trace, FlavourChoice, LoadOptions, Trace};

fn parse(body: &str, flavour: FlavourChoice) -> Trace {
    let text = format!("1 tdb_open 7 0x0 0x42\n{body}");
    let options = LoadOptions {
        flavour,
        ..LoadOptions::default()
    };
    parse_trace("t.trace", text.as_bytes(), &options).unwrap_or_else(|error| panic!("{error}"))
}

/// The tree in a compact form: `op` for a single op, `[first..last frame {children}]`.
fn shape(nodes: &[Node]) -> String {
    let parts: Vec<String> = nodes
        .iter()
        .map(|node| {
            if node.frame.is_empty() {
                node.first.to_string()
            } else {
                format!(
                    "[{}..{} {:?} {{{}}}]",
                    node.first,
                    node.last,
                    node.frame,
                    shape(&node.children)
                )
            }
        })
        .collect();
    parts.join(" ")
}

#[test]
fn nested_regions_and_single_ops() {
    let trace = parse(
        "\
1 tdb_fetch 1:61 = NULL
1 tdb_transaction_start
2 tdb_chainlock 1:62
2 tdb_store 1:62 1:78 0x1 = 0
2 tdb_chainunlock 1:62
2 tdb_delete 1:61 = -1
2 tdb_transaction_commit
2 tdb_traverse_read_start
2 traversefn
2 tdb_fetch 1:62 = 1:78
2 traversefn
2 tdb_traverse_end = 2
2 tdb_close
",
        FlavourChoice::Ccan,
    );
    let roots = tree(&trace);
    assert_eq!(
        shape(&roots),
        "0 [1..6 [1, 6] {[2..4 [2, 4] {3}] 5}] [7..11 [7, 11] {8 9 10}]"
    );
    assert_eq!(at_depth(&roots, 1).len(), 5);
    assert_eq!(
        unwrappings(&trace, &roots),
        [vec![1, 6], vec![2, 4], vec![7, 8, 10, 11]]
    );
    assert_eq!(at_depth(&roots, 2).len(), 1);
    assert!(at_depth(&roots, 3).is_empty());
}

#[test]
fn crossing_regions_merge() {
    // The chain lock is taken inside the transaction and released after it.
    let trace = parse(
        "\
1 tdb_transaction_start
1 tdb_chainlock 1:62
1 tdb_store 1:62 1:78 0x1 = 0
1 tdb_transaction_commit
2 tdb_fetch 1:62 = 1:78
2 tdb_chainunlock 1:62
2 tdb_fetch 1:63 = NULL
",
        FlavourChoice::Ccan,
    );
    assert_eq!(shape(&tree(&trace)), "[0..5 [0, 1, 3, 5] {2 4}] 6");
}

#[test]
fn a_key_walk_through_a_transaction_keeps_its_nextkeys() {
    let trace = parse(
        "\
1 tdb_firstkey = 1:61
1 tdb_fetch 1:61 = 1:78
1 tdb_transaction_start
1 tdb_nextkey 1:61 = 1:62
1 tdb_store 1:62 1:79 0x1 = 0
1 tdb_transaction_commit
2 tdb_nextkey 1:62 = NULL
2 tdb_firstkey = NULL
",
        FlavourChoice::Ccan,
    );
    assert_eq!(shape(&tree(&trace)), "[0..6 [0, 2, 3, 5, 6] {1 4}] 7");
}

#[test]
fn samba_nested_closes_and_open_regions() {
    // Samba: the nested start is not traced, its commit is; the second commit closes the
    // outer transaction. A chain lock never released is a single op.
    let trace = parse(
        "\
1 tdb_transaction_start
1 tdb_store 1:62 1:78 0x1 = 0
1 tdb_transaction_commit
1 tdb_store 1:63 1:78 0x1 = 0
1 tdb_transaction_commit
1 tdb_chainlock 1:62
1 tdb_fetch 1:62 = 1:78
",
        FlavourChoice::Samba,
    );
    assert_eq!(shape(&tree(&trace)), "[0..4 [0, 2, 4] {1 3}] 5 6");
    // ccan: a transaction left open gets an implied cancel, which closes its region.
    let trace = parse(
        "\
1 tdb_transaction_start
1 tdb_store 1:62 1:78 0x1 = 0
",
        FlavourChoice::Ccan,
    );
    assert_eq!(shape(&tree(&trace)), "[0..2 [0, 2] {1}]");
}
