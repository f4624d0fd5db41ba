//! The two-pod demo: on loopback, bob on pod B follows alice on pod A; alice puts bob in her
//! aspect "Friends" and writes a post to it, mentioning him, and a public one with a hashtag;
//! bob sees both in his stream, is notified of the mention, and comments on the aspect post;
//! the comment is threaded under it on A. Carol, also on B and following alice, sees the
//! public post and not the aspect one.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::{Options, PostAudience, Running, SignupMode, start};

/// The password the demo's people sign in with.
pub const PASSWORD: &str = "correct horse battery staple";

async fn pod(dir: &Path, name: &str) -> Result<Running> {
    let options = Options::new(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        dir.join(format!("{name}.sqlite")).display().to_string(),
    )
    .with_name(name)
    .with_signup(SignupMode::Open)
    .with_danger_allow_private_addresses(true)
    .with_quick_retries(true);
    start(options).await
}

async fn person(running: &Running, name: &str) -> Result<()> {
    let person = instance_server::admin::create_person(running.instance.state(), name).await?;
    instance_server::admin::set_password(running.instance.state(), name, PASSWORD).await?;
    let _ = person;
    Ok(())
}

/// Waits until `check` holds (30 seconds at most).
async fn until<F, Fut>(what: &str, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if check().await? {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{what}: not within 30 seconds")
}

/// Runs the demo in `dir`; with `once`, stops both pods afterwards, else serves until Ctrl-C.
pub async fn run(dir: &Path, once: bool) -> Result<()> {
    let a = pod(dir, "Pod A").await?;
    let b = pod(dir, "Pod B").await?;
    person(&a, "alice").await?;
    person(&b, "bob").await?;
    person(&b, "carol").await?;
    let alice = a.instance.actor_id("alice").to_string();
    let bob = b.instance.actor_id("bob").to_string();
    b.instance.follow("bob", &alice).await?;
    b.instance.follow("carol", &alice).await?;
    until("alice accepts bob and carol", || async {
        Ok(a.instance.contacts("alice").await?.len() == 2)
    })
    .await?;
    let friends = a.instance.create_aspect("alice", "Friends").await?;
    a.instance.add_to_aspect("alice", &friends, &bob).await?;
    let limited = a
        .instance
        .write_post(
            "alice",
            &format!(
                "Dinner at mine on *Friday*, @bob@{}: only for friends.",
                b.instance.authority()
            ),
            &PostAudience::Aspects(vec![friends]),
        )
        .await?;
    a.instance
        .write_post(
            "alice",
            "Hello, **world**! #introductions",
            &PostAudience::Public,
        )
        .await?;
    until("bob receives the aspect post", || async {
        Ok(b.instance.db().post(&limited).await?.is_some())
    })
    .await?;
    until("bob is notified of the mention", || async {
        Ok(b.instance
            .state()
            .notifications(&bob, true, 10)
            .await?
            .iter()
            .any(|n| n.kind == crate::notifications::kind::MENTION))
    })
    .await?;
    b.instance
        .write_comment("bob", &limited, "I'll bring dessert.")
        .await?;
    until("the comment is threaded on A", || async {
        let scope = a.instance.scope_of(&alice).await?;
        Ok(!a
            .instance
            .db()
            .comments(&limited, &scope, 10)
            .await?
            .is_empty())
    })
    .await?;
    println!("Pod A: {} (alice, password {PASSWORD:?})", a.base_url);
    println!("Pod B: {} (bob and carol, same password)", b.base_url);
    println!(
        "alice's aspect post reached bob (notified of her mention), not carol; bob's comment is \
         under it on A; her public post is on {}tags/introductions.",
        a.base_url
    );
    if once {
        a.stop().await?;
        b.stop().await?;
        return Ok(());
    }
    println!("Both pods run until Ctrl-C.");
    tokio::signal::ctrl_c().await?;
    a.stop().await?;
    b.stop().await
}
