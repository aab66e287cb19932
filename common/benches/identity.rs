//! What an internal identity costs per call, against the shared HS256
//! secret it replaced (the peer): signing and verifying one token, fresh and
//! as the suite does it (a signer reuses a principal's token for a minute, a
//! verifier remembers the tokens that verified). Prints a table;
//! `cargo bench -p archive-common --bench identity`.

#![allow(unused_crate_dependencies)]

use std::time::{Duration, Instant};

use archive_common::{
    Principal,
    identity::{SharedKey, testing::TestKeys},
};

const ROUNDS: u32 = 20_000;

fn per_op(mut f: impl FnMut(u32)) -> Duration {
    for i in 0..ROUNDS / 10 {
        f(i);
    }
    let started = Instant::now();
    for i in 0..ROUNDS {
        f(i);
    }
    started.elapsed() / ROUNDS
}

fn main() {
    let keys = TestKeys::new();
    let trust = keys.trust();
    let gateway = keys.gateway();
    let shared = SharedKey::new(b"the old suite-wide secret", "archive-internal", 120);
    let users: Vec<Principal> = (0..ROUNDS)
        .map(|i| Principal::new("10009", format!("user{i}"), "User"))
        .collect();
    let paal = Principal::new("10009", "paal", "Paal Admin");
    let now = chrono::Utc::now();

    // Fresh: a new principal each time (no reuse possible).
    let hs_sign = per_op(|i| {
        std::hint::black_box(shared.sign(&users[i as usize], now));
    });
    // Distinct principals: every one misses the signer's token reuse.
    let fresh = keys.gateway();
    let ed_sign = per_op(|i| {
        std::hint::black_box(fresh.sign(&users[i as usize]));
    });
    let hs_tokens: Vec<String> = users.iter().map(|u| shared.sign(u, now)).collect();
    let ed_tokens: Vec<String> = users.iter().map(|u| gateway.sign(u).to_string()).collect();
    let hs_verify = per_op(|i| {
        std::hint::black_box(shared.verify(&hs_tokens[i as usize], now).unwrap());
    });
    let ed_verify = per_op(|i| {
        // Each token once: nothing remembered yet.
        std::hint::black_box(trust.verify(&ed_tokens[i as usize], None, now).unwrap());
    });
    // As the suite runs: one user's token, signed and verified again and again.
    let hs_token = shared.sign(&paal, now);
    let hs_repeat = per_op(|_| {
        std::hint::black_box(shared.sign(&paal, now));
        std::hint::black_box(shared.verify(&hs_token, now).unwrap());
    });
    let ed_repeat = per_op(|_| {
        let token = gateway.sign(&paal);
        std::hint::black_box(trust.verify(&token, None, now).unwrap());
    });

    let us = |d: Duration| format!("{:.1} µs", d.as_secs_f64() * 1e6);
    let ratio = |a: Duration, b: Duration| format!("{:.2}×", a.as_secs_f64() / b.as_secs_f64());
    println!("| per call | shared HS256 secret (before) | per-process Ed25519 keys | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| sign a new principal's token | {} | {} | {} |",
        us(hs_sign),
        us(ed_sign),
        ratio(ed_sign, hs_sign)
    );
    println!(
        "| verify a token not seen before | {} | {} | {} |",
        us(hs_verify),
        us(ed_verify),
        ratio(ed_verify, hs_verify)
    );
    println!(
        "| one call as the suite makes it (sign + verify, same user) | {} | {} | {} |",
        us(hs_repeat),
        us(ed_repeat),
        ratio(ed_repeat, hs_repeat)
    );
}
