//! Verifying a tenant's chain: recompute every hash in a range and check
//! every link (on a database also the chain head), and check the events
//! against every signed checkpoint that verifies — each event's hash must be
//! the one signed for it, and the trail must reach every checkpoint's head.
//! That catches what the chain alone cannot: the newest events deleted (and
//! the head moved back), or an event edited and every later hash recomputed.
//! The report names the first event that disagrees.
//!
//! Events come from the store (the VerifyChain RPC, `audit-verify
//! --database-url`) or from an export file (`audit-verify --export`);
//! checkpoints from checkpoint stores and from the export's own lines.
//! Memory stays bounded: events are read in chunks, and the signed hashes of
//! at most [`HASHES_IN_MEMORY`] events are held; beyond that a checkpoint's
//! statement is read again when the walk reaches it.

use std::{
    collections::HashSet,
    fs::File,
    io::{BufRead, BufReader, Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    sync::Arc,
};

use archive_common::FieldViolation;
use ed25519_dalek::VerifyingKey;
use futures::StreamExt;

use crate::{
    Error,
    chain::{GENESIS, Walker},
    checkpoint::{CheckpointStore, EventHash, Signed, Statement},
    event::Event,
    export::{EventIn, Header, HeaderLine},
    store::Store,
};

/// Events read per query; memory stays bounded whatever the trail's length.
const CHUNK: u32 = 10_000;
/// Checkpoints read at once.
const READ_AHEAD: usize = 16;

/// Signed event hashes (32 bytes each) kept from the first reading of the
/// checkpoints by default: 32 MiB.
pub const HASHES_IN_MEMORY: usize = 1 << 20;

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub intact: bool,
    pub events_checked: u64,
    /// 0 when intact.
    pub first_bad_sequence: u64,
    pub problem: String,
    /// Signed checkpoints the events were compared with.
    pub checkpoints_checked: u64,
    /// The newest checkpoint that verified (0: none); events after it are
    /// checked by the hash chain alone.
    pub newest_checkpoint: u64,
    /// The last event checked (0: none).
    pub last_sequence: u64,
}

impl Report {
    fn intact(events_checked: u64) -> Self {
        Self {
            intact: true,
            events_checked,
            first_bad_sequence: 0,
            problem: String::new(),
            checkpoints_checked: 0,
            newest_checkpoint: 0,
            last_sequence: 0,
        }
    }

    fn broken(events_checked: u64, sequence: u64, problem: String) -> Self {
        Self {
            intact: false,
            first_bad_sequence: sequence,
            problem,
            ..Self::intact(events_checked)
        }
    }
}

/// The checkpoints to check against: where they are, and the public keys
/// they must verify with (a checkpoint that verifies with none is reported).
#[derive(Debug, Clone)]
pub struct Trust {
    pub stores: Vec<CheckpointStore>,
    pub keys: Vec<VerifyingKey>,
    /// Signed event hashes kept from the first reading of the checkpoints
    /// ([`HASHES_IN_MEMORY`]); beyond, a checkpoint is read again when the
    /// walk reaches it.
    pub hashes_in_memory: usize,
}

impl Default for Trust {
    fn default() -> Self {
        Self::new(Vec::new(), Vec::new())
    }
}

impl Trust {
    pub fn new(stores: Vec<CheckpointStore>, keys: Vec<VerifyingKey>) -> Self {
        Self {
            stores,
            keys,
            hashes_in_memory: HASHES_IN_MEMORY,
        }
    }
}

/// Verifies `tenant`'s events `from..=to` (0: the first / the last event)
/// by the hash chain alone. A range that does not start at 1 is anchored on
/// the stored hash of the event before it; a range that reaches the end is
/// also checked against the chain head.
pub async fn verify(store: &dyn Store, tenant: &str, from: u64, to: u64) -> Result<Report, Error> {
    verify_with(store, tenant, from, to, &Trust::default()).await
}

