//! The index: one tantivy index holding videos, channels and playlists, one writer whose
//! changes become visible at each commit, and the searches.

use std::collections::BTreeSet;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tantivy::collector::{Count, TopDocs};
use tantivy::directory::MmapDirectory;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, Occur, PhraseQuery, Query, RangeQuery,
    TermQuery, TermSetQuery,
};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Searcher, TantivyDocument,
    TantivyError, Term,
};
use time::OffsetDateTime;

use crate::analysis::{self, FOLDED, STEMMED_LANGUAGES};
use crate::document::{ActorSummary, ChannelDocument, PlaylistDocument, VideoDocument};
use crate::query::{ChannelQuery, Page, PlaylistQuery, Sensitive, Sort, SortKey, VideoQuery};
use crate::text::{self, Part};

/// Bounds on what one search may ask, so that no query costs more than a known amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Characters of typed text read; the rest is ignored.
    pub max_query_chars: usize,
    /// Terms (words, phrases) of the text used; the rest are ignored.
    pub max_terms: usize,
    /// Results in one page; a larger `count` is cut to this.
    pub max_count: usize,
    /// How deep pagination goes (`start + count`); pages beyond are empty.
    pub max_window: usize,
    /// Values in one filter list (hosts, languages, uuids...); the rest are ignored.
    pub max_filter_values: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_query_chars: 256,
            max_terms: 16,
            max_count: 100,
            max_window: 10_000,
            max_filter_values: 256,
        }
    }
}

/// How an index is set up.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexConfig {
    /// The search bounds.
    pub limits: Limits,
    /// Commit at most this often through [`SearchIndex::commit_due`].
    pub commit_interval: Duration,
    /// The stemmer for documents without a language (or with one no stemmer knows), e.g. an
    /// instance's main language; `None` indexes them unstemmed only.
    pub default_language: Option<String>,
    /// Memory the writer buffers before writing a segment (at least 15 MB per thread).
    pub writer_memory_bytes: usize,
    /// Indexing threads.
    pub writer_threads: usize,
}

impl Default for IndexConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            commit_interval: Duration::from_millis(1000),
            default_language: None,
            writer_memory_bytes: 64_000_000,
            writer_threads: 1,
        }
    }
}

/// What went wrong in the index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// The index directory could not be created.
    #[error("cannot create the index directory {path}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The directory holds an index of another layout (an older version of this crate): the
    /// index is derived data, so delete the directory and rebuild it from the database.
    #[error("the index in {path} has another layout; delete it and rebuild from the database")]
    LayoutChanged {
        /// The directory.
        path: PathBuf,
    },
    /// The search engine failed (I/O, a full disk, a corrupt segment).
    #[error("search engine error")]
    Engine(#[from] TantivyError),
    /// A document has an empty id.
    #[error("a document needs an id (its ActivityPub id)")]
    EmptyId,
    /// A stored document could not be read back.
    #[error("stored document {address:?} is unreadable")]
    StoredDocument {
        /// Where it is.
        address: DocAddress,
        /// Why (`None`: it has no stored body).
        #[source]
        source: Option<serde_json::Error>,
    },
    /// A document could not be serialized for storage.
    #[error("document {id} cannot be serialized")]
    Serialize {
        /// Its id.
        id: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

/// The kinds of documents, as indexed in the `kind` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// Videos.
    Video,
    /// Channels.
    Channel,
    /// Playlists.
    Playlist,
}

impl Kind {
    fn code(self) -> u64 {
        match self {
            Kind::Video => 0,
            Kind::Channel => 1,
            Kind::Playlist => 2,
        }
    }
}

/// One result: the stored document and, when ordered by relevance, its score.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Hit<D> {
    /// The relevance score (`None` for other orders).
    pub score: Option<f32>,
    /// The document.
    pub document: D,
}

impl<D> Hit<D> {
    /// A hit.
    pub fn new(score: Option<f32>, document: D) -> Self {
        Self { score, document }
    }
}

/// A page of results and how many matched in all.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SearchResults<D> {
    /// How many documents matched.
    pub total: u64,
    /// The page asked for.
    pub hits: Vec<Hit<D>>,
}

/// The search index. It is derived data: the application's database stays the source of
/// truth, and the index can be rebuilt from it at any time.
///
/// Writes ([`upsert_video`](Self::upsert_video), [`delete`](Self::delete)...) are buffered
/// and become visible to searches at the next [`commit`](Self::commit); call
/// [`commit_due`](Self::commit_due) on a timer to commit at most every
/// [`IndexConfig::commit_interval`]. Changes not committed when it is dropped are lost. Every
/// method takes `&self`: share it in an `Arc`.
pub struct SearchIndex {
    reader: IndexReader,
    writer: Mutex<WriterState>,
    fields: Fields,
    config: IndexConfig,
    default_stem: Option<usize>,
}

