//! The stream of a person who follows 1,000 people and 50 tags, over a database of
//! `STREAM_POSTS` posts (1,000,000 by default): how long a page of it takes, served.
//!
//! A pod starts on loopback with SQLite. Its database is filled directly, in one transaction,
//! with what the pod would have stored on receiving the posts: `STREAM_AUTHORS` remote
//! authors (10,000) on 100 servers, of whom the reader follows 1,000; 500 hashtags, of which
//! the reader follows 50; posts one second apart, each by a random author, 85 % public with
//! 0 to 2 random tags, 10 % addressed to the reader alone and 5 % to someone else (which the
//! reader must not see). Then the reader's browser (a session cookie) walks the stream: the
//! first page, then the "Older posts" link, `STREAM_PAGES` pages deep (10), `STREAM_WALKS`
//! times (20); every page is fetched over HTTP and rendered as a browser gets it. Prints the
//! percentiles of a page's time next to the target (p99 under 50 ms), and checks each page
//! holds only what the reader may see.
//!
//! `cargo bench -p pod --bench stream` (or `STREAM_POSTS=100000 cargo bench ...`);
//! `STREAM_DIR=DIR` keeps the database in `DIR` and reuses it at the next run with the same
//! `STREAM_POSTS` and `STREAM_AUTHORS` (filling it takes minutes).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::time::{Duration, Instant};

use pod::{Options, Running, start};

/// The shape of what [`fill`] makes; a database kept in `STREAM_DIR` by a run with another
/// is filled anew.
const FILL_VERSION: u64 = 1;

/// The target of issue 21: a page of the stream within 50 ms at the 99th percentile.
const TARGET_P99: Duration = Duration::from_millis(50);

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (xorshift64*), so that every run fills the same database.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn author(n: usize) -> String {
    format!("https://server{}.example/users/u{n}", n % 100)
}