/// [`verify`], and the events against the checkpoints of `trust`; with
/// `to` 0 the trail must reach the newest of them.
pub async fn verify_with(
    store: &dyn Store,
    tenant: &str,
    from: u64,
    to: u64,
    trust: &Trust,
) -> Result<Report, Error> {
    let first = from.max(1);
    // Checkpoints before the head: each then signs at most that head.
    let mut set = Checkpoints::load(trust, tenant, first, None).await?;
    let head = store.head(tenant).await?;
    let last = head.as_ref().map_or(0, |h| h.last_sequence);
    let newest = set.newest();
    if to > last && to > newest {
        return Err(FieldViolation::new(
            "to_sequence",
            format!("is beyond the last event ({last})"),
        )
        .into());
    }
    let walk_to = if to == 0 { last.max(newest) } else { to };
    if from > walk_to && from > 0 {
        return Err(FieldViolation::new(
            "from_sequence",
            format!("is after the end of the range ({walk_to})"),
        )
        .into());
    }
    if head.is_none() && !store.range(tenant, 1, u64::MAX, 1).await?.is_empty() {
        return Ok(set.finish(
            first,
            Report::broken(0, 1, "events exist but the chain head is missing".into()),
        ));
    }
    if walk_to == 0 {
        return Ok(set.finish(first, Report::intact(0)));
    }

    let anchor = if first == 1 {
        GENESIS.to_owned()
    } else {
        match store.range(tenant, first - 1, first - 1, 1).await?.pop() {
            Some(before) => before.hash,
            None => {
                let missing = first - 1;
                return Ok(set.finish(
                    first,
                    Report::broken(0, missing, format!("event {missing} is missing")),
                ));
            }
        }
    };
    let mut events = StoreEvents { store, tenant };
    let walked = walk(&mut events, &mut set, first, anchor, walk_to, walk_to).await?;
    let report = match walked {
        Walked::Broken(report) => report,
        Walked::Through { checked, last_hash } => {
            let mut report = Report::intact(checked);
            if let Some(head) = head.as_ref().filter(|_| walk_to == last) {
                if last_hash != head.last_hash {
                    report = Report::broken(
                        checked,
                        last,
                        format!("event {last}'s hash differs from the chain head's"),
                    );
                } else if !store.range(tenant, last + 1, u64::MAX, 1).await?.is_empty() {
                    report = Report::broken(
                        checked,
                        last + 1,
                        "events exist past the chain head".into(),
                    );
                }
            }
            report
        }
    };
    Ok(set.finish(first, report))
}

/// Verifies an export file (see `export`): its events by the hash chain,
/// against its own checkpoints and those of `trust.stores`, all with
/// `trust.keys`. Answers the tenant and the report. `tenant`, when given,
/// must be the export's.
pub async fn verify_export(
    path: &Path,
    tenant: Option<&str>,
    trust: &Trust,
) -> Result<(String, Report), Error> {
    let scan = scan_export(path)?;
    let exported = scan
        .header
        .as_ref()
        .map(|h| h.tenant.clone())
        .or_else(|| scan.first_event.as_ref().map(|e| e.body.tenant.clone()))
        .ok_or_else(|| Error::Export(format!("{}: no header and no events", path.display())))?;
    if let Some(tenant) = tenant.filter(|t| *t != exported) {
        return Err(Error::Export(format!(
            "{} is the export of tenant {exported:?}, not {tenant:?}",
            path.display()
        )));
    }
    let first = match (&scan.header, &scan.first_event) {
        (Some(h), _) => h.from_sequence.max(1),
        (None, Some(e)) => e.sequence,
        (None, None) => 1,
    };
    // The link into the range is what the first event says; the checkpoint
    // covering it (its hash covers previous_hash) vouches for it.
    let anchor = match &scan.first_event {
        _ if first == 1 => GENESIS.to_owned(),
        Some(e) => e.previous_hash.clone(),
        None => GENESIS.to_owned(),
    };
    let file = (path.to_owned(), scan.checkpoint_lines);
    let mut set = Checkpoints::load(trust, &exported, first, Some(file)).await?;
    // A range export is walked to its end; a whole-trail export to its last
    // line, and to the newest checkpoint it carries.
    let to = scan.header.as_ref().map_or(0, |h| h.to_sequence);
    let (walk_to, required_to) = if to == 0 { (u64::MAX, 0) } else { (to, to) };
    let mut events = FileEvents::open(path)?;
    let walked = walk(&mut events, &mut set, first, anchor, walk_to, required_to).await?;
    let report = match walked {
        Walked::Broken(report) => report,
        Walked::Through { checked, .. } => Report::intact(checked),
    };
    Ok((exported, set.finish(first, report)))
}