struct WriterState {
    writer: IndexWriter,
    pending: bool,
    last_commit: Option<Instant>,
    /// The marker the next commit records ([`SearchIndex::set_marker`]).
    marker: Option<u64>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SearchIndex {
    /// Opens the index in `dir`, creating the directory and the index if needed.
    pub fn open_in_dir(dir: impl AsRef<Path>, config: IndexConfig) -> Result<Self, IndexError> {
        let path = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&path).map_err(|source| IndexError::Directory {
            path: path.clone(),
            source,
        })?;
        let (schema, fields) = build_schema();
        let directory = MmapDirectory::open(&path).map_err(|e| IndexError::Engine(e.into()))?;
        let index = match Index::open_or_create(directory, schema) {
            Ok(index) => index,
            Err(TantivyError::SchemaError(_)) => return Err(IndexError::LayoutChanged { path }),
            Err(e) => return Err(e.into()),
        };
        Self::with_index(index, fields, config)
    }

    /// An index in memory (tests, or an index rebuilt at every start).
    pub fn in_memory(config: IndexConfig) -> Result<Self, IndexError> {
        let (schema, fields) = build_schema();
        Self::with_index(Index::create_in_ram(schema), fields, config)
    }

    fn with_index(index: Index, fields: Fields, config: IndexConfig) -> Result<Self, IndexError> {
        index
            .tokenizers()
            .register(FOLDED, analysis::folded_analyzer());
        for code in STEMMED_LANGUAGES {
            index.tokenizers().register(
                &analysis::stemmed_name(code),
                analysis::stemmed_analyzer(code),
            );
        }
        let writer = index.writer_with_num_threads(
            config.writer_threads.max(1),
            config
                .writer_memory_bytes
                .max(15_000_000 * config.writer_threads.max(1)),
        )?;
        let marker = index
            .load_metas()?
            .payload
            .and_then(|payload| payload.parse().ok());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let default_stem = config
            .default_language
            .as_deref()
            .and_then(analysis::stemmer_index);
        Ok(Self {
            reader,
            writer: Mutex::new(WriterState {
                writer,
                pending: false,
                last_commit: None,
                marker,
            }),
            fields,
            config,
            default_stem,
        })
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &IndexConfig {
        &self.config
    }

    /// Adds a video, or replaces the one with the same id.
    pub fn upsert_video(&self, video: &VideoDocument) -> Result<(), IndexError> {
        let doc = self.video_doc(video)?;
        self.replace(&video.id, doc)
    }

    /// Adds a channel, or replaces the one with the same id.
    pub fn upsert_channel(&self, channel: &ChannelDocument) -> Result<(), IndexError> {
        let doc = self.channel_doc(channel)?;
        self.replace(&channel.id, doc)
    }

    /// Adds a playlist, or replaces the one with the same id.
    pub fn upsert_playlist(&self, playlist: &PlaylistDocument) -> Result<(), IndexError> {
        let doc = self.playlist_doc(playlist)?;
        self.replace(&playlist.id, doc)
    }

    /// Removes the document (video, channel or playlist) with this ActivityPub id.
    pub fn delete(&self, id: &str) -> Result<(), IndexError> {
        let mut state = self.lock();
        state
            .writer
            .delete_term(Term::from_field_text(self.fields.id, id));
        state.pending = true;
        Ok(())
    }

    /// Removes everything that lives on `host` (a host blocked or gone).
    pub fn delete_host(&self, host: &str) -> Result<(), IndexError> {
        let mut state = self.lock();
        state.writer.delete_term(Term::from_field_text(
            self.fields.host,
            &host.to_ascii_lowercase(),
        ));
        state.pending = true;
        Ok(())
    }

    /// Removes every document (before a rebuild).
    pub fn delete_all(&self) -> Result<(), IndexError> {
        let mut state = self.lock();
        state.writer.delete_all_documents()?;
        state.pending = true;
        Ok(())
    }

    /// Sets the marker the next commit records with the changes made so far: how far the
    /// application's source of changes has been applied (a sequence number in a log of
    /// changes, say). After a restart, [`committed_marker`](Self::committed_marker) says where
    /// to resume. It stays until set again (every later commit records it), and counts as a
    /// pending change.
    pub fn set_marker(&self, marker: u64) {
        let mut state = self.lock();
        state.marker = Some(marker);
        state.pending = true;
    }

    /// The marker recorded by the last commit ([`set_marker`](Self::set_marker)), if any. A
    /// marker that is not a number (written by something else) counts as none.
    pub fn committed_marker(&self) -> Result<Option<u64>, IndexError> {
        let state = self.lock();
        let metas = state.writer.index().load_metas()?;
        Ok(metas.payload.and_then(|payload| payload.parse().ok()))
    }

    /// Makes every change so far durable and visible to searches.
    pub fn commit(&self) -> Result<(), IndexError> {
        let mut state = self.lock();
        self.commit_locked(&mut state, Instant::now())
    }

    /// Commits if there are changes and the last commit is at least
    /// [`IndexConfig::commit_interval`] before `now`; says whether it committed. Call it on a
    /// timer (every few hundred milliseconds): a change is then searchable within about one
    /// interval, and bursts of writes share one commit.
    pub fn commit_due(&self, now: Instant) -> Result<bool, IndexError> {
        let mut state = self.lock();
        if !state.pending {
            return Ok(false);
        }
        if let Some(last) = state.last_commit
            && now.saturating_duration_since(last) < self.config.commit_interval
        {
            return Ok(false);
        }
        self.commit_locked(&mut state, now)?;
        Ok(true)
    }

    /// Commits, then merges every segment into one and waits for it: after a rebuild, so
    /// that searches open one segment instead of dozens. Writes wait meanwhile (seconds for a
    /// hundred thousand videos).
    pub fn merge_segments(&self) -> Result<(), IndexError> {
        let mut state = self.lock();
        self.commit_locked(&mut state, Instant::now())?;
        let ids = state.writer.index().searchable_segment_ids()?;
        if ids.len() > 1 {
            state.writer.merge(&ids).wait()?;
        }
        self.reader.reload()?;
        Ok(())
    }

    /// How many segments a search goes through (diagnostics: each adds a fixed cost).
    pub fn segment_count(&self) -> usize {
        self.reader.searcher().segment_readers().len()
    }

    /// Whether changes wait for a commit.
    pub fn has_pending_changes(&self) -> bool {
        self.lock().pending
    }

    /// How many documents of a kind are searchable (as of the last commit).
    pub fn count(&self, kind: Kind) -> Result<u64, IndexError> {
        let searcher = self.reader.searcher();
        let n = searcher.search(&self.kind_query(kind), &Count)?;
        Ok(n as u64)
    }

    /// Searches videos.
    pub fn search_videos(
        &self,
        query: &VideoQuery,
    ) -> Result<SearchResults<VideoDocument>, IndexError> {
        let limits = &self.config.limits;
        let f = &self.fields;
        let searcher = self.reader.searcher();
        let langs = self.query_languages(&searcher, &query.languages);
        let mut clauses = vec![self.kind_clause(Kind::Video)];
        let has_text = self.text_clauses(&query.text, &langs, &mut clauses);

        let cap = limits.max_filter_values;
        if !query.languages.is_empty() {
            let terms = capped(&query.languages, cap)
                .map(|l| Term::from_field_text(f.language, &normalize_language(l)));
            clauses.push(filter(Occur::Must, TermSetQuery::new(terms)));
        }
        match query.sensitive {
            Sensitive::Exclude => clauses.push(filter(
                Occur::MustNot,
                term_query(Term::from_field_bool(f.nsfw, true)),
            )),
            Sensitive::Only => clauses.push(filter(
                Occur::Must,
                term_query(Term::from_field_bool(f.nsfw, true)),
            )),
            Sensitive::Include => {}
        }
        if let Some(range) = u64_range(f.duration, query.duration_min, query.duration_max) {
            clauses.push(filter(Occur::Must, range));
        }
        if let Some(range) = date_range(f.published, query.published_after, query.published_before)
        {
            clauses.push(filter(Occur::Must, range));
        }
        if let Some(range) = date_range(
            f.originally_published,
            query.originally_published_after,
            query.originally_published_before,
        ) {
            clauses.push(filter(Occur::Must, range));
        }
        self.host_filters(&query.hosts, &query.exclude_hosts, &mut clauses);
        if !query.channels.is_empty() {
            clauses.push(filter(
                Occur::Must,
                actor_set(f.channel_key, &query.channels, cap),
            ));
        }
        if !query.accounts.is_empty() {
            clauses.push(filter(
                Occur::Must,
                actor_set(f.account_key, &query.accounts, cap),
            ));
        }
        if !query.exclude_accounts.is_empty() {
            clauses.push(filter(
                Occur::MustNot,
                actor_set(f.account_key, &query.exclude_accounts, cap),
            ));
        }
        if let Some(live) = query.is_live {
            clauses.push(filter(
                Occur::Must,
                term_query(Term::from_field_bool(f.is_live, live)),
            ));
        }
        if !query.categories.is_empty() {
            let terms = capped(&query.categories, cap)
                .map(|c| Term::from_field_u64(f.category, u64::from(*c)));
            clauses.push(filter(Occur::Must, TermSetQuery::new(terms)));
        }
        if !query.licences.is_empty() {
            let terms = capped(&query.licences, cap)
                .map(|c| Term::from_field_u64(f.licence, u64::from(*c)));
            clauses.push(filter(Occur::Must, TermSetQuery::new(terms)));
        }
        let mut folder = analysis::folded_analyzer();
        if !query.tags_one_of.is_empty() {
            let terms = capped(&query.tags_one_of, cap)
                .map(|t| Term::from_field_text(f.tag_key, &analysis::fold_keyword(&mut folder, t)));
            clauses.push(filter(Occur::Must, TermSetQuery::new(terms)));
        }
        for tag in capped(&query.tags_all_of, cap) {
            let term = Term::from_field_text(f.tag_key, &analysis::fold_keyword(&mut folder, tag));
            clauses.push(filter(Occur::Must, term_query(term)));
        }
        if !query.uuids.is_empty() {
            clauses.push(filter(Occur::Must, text_set(f.uuid_key, &query.uuids, cap)));
        }
        self.id_filter(&query.ids, &mut clauses);
        self.run(
            &searcher,
            clauses,
            has_text,
            query.sort,
            query.page,
            SortKey::PublishedAt,
        )
    }

    /// Searches channels.
    pub fn search_channels(
        &self,
        query: &ChannelQuery,
    ) -> Result<SearchResults<ChannelDocument>, IndexError> {
        let f = &self.fields;
        let cap = self.config.limits.max_filter_values;
        let searcher = self.reader.searcher();
        let langs = self.query_languages(&searcher, &[]);
        let mut clauses = vec![self.kind_clause(Kind::Channel)];
        let has_text = self.text_clauses(&query.text, &langs, &mut clauses);
        self.host_filters(&query.hosts, &query.exclude_hosts, &mut clauses);
        if !query.handles.is_empty() {
            clauses.push(filter(
                Occur::Must,
                actor_set(f.channel_key, &query.handles, cap),
            ));
        }
        self.id_filter(&query.ids, &mut clauses);
        if !query.exclude_accounts.is_empty() {
            clauses.push(filter(
                Occur::MustNot,
                actor_set(f.account_key, &query.exclude_accounts, cap),
            ));
        }
        self.run(
            &searcher,
            clauses,
            has_text,
            query.sort,
            query.page,
            SortKey::CreatedAt,
        )
    }

    /// Searches playlists.
    pub fn search_playlists(
        &self,
        query: &PlaylistQuery,
    ) -> Result<SearchResults<PlaylistDocument>, IndexError> {
        let f = &self.fields;
        let cap = self.config.limits.max_filter_values;
        let searcher = self.reader.searcher();
        let langs = self.query_languages(&searcher, &[]);
        let mut clauses = vec![self.kind_clause(Kind::Playlist)];
        let has_text = self.text_clauses(&query.text, &langs, &mut clauses);
        self.host_filters(&query.hosts, &query.exclude_hosts, &mut clauses);
        if !query.uuids.is_empty() {
            clauses.push(filter(Occur::Must, text_set(f.uuid_key, &query.uuids, cap)));
        }
        self.id_filter(&query.ids, &mut clauses);
        if !query.exclude_accounts.is_empty() {
            clauses.push(filter(
                Occur::MustNot,
                actor_set(f.account_key, &query.exclude_accounts, cap),
            ));
        }
        self.run(
            &searcher,
            clauses,
            has_text,
            query.sort,
            query.page,
            SortKey::CreatedAt,
        )
    }

    // -- writing ---------------------------------------------------------------------------

    fn lock(&self) -> MutexGuard<'_, WriterState> {
        // A panic while holding the lock leaves the writer usable: tantivy's writer has no
        // half-applied state of ours to protect.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn commit_locked(&self, state: &mut WriterState, now: Instant) -> Result<(), IndexError> {
        let marker = state.marker;
        let mut prepared = state.writer.prepare_commit()?;
        if let Some(marker) = marker {
            prepared.set_payload(&marker.to_string());
        }
        prepared.commit()?;
        state.pending = false;
        state.last_commit = Some(now);
        self.reader.reload()?;
        Ok(())
    }