/// Runs `rows` (each a list of already quoted SQL values) as multi-row `INSERT`s into
/// `table (columns)`, 200 rows a statement.
async fn insert(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    table: &str,
    columns: &str,
    rows: &[String],
) {
    for chunk in rows.chunks(200) {
        let sql = format!(
            "INSERT INTO {table} ({columns}) VALUES {}",
            chunk
                .iter()
                .map(|r| format!("({r})"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut **tx)
            .await
            .unwrap();
    }
}

fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

async fn fill(running: &Running, reader: &str, posts: usize, authors: usize) {
    const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";
    let state = running.instance.state();
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let now = 1_800_000_000_000_000_i64;
    let mut tx = state.begin_write().await.unwrap();

    let mut rows = Vec::new();
    for n in 0..authors {
        rows.push(format!(
            "{}, 'Person', {}, {}, {}, {}, {now}",
            quoted(&author(n)),
            quoted(&format!("Author {n}")),
            quoted(&format!("u{n}@server{}.example", n % 100)),
            quoted(&author(n)),
            quoted(&format!("{}/inbox", author(n))),
        ));
    }
    insert(
        &mut tx,
        "st_remote_actors",
        "id, kind, name, handle, url, inbox, updated",
        &rows,
    )
    .await;
    // The reader follows every tenth author (1,000 of 10,000) and every tenth tag.
    let followed: Vec<String> = (0..authors).step_by(10).map(author).collect();
    let rows: Vec<String> = followed
        .iter()
        .enumerate()
        .map(|(n, a)| {
            format!(
                "{}, {}, {}, 'accepted', {now}, {now}",
                quoted(reader),
                quoted(a),
                quoted(&format!("{reader}#follows/{n}"))
            )
        })
        .collect();
    insert(
        &mut tx,
        "st_follows",
        "follower, followed, follow_id, state, created, updated",
        &rows,
    )
    .await;
    let rows: Vec<String> = (0..500)
        .step_by(10)
        .map(|t| format!("{}, 'tag{t}', {now}", quoted(reader)))
        .collect();
    insert(&mut tx, "pd_tag_follows", "actor, tag, created", &rows).await;

    let started = Instant::now();
    let mut objects = Vec::new();
    let mut addressing = Vec::new();
    let mut pod_posts = Vec::new();
    let mut post_tags = Vec::new();
    for n in 0..posts {
        let by = author(random.below(authors));
        let id = format!("{by}/statuses/{n}");
        let published = now - i64::try_from(n).unwrap() * 1_000_000;
        let kind = random.below(100);
        let (audience, visibility, to) = if kind < 85 {
            ("public", "public", PUBLIC.to_owned())
        } else if kind < 95 {
            ("limited", "direct", reader.to_owned())
        } else {
            (
                "limited",
                "direct",
                "https://elsewhere.example/users/someone".to_owned(),
            )
        };
        let mut tags = Vec::new();
        if audience == "public" {
            for _ in 0..random.below(3) {
                let tag = format!("tag{}", random.below(500));
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
        }
        let content = format!("<p>Post {n} by {by}</p>");
        let document = serde_json::json!({
            "id": id, "type": "Note", "attributedTo": by, "content": content,
            "to": [to], "published": "2027-01-15T08:00:00Z",
        })
        .to_string();
        objects.push(format!(
            "{}, 'Note', 0, {}, NULL, NULL, {}, '{visibility}', 0, {published}, {published}, {published}",
            quoted(&id),
            quoted(&by),
            quoted(&document)
        ));
        addressing.push(format!("{}, 'to', {}", quoted(&id), quoted(&to)));
        addressing.push(format!("{}, 'author', {}", quoted(&id), quoted(&by)));
        pod_posts.push(format!(
            "{}, {}, 0, NULL, NULL, '', {}, '{audience}', {}, '[]', {published}, {published}",
            quoted(&id),
            quoted(&by),
            quoted(&content),
            quoted(&serde_json::to_string(&tags).unwrap()),
        ));
        for tag in &tags {
            post_tags.push(format!("{}, {}", quoted(&id), quoted(tag)));
        }
        if objects.len() == 10_000 || n + 1 == posts {
            insert(
                &mut tx,
                "st_objects",
                "id, kind, local, attributed_to, in_reply_to, context, document, visibility, \
                 deleted, published, updated, stored",
                &objects,
            )
            .await;
            insert(
                &mut tx,
                "st_addressing",
                "item, field, address",
                &addressing,
            )
            .await;
            insert(
                &mut tx,
                "pd_posts",
                "id, author, local, in_reply_to, root, source, content, audience, tags, \
                 mentions, published, updated",
                &pod_posts,
            )
            .await;
            insert(&mut tx, "pd_post_tags", "post, tag", &post_tags).await;
            objects.clear();
            addressing.clear();
            pod_posts.clear();
            post_tags.clear();
        }
    }
    tx.commit().await.unwrap();
    sqlx::query("ANALYZE").execute(state.pool()).await.unwrap();
    println!(
        "filled {posts} posts by {authors} authors in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The `href` of the page's "Older posts" link.
fn older_link(page: &str) -> Option<String> {
    let end = page.find("\" rel=\"next\"")?;
    let start = page.get(..end)?.rfind("href=\"")? + "href=\"".len();
    Some(page.get(start..end)?.replace("&amp;", "&"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let posts = env("STREAM_POSTS", 1_000_000);
    let authors = env("STREAM_AUTHORS", 10_000);
    let pages = env("STREAM_PAGES", 10);
    let walks = env("STREAM_WALKS", 20);
    // `STREAM_DIR`: a folder to keep the database in, to look at after the run
    // (`EXPLAIN QUERY PLAN`) and to use again: a database filled there by a run with the same
    // `STREAM_POSTS` and `STREAM_AUTHORS` (as its `filled.json` says) is reused as it is (the
    // pod's newer migrations apply to it on start); anything else there is emptied first and
    // filled anew. A fresh temporary folder otherwise.
    let temporary = tempfile::tempdir().unwrap();
    let marker = serde_json::json!({ "fill": FILL_VERSION, "posts": posts, "authors": authors });
    let (dir, reuse) = match std::env::var_os("STREAM_DIR") {
        None => (temporary.path().to_owned(), false),
        Some(dir) => {
            let dir = std::path::PathBuf::from(dir);
            let filled = std::fs::read_to_string(dir.join("filled.json"))
                .ok()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
            let reuse = filled.as_ref() == Some(&marker) && dir.join("pod.sqlite").exists();
            if !reuse {
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).unwrap();
            }
            (dir, reuse)
        }
    };
    let database = dir.join("pod.sqlite");
    // A base URL of its own (not the loopback address, whose port changes from run to run),
    // so that a kept database names the same reader at the next run.
    let options = Options::new(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        database.display().to_string(),
    )
    .with_base_url(url::Url::parse("http://pod.bench.example/").unwrap())
    .with_name("bench")
    .with_danger_allow_private_addresses(true);
    let started = Instant::now();
    let running = start(options).await.unwrap();
    let state = running.instance.state();
    if reuse {
        println!(
            "reusing the database in {} (opened in {:.1} s)",
            dir.display(),
            started.elapsed().as_secs_f64()
        );
    } else {
        let reader = instance_server::admin::create_person(state, "reader")
            .await
            .unwrap()
            .actor
            .to_string();
        fill(&running, &reader, posts, authors).await;
        std::fs::write(dir.join("filled.json"), marker.to_string()).unwrap();
    }
    let origin = url::Url::parse(&format!("http://{}/", running.addr)).unwrap();

    let account = state.account_by_username("reader").await.unwrap().unwrap();
    let (secret, _) = state
        .new_session(&account.id, Some("reader"), "bench", 3_600_000_000)
        .await
        .unwrap();
    let cookie = format!("session={}", secret.expose());
    let http = reqwest::Client::new();
    let mut times = Vec::new();
    let mut shown = 0_usize;
    for _ in 0..walks {
        let mut path = "/".to_owned();
        for _ in 0..pages {
            let started = Instant::now();
            let response = http
                .get(origin.join(&path).unwrap())
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let page = response.text().await.unwrap();
            times.push(started.elapsed());
            // Only what the reader may read: never the posts addressed to someone else.
            assert!(
                !page.contains("elsewhere.example"),
                "a post not for the reader"
            );
            shown += page.matches("<article").count();
            match older_link(&page) {
                Some(next) => path = next,
                None => break,
            }
        }
    }
    times.sort();
    let (p50, p90, p99) = (
        percentile(&times, 0.50),
        percentile(&times, 0.90),
        percentile(&times, 0.99),
    );
    println!(
        "{} pages ({} posts shown) over {posts} posts: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms; target p99 < {} ms: {}",
        times.len(),
        shown,
        p50.as_secs_f64() * 1e3,
        p90.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
        TARGET_P99.as_millis(),
        if p99 < TARGET_P99 { "met" } else { "missed" }
    );
    println!(
        "{}",
        serde_json::json!({
            "posts": posts, "authors": authors, "pages": times.len(),
            "p50_ms": p50.as_secs_f64() * 1e3, "p90_ms": p90.as_secs_f64() * 1e3,
            "p99_ms": p99.as_secs_f64() * 1e3, "target_p99_ms": TARGET_P99.as_millis(),
        })
    );
}