enum Walked {
    Through { checked: u64, last_hash: String },
    Broken(Report),
}

/// Walks events `first..` (at most to `walk_to`) through the chain and the
/// checkpoints. The source running out is fine after `required_to` and after
/// the newest checkpoint; before either, the next event is missing.
async fn walk(
    events: &mut impl Events,
    set: &mut Checkpoints,
    first: u64,
    anchor: String,
    walk_to: u64,
    required_to: u64,
) -> Result<Walked, Error> {
    let mut walker = Walker::new(first, anchor);
    fn broken(walker: &Walker, sequence: u64, problem: String) -> Result<Walked, Error> {
        Ok(Walked::Broken(Report::broken(
            walker.checked(),
            sequence,
            problem,
        )))
    }
    while walker.next_sequence() <= walk_to {
        let next = walker.next_sequence();
        let chunk = match events.next(next, walk_to).await? {
            Next::Events(chunk) => chunk,
            Next::Unreadable(problem) => return broken(&walker, next, problem),
        };
        if chunk.is_empty() {
            if let Some(problem) = set.missing(next, required_to) {
                return broken(&walker, next, problem);
            }
            break;
        }
        for event in &chunk {
            if walker.next_sequence() > walk_to {
                break;
            }
            if let Err(bad) = walker.check(event) {
                return broken(&walker, bad.sequence, bad.problem);
            }
            if let Some(problem) = set.check(event.sequence, &event.hash).await? {
                // The walker counted this event as good; it is the bad one.
                return Ok(Walked::Broken(Report::broken(
                    walker.checked() - 1,
                    event.sequence,
                    problem,
                )));
            }
        }
    }
    Ok(Walked::Through {
        checked: walker.checked(),
        last_hash: walker.last_hash().to_owned(),
    })
}

/// The next events of a run, ascending.
trait Events {
    /// Up to a chunk of events from `from` on (none: the source ended).
    async fn next(&mut self, from: u64, to: u64) -> Result<Next, Error>;
}

enum Next {
    Events(Vec<Event>),
    /// A line of an export that is no event; the problem says which.
    Unreadable(String),
}

struct StoreEvents<'a> {
    store: &'a dyn Store,
    tenant: &'a str,
}

impl Events for StoreEvents<'_> {
    async fn next(&mut self, from: u64, to: u64) -> Result<Next, Error> {
        Ok(Next::Events(
            self.store.range(self.tenant, from, to, CHUNK).await?,
        ))
    }
}

/// The event lines of an export, in file order.
struct FileEvents {
    lines: BufReader<File>,
    line_no: u64,
    buf: Vec<u8>,
}

impl FileEvents {
    fn open(path: &Path) -> Result<Self, Error> {
        Ok(Self {
            lines: BufReader::with_capacity(1 << 20, open(path)?),
            line_no: 0,
            buf: Vec::new(),
        })
    }
}

impl Events for FileEvents {
    async fn next(&mut self, _from: u64, _to: u64) -> Result<Next, Error> {
        let mut chunk = Vec::new();
        while chunk.len() < CHUNK as usize {
            self.buf.clear();
            if self.lines.read_until(b'\n', &mut self.buf)? == 0 {
                break;
            }
            self.line_no += 1;
            if !self.buf.starts_with(b"{\"event\"") {
                continue;
            }
            match serde_json::from_slice::<EventIn>(self.buf.trim_ascii_end()) {
                Ok(line) => chunk.push(Event::from(line.event)),
                Err(e) => {
                    return Ok(Next::Unreadable(format!(
                        "line {}: unreadable event ({e})",
                        self.line_no
                    )));
                }
            }
        }
        Ok(Next::Events(chunk))
    }
}