    fn replace(&self, id: &str, doc: TantivyDocument) -> Result<(), IndexError> {
        if id.is_empty() {
            return Err(IndexError::EmptyId);
        }
        let mut state = self.lock();
        state
            .writer
            .delete_term(Term::from_field_text(self.fields.id, id));
        state.writer.add_document(doc)?;
        state.pending = true;
        Ok(())
    }

    fn base_doc<T: Serialize>(
        &self,
        kind: Kind,
        id: &str,
        host: &str,
        stored: &T,
    ) -> Result<TantivyDocument, IndexError> {
        let f = &self.fields;
        let json = serde_json::to_string(stored).map_err(|source| IndexError::Serialize {
            id: id.to_owned(),
            source,
        })?;
        let mut doc = TantivyDocument::new();
        doc.add_u64(f.kind, kind.code());
        doc.add_text(f.id, id);
        doc.add_text(f.stored, json);
        doc.add_text(f.host, host.to_ascii_lowercase());
        Ok(doc)
    }

    fn add_texts(
        &self,
        doc: &mut TantivyDocument,
        stem: Option<usize>,
        name: &[&str],
        tags: &[String],
        description: Option<&str>,
        owner: &[&ActorSummary],
    ) {
        let f = &self.fields;
        for n in name {
            doc.add_text(f.name, n);
        }
        for t in tags {
            doc.add_text(f.tags, t);
        }
        if let Some(d) = description {
            doc.add_text(f.description, d);
        }
        for o in owner {
            doc.add_text(f.owner, &o.display_name);
            doc.add_text(f.owner, &o.name);
        }
        if let Some((n, t, d)) = stem.and_then(|i| {
            Some((
                f.name_stem.get(i)?,
                f.tags_stem.get(i)?,
                f.description_stem.get(i)?,
            ))
        }) {
            for x in name {
                doc.add_text(*n, x);
            }
            for x in tags {
                doc.add_text(*t, x);
            }
            if let Some(x) = description {
                doc.add_text(*d, x);
            }
        }
        let mut folder = analysis::folded_analyzer();
        let sort_name: String = analysis::fold_keyword(&mut folder, name.first().unwrap_or(&""))
            .chars()
            .take(64)
            .collect();
        doc.add_text(f.name_sort, sort_name);
    }

