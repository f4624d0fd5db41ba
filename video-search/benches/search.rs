//! Search benchmark: 100,000 synthetic videos in six languages on a few hundred hosts, then a
//! mix of queries (words, phrases, filters, sorts); prints the median and p99 latency of each
//! kind, the indexing rate, and how long an upsert takes to become searchable under the
//! commit policy.
//!
//! `cargo bench -p video-search --bench search` (env `VIDEOS=20000` for a smaller run).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::{Duration, Instant};

use time::OffsetDateTime;
use video_search::{
    ActorSummary, Constant, IndexConfig, Kind, Page, SearchIndex, Sensitive, Sort, SortKey,
    VideoDocument, VideoQuery,
};

const EN: &[&str] = &[
    "running",
    "runs",
    "runner",
    "music",
    "concert",
    "live",
    "guitar",
    "tutorial",
    "tutorials",
    "learning",
    "linux",
    "kernel",
    "software",
    "free",
    "open",
    "source",
    "cooking",
    "recipe",
    "recipes",
    "bread",
    "garden",
    "gardening",
    "mountains",
    "mountain",
    "travel",
    "travelling",
    "climate",
    "change",
    "science",
    "physics",
    "history",
    "ancient",
    "rome",
    "games",
    "gaming",
    "review",
    "reviews",
    "news",
    "weekly",
    "podcast",
    "interview",
    "episode",
    "conference",
    "talk",
    "keynote",
    "drawing",
    "painting",
    "animation",
    "blender",
    "studio",
    "short",
    "film",
    "documentary",
    "nature",
    "birds",
    "ocean",
    "cycling",
    "bicycle",
    "repair",
    "electronics",
    "arduino",
    "robots",
    "building",
    "house",
    "wood",
    "workshop",
    "community",
    "privacy",
    "security",
    "network",
    "federation",
    "video",
    "videos",
    "streaming",
    "children",
    "stories",
];
const FR: &[&str] = &[
    "électricité",
    "électrique",
    "chanson",
    "chansons",
    "chanteuse",
    "chanteuses",
    "musique",
    "cuisine",
    "recette",
    "recettes",
    "pain",
    "jardin",
    "jardinage",
    "montagne",
    "montagnes",
    "voyage",
    "voyages",
    "climat",
    "science",
    "histoire",
    "jeux",
    "vidéo",
    "vidéos",
    "logiciel",
    "logiciels",
    "libre",
    "libres",
    "conférence",
    "conférences",
    "entretien",
    "épisode",
    "dessin",
    "peinture",
    "animation",
    "documentaire",
    "nature",
    "oiseaux",
    "océan",
    "vélo",
    "réparation",
    "électronique",
    "maison",
    "bois",
    "atelier",
    "communauté",
    "vie",
    "privée",
    "sécurité",
    "réseau",
    "enfants",
    "histoires",
    "éducation",
    "mathématiques",
    "école",
    "écoles",
    "français",
    "politique",
    "société",
    "numérique",
    "internet",
];
const DE: &[&str] = &[
    "häuser",
    "haus",
    "straße",
    "straßenbahn",
    "musik",
    "lieder",
    "lied",
    "küche",
    "rezept",
    "rezepte",
    "brot",
    "garten",
    "gärten",
    "berge",
    "berg",
    "reise",
    "reisen",
    "klima",
    "wissenschaft",
    "geschichte",
    "spiele",
    "spiel",
    "software",
    "freie",
    "vortrag",
    "vorträge",
    "gespräch",
    "folge",
    "zeichnen",
    "malerei",
    "natur",
    "vögel",
    "fahrrad",
    "reparatur",
    "elektronik",
    "holz",
    "werkstatt",
    "gemeinschaft",
    "datenschutz",
    "sicherheit",
    "netzwerk",
    "kinder",
    "schönsten",
    "schöne",
    "stadt",
    "städte",
    "zürich",
    "wien",
    "berlin",
];
const ES: &[&str] = &[
    "canción",
    "canciones",
    "música",
    "cocina",
    "receta",
    "recetas",
    "pan",
    "jardín",
    "montaña",
    "montañas",
    "viaje",
    "viajes",
    "clima",
    "ciencia",
    "historia",
    "juegos",
    "juego",
    "software",
    "libre",
    "conferencia",
    "entrevista",
    "episodio",
    "dibujo",
    "pintura",
    "naturaleza",
    "aves",
    "océano",
    "bicicleta",
    "reparación",
    "electrónica",
    "casa",
    "madera",
    "taller",
    "comunidad",
    "privacidad",
    "seguridad",
    "red",
    "niños",
    "cuentos",
    "ciudad",
    "ciudades",
    "populares",
];
const IT: &[&str] = &[
    "canzone",
    "canzoni",
    "musica",
    "cucina",
    "ricetta",
    "ricette",
    "pane",
    "giardino",
    "montagna",
    "montagne",
    "viaggio",
    "viaggi",
    "clima",
    "scienza",
    "storia",
    "giochi",
    "software",
    "libero",
    "conferenza",
    "intervista",
    "episodio",
    "disegno",
    "pittura",
    "natura",
    "uccelli",
    "bicicletta",
    "riparazione",
    "elettronica",
    "casa",
    "legno",
    "comunità",
    "sicurezza",
    "bambini",
    "città",
    "italiane",
    "italiano",
];
const PT: &[&str] = &[
    "canção",
    "canções",
    "música",
    "cozinha",
    "receita",
    "receitas",
    "pão",
    "jardim",
    "montanha",
    "montanhas",
    "viagem",
    "viagens",
    "clima",
    "ciência",
    "história",
    "jogos",
    "software",
    "livre",
    "conferência",
    "entrevista",
    "episódio",
    "desenho",
    "pintura",
    "natureza",
    "aves",
    "bicicleta",
    "reparação",
    "eletrônica",
    "casa",
    "madeira",
    "oficina",
    "comunidade",
    "segurança",
    "crianças",
    "cidade",
    "cidades",
    "brasileiras",
    "brasil",
];
const LANGS: &[(&str, &str, &[&str], u32)] = &[
    ("en", "English", EN, 45),
    ("fr", "French", FR, 20),
    ("de", "German", DE, 10),
    ("es", "Spanish", ES, 10),
    ("it", "Italian", IT, 5),
    ("pt", "Portuguese", PT, 5),
];