/// What the first reading of an export finds.
struct Scan {
    header: Option<Header>,
    first_event: Option<Event>,
    /// (byte offset, line number) of each checkpoint line.
    checkpoint_lines: Vec<(u64, u64)>,
}

fn scan_export(path: &Path) -> Result<Scan, Error> {
    let mut lines = BufReader::with_capacity(1 << 20, open(path)?);
    let mut scan = Scan {
        header: None,
        first_event: None,
        checkpoint_lines: Vec::new(),
    };
    let (mut offset, mut line_no, mut buf) = (0u64, 0u64, Vec::new());
    loop {
        buf.clear();
        let n = lines.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if buf.starts_with(b"{\"checkpoint\"") {
            scan.checkpoint_lines.push((offset, line_no));
        } else if line_no == 1 && buf.starts_with(b"{\"export\"") {
            let header: HeaderLine = serde_json::from_slice(buf.trim_ascii_end())
                .map_err(|e| Error::Export(format!("line 1: unreadable header ({e})")))?;
            if header.export.format != crate::export::FORMAT {
                return Err(Error::Export(format!(
                    "unknown export format {:?}",
                    header.export.format
                )));
            }
            scan.header = Some(header.export);
        } else if scan.first_event.is_none() && buf.starts_with(b"{\"event\"") {
            // Unreadable, it is reported by the walk.
            scan.first_event = serde_json::from_slice::<EventIn>(buf.trim_ascii_end())
                .ok()
                .map(|l| Event::from(l.event));
        }
        offset += n as u64;
    }
    Ok(scan)
}

fn open(path: &Path) -> Result<File, Error> {
    File::open(path).map_err(|e| Error::Export(format!("{}: {e}", path.display())))
}

/// Where a checkpoint was read, to read it again.
#[derive(Debug, Clone)]
enum Locator {
    /// A store of `Trust::stores` and the checkpoint's sequence.
    Store(usize, u64),
    /// A line of the export: byte offset.
    Line(u64),
}

/// Reads checkpoints where they were found.
struct Reader {
    tenant: String,
    stores: Vec<CheckpointStore>,
    file: Option<PathBuf>,
}

impl Reader {
    async fn read(&self, locator: &Locator) -> Result<Vec<u8>, Error> {
        match locator {
            Locator::Store(i, sequence) => self.stores[*i]
                .get(&self.tenant, *sequence)
                .await?
                .ok_or_else(|| {
                    Error::Unavailable(format!(
                        "checkpoint {sequence} was listed but cannot be read"
                    ))
                }),
            Locator::Line(offset) => {
                let path = self.file.as_ref().expect("lines come with their file");
                let mut file = open(path)?;
                file.seek(SeekFrom::Start(*offset))?;
                let mut line = Vec::new();
                BufReader::new(file.by_ref()).read_until(b'\n', &mut line)?;
                Ok(line)
            }
        }
    }
}

/// A checkpoint that verified.
struct Known {
    from: u64,
    sequence: u64,
    previous: u64,
    locator: Locator,
    /// `None` beyond the memory budget until the walk reaches it.
    hashes: Option<Vec<EventHash>>,
    /// Read again for the walk: dropped once passed.
    reloaded: bool,
    checked: bool,
}

/// One tenant's checkpoints for one verification.
struct Checkpoints {
    tenant: String,
    keys: Vec<VerifyingKey>,
    reader: Arc<Reader>,
    /// Sorted by `from`, then `sequence`.
    known: Vec<Known>,
    /// Checkpoints that did not verify: (sequence, problem).
    problems: Vec<(u64, String)>,
    /// The next of `known` the walk has not reached, and those covering it.
    next: usize,
    active: Vec<usize>,
}