    fn video_doc(&self, v: &VideoDocument) -> Result<TantivyDocument, IndexError> {
        let f = &self.fields;
        let mut doc = self.base_doc(Kind::Video, &v.id, &v.host, v)?;
        let stem = v
            .language
            .as_ref()
            .and_then(|l| analysis::stemmer_index(&l.id))
            .or(self.default_stem);
        // The channel's names count as owner text; the account is only a filter key, so a
        // search for an account's name does not list every video of the account.
        self.add_texts(
            &mut doc,
            stem,
            &[&v.name],
            &v.tags,
            v.description.as_deref(),
            &[&v.channel],
        );
        doc.add_text(f.channel_key, v.channel.handle());
        doc.add_text(f.channel_key, &v.channel.url);
        doc.add_text(f.account_key, v.account.handle());
        doc.add_text(f.account_key, &v.account.url);
        doc.add_text(
            f.language,
            normalize_language(v.language.as_ref().map_or("_unknown", |l| l.id.as_str())),
        );
        doc.add_bool(f.nsfw, v.nsfw);
        doc.add_bool(f.is_live, v.is_live);
        doc.add_u64(f.duration, v.duration);
        doc.add_i64(f.published, millis(v.published_at));
        if let Some(at) = v.originally_published_at {
            doc.add_i64(f.originally_published, millis(at));
        }
        doc.add_i64(f.created, millis(v.created_at));
        doc.add_u64(f.views, v.views);
        doc.add_u64(f.likes, v.likes);
        if let Some(c) = &v.category {
            doc.add_u64(f.category, u64::from(c.id));
        }
        if let Some(l) = &v.licence {
            doc.add_u64(f.licence, u64::from(l.id));
        }
        let mut folder = analysis::folded_analyzer();
        let tags: BTreeSet<String> = v
            .tags
            .iter()
            .map(|t| analysis::fold_keyword(&mut folder, t))
            .collect();
        for t in tags {
            doc.add_text(f.tag_key, t);
        }
        doc.add_text(f.uuid_key, &v.uuid);
        if let Some(s) = &v.short_uuid {
            doc.add_text(f.uuid_key, s);
        }
        Ok(doc)
    }