struct Gen {
    rng: fastrand::Rng,
    /// Document words drawn by Zipf's law over each list (the first words common, the last
    /// rare), as in real text; `false` draws them uniformly (every word in ~1/70 of a
    /// language's documents' words: a worst case where every query matches thousands).
    zipf: bool,
}

impl Gen {
    /// Query words: uniform over the list (people search for all kinds of words).
    fn words<'a>(&mut self, list: &[&'a str], n: usize) -> Vec<&'a str> {
        (0..n).map(|_| list[self.rng.usize(..list.len())]).collect()
    }

    /// Document words.
    fn doc_words<'a>(&mut self, list: &[&'a str], n: usize) -> Vec<&'a str> {
        if !self.zipf {
            return self.words(list, n);
        }
        let harmonic: f64 = (1..=list.len()).map(|k| 1.0 / k as f64).sum();
        (0..n)
            .map(|_| {
                let mut u = self.rng.f64() * harmonic;
                for (k, word) in list.iter().enumerate() {
                    u -= 1.0 / (k + 1) as f64;
                    if u <= 0.0 {
                        return *word;
                    }
                }
                list[list.len() - 1]
            })
            .collect()
    }

    fn language(&mut self) -> Option<usize> {
        let roll = self.rng.u32(..100);
        let mut acc = 0;
        for (i, l) in LANGS.iter().enumerate() {
            acc += l.3;
            if roll < acc {
                return Some(i);
            }
        }
        None // 5%: no language given
    }

    /// Pareto-ish views: most videos few, some very many.
    fn views(&mut self) -> u64 {
        let u = self.rng.f64().max(1e-6);
        (5.0 / u.powf(1.3)).min(5_000_000.0) as u64
    }

    fn duration(&mut self) -> u64 {
        match self.rng.u32(..100) {
            0..10 => self.rng.u64(5..60),
            10..70 => self.rng.u64(60..1200),
            _ => self.rng.u64(1200..5400),
        }
    }
}

