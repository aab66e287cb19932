//! The stand-in OpenID Connect provider as a process, for the browser test
//! (scripts/browser-tests.sh): `oidc-stand-in [CLIENT_ID [HOST]]` serves a
//! login form where the demo tenant's users sign in by name, prints
//! `issuer http://HOST:PORT` (HOST `localhost` unless given: another site
//! than a gateway at 127.0.0.1), and runs until interrupted.

// The library uses the dependencies; this thin binary needs only a few.
#![allow(unused_crate_dependencies)]

use test_support::{
    oidc::{StandInIdp, user_claims},
    principals::TENANT,
};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let client_id = args.next().unwrap_or_else(|| "archive-web".into());
    let host = args.next().unwrap_or_else(|| "localhost".into());
    let users = [
        ("paal", "Paal Admin"),
        ("sara", "Sara Supervisor"),
        ("andreas", "Andreas Wallin"),
        ("rita", "Rita Reason"),
        ("nils", "Nils Noplay"),
    ]
    .into_iter()
    .map(|(id, name)| (id.to_owned(), user_claims(TENANT, id, name)))
    .collect();
    let idp = StandInIdp::with_login_form(&client_id, users, &host).await;
    println!("issuer {}", idp.issuer);
    let _ = tokio::signal::ctrl_c().await;
}