    fn channel_doc(&self, c: &ChannelDocument) -> Result<TantivyDocument, IndexError> {
        let f = &self.fields;
        let mut doc = self.base_doc(Kind::Channel, &c.id, &c.host, c)?;
        self.add_texts(
            &mut doc,
            self.default_stem,
            &[&c.display_name, &c.name],
            &[],
            c.description.as_deref(),
            &[&c.owner_account],
        );
        doc.add_text(f.channel_key, c.handle());
        doc.add_text(f.channel_key, &c.id);
        doc.add_text(f.account_key, c.owner_account.handle());
        doc.add_text(f.account_key, &c.owner_account.url);
        doc.add_i64(f.created, millis(c.created_at));
        Ok(doc)
    }

    fn playlist_doc(&self, p: &PlaylistDocument) -> Result<TantivyDocument, IndexError> {
        let f = &self.fields;
        let mut doc = self.base_doc(Kind::Playlist, &p.id, &p.host, p)?;
        let mut owners = vec![&p.owner_account];
        if let Some(ch) = &p.video_channel {
            owners.push(ch);
        }
        self.add_texts(
            &mut doc,
            self.default_stem,
            &[&p.display_name],
            &[],
            p.description.as_deref(),
            &owners,
        );
        doc.add_text(f.account_key, p.owner_account.handle());
        doc.add_text(f.account_key, &p.owner_account.url);
        if let Some(ch) = &p.video_channel {
            doc.add_text(f.channel_key, ch.handle());
            doc.add_text(f.channel_key, &ch.url);
        }
        doc.add_i64(f.created, millis(p.created_at));
        doc.add_text(f.uuid_key, &p.uuid);
        if let Some(s) = &p.short_uuid {
            doc.add_text(f.uuid_key, s);
        }
        Ok(doc)
    }

    // -- searching -------------------------------------------------------------------------

    fn kind_query(&self, kind: Kind) -> Box<dyn Query> {
        Box::new(ConstScoreQuery::new(
            Box::new(term_query(Term::from_field_u64(
                self.fields.kind,
                kind.code(),
            ))),
            0.0,
        ))
    }