impl Checkpoints {
    /// Reads and verifies every checkpoint of `trust.stores` (and of the
    /// export's lines) that can cover events from `first` on.
    async fn load(
        trust: &Trust,
        tenant: &str,
        first: u64,
        file: Option<(PathBuf, Vec<(u64, u64)>)>,
    ) -> Result<Self, Error> {
        let reader = Arc::new(Reader {
            tenant: tenant.to_owned(),
            stores: trust.stores.clone(),
            file: file.as_ref().map(|(path, _)| path.clone()),
        });
        let mut set = Self {
            tenant: tenant.to_owned(),
            keys: trust.keys.clone(),
            reader: reader.clone(),
            known: Vec::new(),
            problems: Vec::new(),
            next: 0,
            active: Vec::new(),
        };
        let mut seen = HashSet::new();
        let mut budget = trust.hashes_in_memory;
        let mut found = Vec::new();
        for (i, store) in trust.stores.iter().enumerate() {
            for sequence in store.list(tenant, None).await? {
                // One ending before `first` covers none of the range.
                if sequence >= first {
                    found.push((
                        Locator::Store(i, sequence),
                        format!("checkpoint {sequence}"),
                        Some(sequence),
                    ));
                }
            }
        }
        if let Some((_, lines)) = &file {
            for (offset, line_no) in lines {
                found.push((
                    Locator::Line(*offset),
                    format!("checkpoint on line {line_no}"),
                    None,
                ));
            }
        }
        // Read ahead: on S3 each checkpoint is a request of its own.
        let mut reads = futures::stream::iter(found.into_iter().map(|(locator, label, named)| {
            let reader = reader.clone();
            async move {
                let bytes = reader.read(&locator).await;
                (locator, label, named, bytes)
            }
        }))
        .buffered(READ_AHEAD);
        while let Some((locator, label, named, bytes)) = reads.next().await {
            let bytes = bytes?;
            let signed = match Signed::parse(&bytes) {
                Ok(signed) => signed,
                Err(why) => {
                    let at = named.unwrap_or(first);
                    set.problems.push((at, format!("{label}: {why}")));
                    continue;
                }
            };
            // Identical checkpoints (in a store and in the export) count once.
            if !seen.insert(signed.signature) {
                continue;
            }
            match set.open(&signed, named) {
                Ok(mut statement) => {
                    if statement.sequence < first {
                        continue;
                    }
                    let n = statement.event_hashes.len();
                    let hashes = if n <= budget {
                        budget -= n;
                        Some(std::mem::take(&mut statement.event_hashes))
                    } else {
                        None
                    };
                    set.known.push(Known {
                        from: statement.from_sequence,
                        sequence: statement.sequence,
                        previous: statement.previous_checkpoint_sequence,
                        locator,
                        hashes,
                        reloaded: false,
                        checked: false,
                    });
                }
                Err(why) => {
                    // Unverified, the statement's own sequence is only a hint.
                    let claimed = serde_json::from_str::<Claimed>(&signed.statement)
                        .map(|c| c.sequence)
                        .ok();
                    let at = named.or(claimed).unwrap_or(first);
                    let label = match (named, claimed) {
                        (None, Some(s)) => format!("{label} (sequence {s})"),
                        _ => label,
                    };
                    set.problems.push((at, format!("{label}: {why}")));
                }
            }
        }
        set.known.sort_by_key(|k| (k.from, k.sequence));
        // Each checkpoint names the one before it; within the range that one
        // must be there too (deleting a checkpoint is tampering as well).
        let sequences: HashSet<u64> = set.known.iter().map(|k| k.sequence).collect();
        let failed: HashSet<u64> = set.problems.iter().map(|p| p.0).collect();
        let mut missing = Vec::new();
        for k in &set.known {
            let p = k.previous;
            if p >= first && !sequences.contains(&p) && !failed.contains(&p) {
                missing.push((
                    p,
                    format!(
                        "checkpoint {p} is missing (checkpoint {} follows it)",
                        k.sequence
                    ),
                ));
            }
        }
        set.problems.extend(missing);
        Ok(set)
    }

    /// Opens a checkpoint with the trusted keys; it must be this tenant's and,
    /// when stored under a sequence, that sequence's.
    fn open(&self, signed: &Signed, named: Option<u64>) -> Result<Statement, String> {
        let statement = signed.open(&self.keys)?;
        if statement.tenant != self.tenant {
            return Err(format!("signed for tenant {:?}", statement.tenant));
        }
        if let Some(named) = named.filter(|n| *n != statement.sequence) {
            return Err(format!(
                "stored as {named} but signs sequence {}",
                statement.sequence
            ));
        }
        Ok(statement)
    }

