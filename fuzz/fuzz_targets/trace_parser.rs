//! Arbitrary bytes as trace files: parse them (split into up to three files, each read
//! as ccan, Samba or auto-detected), then analyse whatever parses, together, under both
//! locking models. Any result is fine except a panic, a hang (libFuzzer's -timeout) or
//! memory out of proportion to the input (-rss_limit_mb): a length field may claim
//! gigabytes, but the parser must never allocate what the bytes do not hold.

#![no_main]

use libfuzzer_sys::fuzz_target;
use replay_engine::analysis::analyse;
use replay_engine::backend::LockingModel;
use replay_engine::trace::{parse_trace, FlavourChoice, LoadOptions};

fuzz_target!(|input: &[u8]| {
    // The first byte picks the flavour and the locking model; the rest, split at 0xff
    // bytes, are the files (at most three).
    let Some((&mode, text)) = input.split_first() else {
        return;
    };
    let flavour = match mode % 3 {
        0 => FlavourChoice::Auto,
        1 => FlavourChoice::Ccan,
        _ => FlavourChoice::Samba,
    };
    // A small line limit, so that the fuzzer also reaches the over-long line path.
    let options = LoadOptions {
        flavour,
        max_line_bytes: 4096,
        ..LoadOptions::default()
    };
    let mut traces = Vec::new();
    for (index, file) in text.split(|&byte| byte == 0xff).take(3).enumerate() {
        if let Ok(trace) = parse_trace(&format!("fuzz.{index}.trace"), file, &options) {
            traces.push(trace);
        }
    }
    if traces.is_empty() {
        return;
    }
    let locking = LockingModel {
        read_traverse_takes_transaction_lock: mode & 4 != 0,
    };
    let _ = analyse(&traces, locking);
});