fn actor(name: &str, host: &str, kind: &str) -> ActorSummary {
    let mut a = ActorSummary::new(
        name,
        name.replace('_', " "),
        format!("https://{host}/{kind}/{name}"),
        host,
    );
    a.avatars = vec![
        video_search::Image::new(format!("https://{host}/lazy-static/avatars/{name}.png"))
            .with_width(120),
    ];
    a
}

fn make_videos(n: usize, rng_seed: u64, zipf: bool) -> Vec<VideoDocument> {
    let mut g = Gen {
        rng: fastrand::Rng::with_seed(rng_seed),
        zipf,
    };
    let hosts: Vec<String> = (0..300).map(|i| format!("tube{i}.example")).collect();
    let channels: Vec<(ActorSummary, ActorSummary, Option<usize>)> = (0..3000)
        .map(|i| {
            let host = &hosts[i % hosts.len()];
            let lang = g.language();
            let list = lang.map_or(EN, |l| LANGS[l].2);
            let mut ch = actor(&format!("channel_{i}"), host, "video-channels");
            ch.display_name = format!("{} {}", g.doc_words(list, 2).join(" "), i);
            let acct = actor(&format!("account_{i}"), host, "accounts");
            (ch, acct, lang)
        })
        .collect();
    let start = OffsetDateTime::from_unix_timestamp(1_514_764_800).unwrap(); // 2018-01-01
    let span = 8 * 365 * 86_400;
    (0..n)
        .map(|i| {
            let (ch, acct, ch_lang) = &channels[g.rng.usize(..channels.len())];
            // Channels mostly publish in one language.
            let lang = if g.rng.u32(..10) < 8 {
                *ch_lang
            } else {
                g.language()
            };
            let list = lang.map_or(EN, |l| LANGS[l].2);
            let title_len = g.rng.usize(3..9);
            let name = g.doc_words(list, title_len).join(" ");
            let desc_len = g.rng.usize(20..80);
            let description = g.doc_words(list, desc_len).join(" ");
            let published = start + time::Duration::seconds(g.rng.i64(0..span));
            let uuid = format!("{:08x}-0000-4000-8000-{:012x}", i, g.rng.u64(..1 << 48));
            let host = ch.host.clone();
            let mut v = VideoDocument::new(
                format!("https://{host}/videos/watch/{uuid}"),
                uuid.clone(),
                name,
                host.clone(),
                published,
                ch.clone(),
                acct.clone(),
            );
            v.description = Some(description);
            let tag_count = g.rng.usize(0..5);
            v.tags = g
                .words(list, tag_count)
                .into_iter()
                .map(String::from)
                .collect();
            v.language = lang.map(|l| Constant::new(LANGS[l].0.to_owned(), LANGS[l].1));
            v.category = Some(Constant::new(g.rng.u32(1..19), "Category"));
            v.licence = Some(Constant::new(g.rng.u32(1..8), "Licence"));
            v.is_live = g.rng.u32(..100) < 2;
            v.duration = if v.is_live { 0 } else { g.duration() };
            v.nsfw = g.rng.u32(..100) < 3;
            v.views = g.views();
            v.likes = v.views / g.rng.u64(20..200);
            v.dislikes = v.likes / 20;
            v.comments = Some(g.rng.u64(0..30));
            v.thumbnail_url = Some(format!("https://{host}/lazy-static/thumbnails/{uuid}.jpg"));
            v.preview_url = Some(format!("https://{host}/lazy-static/previews/{uuid}.jpg"));
            v.embed_url = Some(format!("https://{host}/videos/embed/{uuid}"));
            v
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// CPU time this thread has run: on a shared machine, what a query costs apart from the
/// time it waited for a core.
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let n: usize = std::env::var("VIDEOS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let zipf = std::env::var("WORDS").as_deref() != Ok("uniform");
    println!(
        "{n} videos, document words {}",
        if zipf {
            "Zipf-distributed"
        } else {
            "uniform (worst case)"
        }
    );
    let dir = tempfile::tempdir().unwrap();
    let videos = make_videos(n, 42, zipf);

    // -- indexing ---------------------------------------------------------------------------
    let index = SearchIndex::open_in_dir(dir.path(), IndexConfig::default()).unwrap();
    let t = Instant::now();
    for v in &videos {
        index.upsert_video(v).unwrap();
    }
    index.commit().unwrap();
    let took = t.elapsed();
    println!(
        "indexing: {n} videos in {:.1} s = {:.0} documents/s (one writer thread, 64 MB, on disk)",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
    assert_eq!(index.count(Kind::Video).unwrap(), n as u64);
    println!("segments after the bulk load: {}", index.segment_count());

    // -- queries ----------------------------------------------------------------------------
    let mut g = Gen {
        rng: fastrand::Rng::with_seed(7),
        zipf,
    };
    type Build = fn(&mut Gen, &[VideoDocument]) -> VideoQuery;
    let kinds: &[(&str, Build)] = &[
        ("one word", |g, _| {
            let (_, _, list, _) = LANGS[g.rng.usize(..LANGS.len())];
            VideoQuery::new(g.words(list, 1)[0])
        }),
        ("two words", |g, _| {
            let (_, _, list, _) = LANGS[g.rng.usize(..LANGS.len())];
            VideoQuery::new(g.words(list, 2).join(" "))
        }),
        ("three words, unaccented", |g, _| {
            let (_, _, list, _) = LANGS[g.rng.usize(..2)];
            let words = g.words(list, 3).join(" ");
            let folded: String = words
                .chars()
                .map(|c| match c {
                    'é' | 'è' | 'ê' => 'e',
                    'à' => 'a',
                    other => other,
                })
                .collect();
            VideoQuery::new(folded)
        }),
        ("phrase from a title", |g, videos| {
            let v = &videos[g.rng.usize(..videos.len())];
            let words: Vec<&str> = v.name.split(' ').take(2).collect();
            VideoQuery::new(format!("\"{}\"", words.join(" ")))
        }),
        (
            "word + language, duration, date, sensitive filters",
            |g, _| {
                let (code, _, list, _) = LANGS[g.rng.usize(..LANGS.len())];
                let mut q = VideoQuery::new(g.words(list, 1)[0]);
                q.languages = vec![code.to_owned()];
                q.duration_min = Some(60);
                q.duration_max = Some(1800);
                q.published_after =
                    Some(OffsetDateTime::from_unix_timestamp(1_609_459_200).unwrap());
                q.sensitive = Sensitive::Exclude;
                q
            },
        ),
        ("word + three hosts", |g, _| {
            let mut q = VideoQuery::new(g.words(EN, 1)[0]);
            q.hosts = (0..3)
                .map(|_| format!("tube{}.example", g.rng.u32(..300)))
                .collect();
            q
        }),
        ("two words, sort -publishedAt", |g, _| {
            let mut q = VideoQuery::new(g.words(EN, 2).join(" "));
            q.sort = Sort::new(SortKey::PublishedAt, true);
            q
        }),
        ("one word, sort -views", |g, _| {
            let (_, _, list, _) = LANGS[g.rng.usize(..LANGS.len())];
            let mut q = VideoQuery::new(g.words(list, 1)[0]);
            q.sort = Sort::new(SortKey::Views, true);
            q
        }),
        ("no text, filters, sort -publishedAt", |g, _| {
            let mut q = VideoQuery::new("");
            q.languages = vec![LANGS[g.rng.usize(..LANGS.len())].0.to_owned()];
            q.is_live = Some(false);
            q.sort = Sort::new(SortKey::PublishedAt, true);
            q
        }),
        ("one word, page 5 (start 80)", |g, _| {
            let mut q = VideoQuery::new(g.words(EN, 1)[0]);
            q.page = Page::new(80, 20);
            q
        }),
    ];
    const RUNS: usize = 300;
    // The same queries in both rounds.
    let batches: Vec<(&str, Vec<VideoQuery>)> = kinds
        .iter()
        .map(|(label, build)| (*label, (0..RUNS).map(|_| build(&mut g, &videos)).collect()))
        .collect();
    for round in ["as loaded", "after merge_segments()"] {
        if round != "as loaded" {
            let t = Instant::now();
            index.merge_segments().unwrap();
            println!(
                "\nmerge_segments(): {:.1} s, {} segment(s)",
                t.elapsed().as_secs_f64(),
                index.segment_count()
            );
        }
        println!("\nqueries, {round}:");
        println!(
            "\n{:<52} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
            "query kind (wall clock, then CPU time of the thread)",
            "median",
            "p99",
            "max",
            "cpu med",
            "cpu p99",
            "mean hits"
        );
        for (label, queries) in &batches {
            // Warm-up pass (page cache, lazily opened segment files).
            for q in queries.iter().take(20) {
                index.search_videos(q).unwrap();
            }
            let mut times = Vec::with_capacity(RUNS);
            let mut cpu = Vec::with_capacity(RUNS);
            let mut hits = 0u64;
            for q in queries {
                let c = thread_cpu();
                let t = Instant::now();
                let r = index.search_videos(q).unwrap();
                times.push(t.elapsed());
                cpu.push(thread_cpu().saturating_sub(c));
                hits += r.total;
            }
            times.sort();
            cpu.sort();
            println!(
                "{:<52} {:>7.2}ms {:>7.2}ms {:>7.2}ms {:>7.2}ms {:>7.2}ms {:>10}",
                label,
                ms(percentile(&times, 0.5)),
                ms(percentile(&times, 0.99)),
                ms(*times.last().unwrap()),
                ms(percentile(&cpu, 0.5)),
                ms(percentile(&cpu, 0.99)),
                hits / RUNS as u64
            );
        }
    }

    // -- upsert to searchable ---------------------------------------------------------------
    // The application's timer calls commit_due every 50 ms; the policy commits at most once
    // per commit_interval (1 s by default). Upserts arrive at random moments.
    let interval = index.config().commit_interval;
    let mut visible = Vec::new();
    let mut commits = Vec::new();
    for (i, original) in videos.iter().take(20).enumerate() {
        std::thread::sleep(Duration::from_millis(g.rng.u64(0..1000)));
        let mut v = original.clone();
        v.name = format!("{} freshword{i}", v.name);
        let probe = VideoQuery::new(format!("freshword{i}"));
        let t = Instant::now();
        index.upsert_video(&v).unwrap();
        loop {
            let c = Instant::now();
            if index.commit_due(Instant::now()).unwrap() {
                commits.push(c.elapsed());
            }
            if index.search_videos(&probe).unwrap().total == 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        visible.push(t.elapsed());
    }
    visible.sort();
    commits.sort();
    println!(
        "\nupsert → searchable (commit interval {} ms, timer 50 ms): median {:.0} ms, max {:.0} ms",
        interval.as_millis(),
        ms(percentile(&visible, 0.5)),
        ms(*visible.last().unwrap())
    );
    println!(
        "one commit of a single change on a {n}-video index: median {:.1} ms, max {:.1} ms",
        ms(percentile(&commits, 0.5)),
        ms(*commits.last().unwrap())
    );
    let size: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!("index size on disk: {:.0} MB", size as f64 / 1e6);
}