    /// The clause that keeps one kind of document. Videos are most of the index, so they are
    /// kept by leaving the others out (a short exclusion) rather than by intersecting with a
    /// posting list of every video.
    fn kind_clause(&self, kind: Kind) -> (Occur, Box<dyn Query>) {
        match kind {
            Kind::Video => filter(
                Occur::MustNot,
                TermSetQuery::new(
                    [Kind::Channel, Kind::Playlist]
                        .map(|k| Term::from_field_u64(self.fields.kind, k.code())),
                ),
            ),
            other => (Occur::Must, self.kind_query(other)),
        }
    }

    /// The stemmers a query's words go through: those of the requested languages, else all;
    /// only those some document of the index was stemmed with.
    fn query_languages(&self, searcher: &Searcher, languages: &[String]) -> Vec<usize> {
        let mut out: Vec<usize> = languages
            .iter()
            .filter_map(|l| analysis::stemmer_index(l))
            .collect();
        let unknown_asked = languages.iter().any(|l| l == "_unknown");
        if languages.is_empty() {
            out = (0..STEMMED_LANGUAGES.len()).collect();
        } else if unknown_asked {
            out.extend(self.default_stem);
        }
        out.sort_unstable();
        out.dedup();
        // Every document stemmed in a language has a name in its stemmed name field.
        out.retain(|i| {
            self.fields.name_stem.get(*i).is_some_and(|field| {
                searcher.segment_readers().iter().any(|segment| {
                    segment
                        .inverted_index(*field)
                        .is_ok_and(|ii| ii.terms().num_terms() > 0)
                })
            })
        });
        out
    }