    /// The newest checkpoint that verified (0: none).
    fn newest(&self) -> u64 {
        self.known.iter().map(|k| k.sequence).max().unwrap_or(0)
    }

    /// Compares event `sequence`'s stored `hash` with every checkpoint
    /// covering it; answers the problem if one signed another hash.
    async fn check(&mut self, sequence: u64, hash: &str) -> Result<Option<String>, Error> {
        while let Some(k) = self.known.get(self.next).filter(|k| k.from <= sequence) {
            let i = self.next;
            self.next += 1;
            if k.sequence < sequence {
                continue;
            }
            if self.known[i].hashes.is_none() {
                match self.reload(i).await? {
                    Ok(hashes) => {
                        self.known[i].hashes = Some(hashes);
                        self.known[i].reloaded = true;
                    }
                    Err(problem) => return Ok(Some(problem)),
                }
            }
            self.known[i].checked = true;
            self.active.push(i);
        }
        let known = &mut self.known;
        self.active.retain(|&i| {
            let keep = known[i].sequence >= sequence;
            if !keep && known[i].reloaded {
                known[i].hashes = None;
            }
            keep
        });
        let actual = EventHash::from_hex(hash);
        for &i in &self.active {
            let k = &self.known[i];
            let signed = k
                .hashes
                .as_ref()
                .and_then(|h| h.get((sequence - k.from) as usize))
                .copied();
            if signed != actual {
                return Ok(Some(format!(
                    "event {sequence}'s hash differs from the one checkpoint {} signed",
                    k.sequence
                )));
            }
        }
        Ok(None)
    }

    /// A checkpoint's hashes, read and verified again.
    async fn reload(&self, i: usize) -> Result<Result<Vec<EventHash>, String>, Error> {
        let k = &self.known[i];
        let bytes = self.reader.read(&k.locator).await?;
        let named = match k.locator {
            Locator::Store(_, sequence) => Some(sequence),
            Locator::Line(_) => Some(k.sequence),
        };
        Ok(Signed::parse(&bytes)
            .and_then(|signed| self.open(&signed, named))
            .map(|s| s.event_hashes)
            .map_err(|why| {
                format!(
                    "checkpoint {} changed while it was verified: {why}",
                    k.sequence
                )
            }))
    }

    /// The problem when the events end before `next`: a checkpoint signed
    /// it, or the range asked for it (up to `required_to`); else none.
    fn missing(&mut self, next: u64, required_to: u64) -> Option<String> {
        let signer = self
            .known
            .iter_mut()
            .filter(|k| k.sequence >= next)
            .min_by_key(|k| k.sequence);
        if let Some(k) = signer {
            k.checked = true;
            return Some(format!(
                "event {next} is missing: checkpoint {0} signed the trail up to {0}",
                k.sequence
            ));
        }
        (next <= required_to)
            .then(|| format!("event {next} is missing (the trail ends before {required_to})"))
    }

    /// `report` with the checkpoint counts, and broken at the earliest bad
    /// checkpoint if that comes before its own first bad event.
    fn finish(&self, first: u64, mut report: Report) -> Report {
        report.last_sequence = match report.events_checked {
            0 => 0,
            n => first + n - 1,
        };
        report.checkpoints_checked = self.known.iter().filter(|k| k.checked).count() as u64;
        report.newest_checkpoint = self.newest();
        if let Some((sequence, problem)) = self.problems.iter().min_by_key(|p| p.0)
            && (report.intact || *sequence < report.first_bad_sequence)
        {
            report.intact = false;
            report.first_bad_sequence = *sequence;
            report.problem.clone_from(problem);
        }
        report
    }
}

/// A statement's sequence, read without trusting it (for naming a bad one).
#[derive(serde::Deserialize)]
struct Claimed {
    sequence: u64,
}