    /// Adds the text's clauses (one `Must` per word or phrase); says whether there was any.
    fn text_clauses(
        &self,
        text: &str,
        langs: &[usize],
        clauses: &mut Vec<(Occur, Box<dyn Query>)>,
    ) -> bool {
        let limits = &self.config.limits;
        let f = &self.fields;
        let mut folder = analysis::folded_analyzer();
        let mut stemmers: Vec<(usize, TextAnalyzer)> = langs
            .iter()
            .filter_map(|i| {
                STEMMED_LANGUAGES
                    .get(*i)
                    .map(|code| (*i, analysis::stemmed_analyzer(code)))
            })
            .collect();
        let mut used = 0usize;
        let mut any = false;
        for part in text::split(text, limits.max_query_chars) {
            let (words, phrase) = match &part {
                Part::Words(w) => (analysis::terms(&mut folder, w), false),
                Part::Phrase(p) => (analysis::terms(&mut folder, p), true),
            };
            if phrase && words.len() > 1 {
                if used >= limits.max_terms {
                    break;
                }
                used += 1;
                any = true;
                let mut alternatives: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                for (field, boost) in [(f.name, 3.0), (f.tags, 2.0), (f.description, 1.0)] {
                    let terms: Vec<Term> = words
                        .iter()
                        .take(limits.max_terms)
                        .map(|w| Term::from_field_text(field, w))
                        .collect();
                    alternatives.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(Box::new(PhraseQuery::new(terms)), boost)),
                    ));
                }
                clauses.push((Occur::Must, Box::new(BooleanQuery::new(alternatives))));
                continue;
            }
            for word in words {
                if used >= limits.max_terms {
                    break;
                }
                used += 1;
                any = true;
                clauses.push((Occur::Must, self.word_query(&word, &mut stemmers)));
            }
        }
        any
    }

    /// One word, in any field, as written (folded) or stemmed by any of the languages.
    fn word_query(&self, word: &str, stemmers: &mut [(usize, TextAnalyzer)]) -> Box<dyn Query> {
        let f = &self.fields;
        let mut alternatives: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut push = |field: Field, text: &str, boost: f32| {
            alternatives.push((
                Occur::Should,
                Box::new(BoostQuery::new(
                    Box::new(TermQuery::new(
                        Term::from_field_text(field, text),
                        IndexRecordOption::WithFreqs,
                    )),
                    boost,
                )),
            ));
        };
        push(f.name, word, 3.0);
        push(f.tags, word, 2.0);
        push(f.description, word, 1.0);
        push(f.owner, word, 0.5);
        for (i, analyzer) in stemmers.iter_mut() {
            let Some(stem) = analysis::terms(analyzer, word).into_iter().next() else {
                continue;
            };
            if let (Some(n), Some(t), Some(d)) = (
                f.name_stem.get(*i),
                f.tags_stem.get(*i),
                f.description_stem.get(*i),
            ) {
                push(*n, &stem, 2.0);
                push(*t, &stem, 1.5);
                push(*d, &stem, 0.7);
            }
        }
        Box::new(BooleanQuery::new(alternatives))
    }

    fn id_filter(&self, ids: &[String], clauses: &mut Vec<(Occur, Box<dyn Query>)>) {
        if !ids.is_empty() {
            let cap = self.config.limits.max_filter_values;
            clauses.push(filter(Occur::Must, text_set(self.fields.id, ids, cap)));
        }
    }

    fn host_filters(
        &self,
        hosts: &[String],
        exclude: &[String],
        clauses: &mut Vec<(Occur, Box<dyn Query>)>,
    ) {
        let cap = self.config.limits.max_filter_values;
        let lower = |h: &String| h.to_ascii_lowercase();
        if !hosts.is_empty() {
            let hosts: Vec<String> = capped(hosts, cap).map(lower).collect();
            clauses.push(filter(Occur::Must, text_set(self.fields.host, &hosts, cap)));
        }
        if !exclude.is_empty() {
            let hosts: Vec<String> = capped(exclude, cap).map(lower).collect();
            clauses.push(filter(
                Occur::MustNot,
                text_set(self.fields.host, &hosts, cap),
            ));
        }
    }

    fn run<D: DeserializeOwned>(
        &self,
        searcher: &Searcher,
        mut clauses: Vec<(Occur, Box<dyn Query>)>,
        has_text: bool,
        sort: Sort,
        page: Page,
        default_key: SortKey,
    ) -> Result<SearchResults<D>, IndexError> {
        let limits = &self.config.limits;
        if !clauses.iter().any(|(occur, _)| *occur == Occur::Must) {
            // Exclusions alone match nothing: they need something to exclude from.
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        let query = BooleanQuery::new(clauses);
        let sort = if sort.key == SortKey::Relevance && !has_text {
            Sort::new(default_key, true)
        } else {
            sort
        };
        let count = page
            .count
            .min(limits.max_count)
            .min(limits.max_window.saturating_sub(page.start));
        if count == 0 {
            let total = searcher.search(&query, &Count)?;
            return Ok(SearchResults {
                total: total as u64,
                hits: Vec::new(),
            });
        }
        let top = TopDocs::with_limit(count).and_offset(page.start);
        let order = if sort.descending {
            Order::Desc
        } else {
            Order::Asc
        };
        let (total, addresses): (usize, Vec<(Option<f32>, DocAddress)>) = match sort.key {
            SortKey::Relevance => {
                let (n, docs) = searcher.search(&query, &(Count, top.order_by_score()))?;
                (n, docs.into_iter().map(|(s, a)| (Some(s), a)).collect())
            }
            SortKey::Views | SortKey::Likes | SortKey::Duration => {
                let field = match sort.key {
                    SortKey::Views => VIEWS,
                    SortKey::Likes => LIKES,
                    _ => DURATION,
                };
                let (n, docs) = searcher.search(
                    &query,
                    &(Count, top.order_by_fast_field::<u64>(field, order)),
                )?;
                (n, docs.into_iter().map(|(_, a)| (None, a)).collect())
            }
            SortKey::PublishedAt | SortKey::OriginallyPublishedAt | SortKey::CreatedAt => {
                let field = match sort.key {
                    SortKey::PublishedAt => PUBLISHED,
                    SortKey::OriginallyPublishedAt => ORIGINALLY_PUBLISHED,
                    _ => CREATED,
                };
                let (n, docs) = searcher.search(
                    &query,
                    &(Count, top.order_by_fast_field::<i64>(field, order)),
                )?;
                (n, docs.into_iter().map(|(_, a)| (None, a)).collect())
            }
            SortKey::Name => {
                let (n, docs) = searcher.search(
                    &query,
                    &(Count, top.order_by_string_fast_field(NAME_SORT, order)),
                )?;
                (n, docs.into_iter().map(|(_, a)| (None, a)).collect())
            }
        };
        let hits = addresses
            .into_iter()
            .map(|(score, address)| {
                self.load(searcher, address)
                    .map(|document| Hit { score, document })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SearchResults {
            total: total as u64,
            hits,
        })
    }

    fn load<D: DeserializeOwned>(
        &self,
        searcher: &Searcher,
        address: DocAddress,
    ) -> Result<D, IndexError> {
        let doc: TantivyDocument = searcher.doc(address)?;
        let json = doc
            .get_first(self.fields.stored)
            .and_then(|v| v.as_str())
            .ok_or(IndexError::StoredDocument {
                address,
                source: None,
            })?;
        serde_json::from_str(json).map_err(|source| IndexError::StoredDocument {
            address,
            source: Some(source),
        })
    }
}

impl<D> SearchResults<D> {
    /// Results.
    pub fn new(total: u64, hits: Vec<Hit<D>>) -> Self {
        Self { total, hits }
    }
}

// -- schema ---------------------------------------------------------------------------------

const VIEWS: &str = "views";
const LIKES: &str = "likes";
const DURATION: &str = "duration";
const PUBLISHED: &str = "published";
const ORIGINALLY_PUBLISHED: &str = "originally_published";
const CREATED: &str = "created";
const NAME_SORT: &str = "name_sort";

struct Fields {
    kind: Field,
    id: Field,
    stored: Field,
    host: Field,
    name: Field,
    tags: Field,
    description: Field,
    owner: Field,
    name_stem: Vec<Field>,
    tags_stem: Vec<Field>,
    description_stem: Vec<Field>,
    language: Field,
    nsfw: Field,
    is_live: Field,
    duration: Field,
    published: Field,
    originally_published: Field,
    created: Field,
    name_sort: Field,
    channel_key: Field,
    account_key: Field,
    tag_key: Field,
    category: Field,
    licence: Field,
    uuid_key: Field,
    views: Field,
    likes: Field,
}

fn build_schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let folded = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(FOLDED)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let stemmed = |code: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(&analysis::stemmed_name(code))
                .set_index_option(IndexRecordOption::WithFreqs),
        )
    };
    let fields = Fields {
        kind: b.add_u64_field("kind", INDEXED),
        id: b.add_text_field("id", STRING),
        stored: b.add_text_field("stored", STORED),
        host: b.add_text_field("host", STRING),
        name: b.add_text_field("name", folded.clone()),
        tags: b.add_text_field("tags", folded.clone()),
        description: b.add_text_field("description", folded.clone()),
        owner: b.add_text_field("owner", folded),
        name_stem: STEMMED_LANGUAGES
            .iter()
            .map(|c| b.add_text_field(&format!("name_{c}"), stemmed(c)))
            .collect(),
        tags_stem: STEMMED_LANGUAGES
            .iter()
            .map(|c| b.add_text_field(&format!("tags_{c}"), stemmed(c)))
            .collect(),
        description_stem: STEMMED_LANGUAGES
            .iter()
            .map(|c| b.add_text_field(&format!("description_{c}"), stemmed(c)))
            .collect(),
        language: b.add_text_field("language", STRING),
        nsfw: b.add_bool_field("nsfw", INDEXED),
        is_live: b.add_bool_field("is_live", INDEXED),
        duration: b.add_u64_field(DURATION, INDEXED | FAST),
        published: b.add_i64_field(PUBLISHED, INDEXED | FAST),
        originally_published: b.add_i64_field(ORIGINALLY_PUBLISHED, INDEXED | FAST),
        created: b.add_i64_field(CREATED, INDEXED | FAST),
        name_sort: b.add_text_field(NAME_SORT, STRING | FAST),
        channel_key: b.add_text_field("channel_key", STRING),
        account_key: b.add_text_field("account_key", STRING),
        tag_key: b.add_text_field("tag_key", STRING),
        category: b.add_u64_field("category", INDEXED),
        licence: b.add_u64_field("licence", INDEXED),
        uuid_key: b.add_text_field("uuid_key", STRING),
        views: b.add_u64_field(VIEWS, FAST),
        likes: b.add_u64_field(LIKES, FAST),
    };
    (b.build(), fields)
}

// -- helpers --------------------------------------------------------------------------------

fn term_query(term: Term) -> TermQuery {
    TermQuery::new(term, IndexRecordOption::Basic)
}

/// A clause that selects without scoring.
fn filter(occur: Occur, query: impl Query) -> (Occur, Box<dyn Query>) {
    (occur, Box::new(ConstScoreQuery::new(Box::new(query), 0.0)))
}

fn text_set(field: Field, values: &[String], cap: usize) -> TermSetQuery {
    TermSetQuery::new(capped(values, cap).map(|v| Term::from_field_text(field, v)))
}

/// Channel or account keys: ActivityPub ids as given, handles as `ActorSummary::handle`
/// writes them (`@name@Host` and `name@host` are one).
fn actor_set(field: Field, values: &[String], cap: usize) -> TermSetQuery {
    TermSetQuery::new(capped(values, cap).map(|v| {
        let key = if v.contains("://") {
            v.clone()
        } else {
            let v = v.strip_prefix('@').unwrap_or(v);
            match v.rsplit_once('@') {
                Some((name, host)) => format!("{name}@{}", host.to_ascii_lowercase()),
                None => v.to_owned(),
            }
        };
        Term::from_field_text(field, &key)
    }))
}

fn capped<T>(values: &[T], cap: usize) -> impl Iterator<Item = &T> {
    values.iter().take(cap)
}

fn u64_range(field: Field, min: Option<u64>, max: Option<u64>) -> Option<RangeQuery> {
    let lower = min.map(|v| Bound::Included(Term::from_field_u64(field, v)));
    let upper = max.map(|v| Bound::Included(Term::from_field_u64(field, v)));
    range(lower, upper)
}

fn date_range(
    field: Field,
    after: Option<OffsetDateTime>,
    before: Option<OffsetDateTime>,
) -> Option<RangeQuery> {
    let lower = after.map(|v| Bound::Included(Term::from_field_i64(field, millis(v))));
    let upper = before.map(|v| Bound::Included(Term::from_field_i64(field, millis(v))));
    range(lower, upper)
}

/// A range with at least one bound (tantivy refuses one with none).
fn range(lower: Option<Bound<Term>>, upper: Option<Bound<Term>>) -> Option<RangeQuery> {
    match (lower, upper) {
        (None, None) => None,
        (l, u) => Some(RangeQuery::new(
            l.unwrap_or(Bound::Unbounded),
            u.unwrap_or(Bound::Unbounded),
        )),
    }
}

fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Language codes compared lower-cased (`pt-BR` and `pt-br` are one).
fn normalize_language(code: &str) -> String {
    code.to_ascii_lowercase()
}
