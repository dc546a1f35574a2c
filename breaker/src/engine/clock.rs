//! Time, injected. Nothing in the engine calls `Instant::now()` directly: windows, cooldowns,
//! the half-open bound and slow-call detection all read the [`Clock`] they were given, so tests
//! (yours too) can drive time with [`FakeClock`] instead of sleeping.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicU64, Ordering};

/// A timer on a [`Clock`]: completes once the clock reads the deadline it was made for.
/// Boxed so a clock can hand out its runtime's own timer; only timed calls (`timeout`) make
/// one, never the plain acquire / record path.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of monotonic time.
pub trait Clock: Send + Sync {
    /// The current instant. Must never go backwards; if it does, the engine treats the
    /// earlier reading as "no time passed" rather than panicking.
    fn now(&self) -> Instant;

    /// Whether this is the real monotonic clock. The engine then reads time through a cheaper
    /// source that measures the same thing (the CPU's time-stamp counter via `quanta`, which
    /// falls back to the OS clock where the counter is not reliable): about 10 ns instead of
    /// 25 ns per call. Only [`SystemClock`] says yes.
    fn is_system(&self) -> bool {
        false
    }

    /// A timer that completes once [`now`](Self::now) reads `deadline` or later: what a
    /// `timeout` (the attribute's, the tower layer's) waits on, so a test on [`FakeClock`]
    /// cuts a call off by advancing the clock, not by sleeping.
    ///
    /// The default is the real time's timer: with the `tokio` feature, tokio's
    /// [`sleep_until`](https://docs.rs/tokio/latest/tokio/time/fn.sleep_until.html), on the
    /// caller's tokio runtime (which needs its time driver, `enable_time`); outside a tokio
    /// runtime, or without the feature, a timer that never fires (calls are not cut off; a
    /// `tracing` warning says so, once). A custom clock whose time is not the real one, or
    /// another runtime's user, implements this.
    fn sleep_until(&self, deadline: Instant) -> Sleep {
        real_sleep_until(deadline)
    }

    /// The [`CoarseClock`] this clock is, if it is one: the engine then reads its last tick
    /// with one load on the `Closed` call path. Only [`CoarseClock`] says yes; leave the
    /// default.
    fn as_coarse(&self) -> Option<&CoarseClock> {
        None
    }
}

/// The real time's timer: tokio's, or none without the `tokio` feature.
fn real_sleep_until(deadline: Instant) -> Sleep {
    #[cfg(feature = "tokio")]
    if tokio::runtime::Handle::try_current().is_ok() {
        return Box::pin(tokio::time::sleep_until(deadline.into()));
    }
    let _ = deadline;
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "a breaker timeout has no timer (it needs the `tokio` feature and a tokio runtime, \
             or a Clock that implements `sleep_until`): calls are not cut off"
        );
    }
    Box::pin(std::future::pending())
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Instant {
        (**self).now()
    }

    fn is_system(&self) -> bool {
        (**self).is_system()
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        (**self).sleep_until(deadline)
    }

    fn as_coarse(&self) -> Option<&CoarseClock> {
        (**self).as_coarse()
    }
}

/// The production clock: [`Instant::now`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[inline]
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn is_system(&self) -> bool {
        true
    }
}

/// A clock that only moves when told to. Clones share the same time, so a test keeps one
/// clone and hands another to the breaker.
///
/// ```
/// use std::time::Duration;
/// use breaker::{Clock, FakeClock};
///
/// let clock = FakeClock::new();
/// let t0 = clock.now();
/// clock.advance(Duration::from_secs(30));
/// assert_eq!(clock.now() - t0, Duration::from_secs(30));
/// ```
///
/// Its timers ([`Clock::sleep_until`]) complete when [`advance`](Self::advance) moves the time
/// to their deadline or past it, on whatever executor polls them.
#[derive(Clone)]
pub struct FakeClock {
    start: Instant,
    // Nanoseconds advanced so far, shared by every clone.
    elapsed: Arc<AtomicU64>,
    // Pending timers' deadlines (nanoseconds since `start`) and wakers, woken by `advance`.
    sleepers: Arc<parking_lot::Mutex<Vec<(u64, Waker)>>>,
}

impl FakeClock {
    /// A fake clock starting at the real current instant (any start works; only differences
    /// matter to the engine).
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            elapsed: Arc::new(AtomicU64::new(0)),
            sleepers: Arc::default(),
        }
    }

    /// Moves time forward by `by` for every clone. Saturates instead of overflowing.
    pub fn advance(&self, by: Duration) {
        let by = nanos(by);
        let _ = self
            .elapsed
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |e| {
                Some(e.saturating_add(by))
            });
        // Woken after the time moved, so a woken timer reads the new time.
        let now = self.elapsed.load(Ordering::SeqCst);
        let due: Vec<Waker> = {
            let mut sleepers = self.sleepers.lock();
            let (due, pending) = sleepers.drain(..).partition(|(at, _)| *at <= now);
            *sleepers = pending;
            due.into_iter().map(|(_, waker)| waker).collect()
        };
        due.into_iter().for_each(Waker::wake);
    }

    /// How far this clock has been advanced since it was created.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.elapsed.load(Ordering::SeqCst))
    }
}

impl Default for FakeClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for FakeClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeClock")
            .field("elapsed", &self.elapsed())
            .finish()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        self.start.checked_add(self.elapsed()).unwrap_or(self.start)
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Box::pin(FakeSleep {
            clock: self.clone(),
            at: nanos(deadline.saturating_duration_since(self.start)),
        })
    }
}

/// A [`FakeClock`] timer.
struct FakeSleep {
    clock: FakeClock,
    at: u64,
}

impl Future for FakeSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let clock = &self.clock;
        // Checked under the lock `advance` drains under, so a wake cannot fall between the
        // check and the registration.
        let mut sleepers = clock.sleepers.lock();
        if clock.elapsed.load(Ordering::SeqCst) >= self.at {
            return Poll::Ready(());
        }
        match sleepers.iter_mut().find(|(_, w)| w.will_wake(cx.waker())) {
            Some((at, waker)) => {
                *at = (*at).min(self.at);
                waker.clone_from(cx.waker());
            }
            None => sleepers.push((self.at, cx.waker().clone())),
        }
        Poll::Pending
    }
}

/// A clock whose reading is its last *tick*: the `Closed` call path reads it with one atomic
/// load instead of a clock read (opt-in; the default [`SystemClock`] costs about 10 ns more a
/// call). Nothing ticks it behind your back: drive it from your runtime with
/// [`drive`](Self::drive) (feature `tokio`), or call [`tick`](Self::tick) from a loop you own.
///
/// ```
/// # use std::sync::Arc;
/// # use breaker::{CircuitConfig, CoarseClock, ComponentBreaker};
/// let clock = CoarseClock::new();
/// // In a tokio application: tokio::spawn(clock.clone().drive(Duration::from_millis(1)));
/// let breaker = ComponentBreaker::new("db", CircuitConfig::DEFAULT, Arc::new(clock.clone()))?;
/// clock.tick();
/// # Ok::<(), breaker::BuildError>(())
/// ```
///
/// What is coarse, and what is not:
///
/// | reading | time it uses |
/// |---|---|
/// | a `Closed` call's bucket in the time window, a slow call's start and end | the last tick |
/// | cooldowns, `half_open_max_wait`, transitions, snapshots, timeouts, the fuse | the source clock, read then (each such read also ticks) |
///
/// So a breaker on a clock nobody ticks still leaves `Open` on time and never gets stuck;
/// what drifts is where `Closed` outcomes land: in the bucket of the last tick. Tick at least
/// as often as the precision you need: a window bucket (`window / window_buckets`) is the
/// coarsest that makes sense, and `slow_call_threshold` is measured to within one tick
/// period. Every trip check also ticks, and warns once (a `tracing` warning) if the clock had
/// fallen more than a second behind its source, which means nothing is driving it.
#[derive(Clone)]
pub struct CoarseClock {
    inner: Arc<Coarse>,
}

struct Coarse {
    origin: Instant,
    /// Nanoseconds since `origin` at the last tick; only ever raised.
    nanos: AtomicU64,
    source: CoarseSource,
    warned: std::sync::atomic::AtomicBool,
}

enum CoarseSource {
    /// The system clock, through `quanta` (see [`Clock::is_system`]).
    System { clock: quanta::Clock, origin: u64 },
    /// Any other clock (a [`FakeClock`] in tests).
    Other(Arc<dyn Clock>),
}

impl CoarseClock {
    /// A coarse clock over the system clock, ticked once now.
    pub fn new() -> Self {
        Self::over(Arc::new(SystemClock))
    }

    /// A coarse clock over `source` (whose reading each tick takes), ticked once now. Tests
    /// put a [`FakeClock`] under it.
    pub fn over(source: Arc<dyn Clock>) -> Self {
        let origin = source.now();
        let source = if source.is_system() {
            let clock = quanta::Clock::new();
            let origin = clock.raw();
            CoarseSource::System { clock, origin }
        } else {
            CoarseSource::Other(source)
        };
        Self {
            inner: Arc::new(Coarse {
                origin,
                nanos: AtomicU64::new(0),
                source,
                warned: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// Reads the source clock and makes that the reading.
    pub fn tick(&self) {
        self.refresh();
    }

    /// Ticks every `period` (at least 100 µs), for ever: spawn it on the runtime that runs
    /// your calls (`tokio::spawn(clock.clone().drive(period))`) and drop or abort the task to
    /// stop. The ticks are tokio's timer's, so a paused tokio clock drives it in tests.
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn drive(self, period: Duration) {
        let mut ticks = tokio::time::interval(period.max(Duration::from_micros(100)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.tick();
        }
    }

    /// The source's reading, in nanoseconds since the origin, made the tick if it is later.
    fn refresh(&self) -> u64 {
        let now = match &self.inner.source {
            CoarseSource::System { clock, origin } => clock.delta_as_nanos(*origin, clock.raw()),
            CoarseSource::Other(clock) => {
                nanos(clock.now().saturating_duration_since(self.inner.origin))
            }
        };
        // Load first: readers share this line, so write only when time moved.
        let seen = self.inner.nanos.load(Ordering::Relaxed);
        if now > seen {
            self.inner.nanos.fetch_max(now, Ordering::Relaxed).max(now)
        } else {
            seen
        }
    }

    /// The last tick, in nanoseconds since the origin.
    #[inline(always)]
    fn ticked(&self) -> u64 {
        self.inner.nanos.load(Ordering::Relaxed)
    }

    /// Ticks, and warns once if the clock had fallen a second behind: nothing drives it.
    fn refresh_and_check(&self) {
        let before = self.ticked();
        let now = self.refresh();
        if now.saturating_sub(before) > 1_000_000_000
            && !self.inner.warned.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                target: "breaker",
                lag_ms = (now - before) / 1_000_000,
                "a CoarseClock fell more than a second behind its source: nothing ticks it \
                 (spawn CoarseClock::drive or call tick), so Closed outcomes land in stale \
                 window buckets"
            );
        }
    }
}

impl Default for CoarseClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for CoarseClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoarseClock")
            .field("ticked", &Duration::from_nanos(self.ticked()))
            .finish_non_exhaustive()
    }
}

impl Clock for CoarseClock {
    /// The last tick.
    fn now(&self) -> Instant {
        self.inner
            .origin
            .checked_add(Duration::from_nanos(self.ticked()))
            .unwrap_or(self.inner.origin)
    }

    /// The source clock's timer.
    fn sleep_until(&self, deadline: Instant) -> Sleep {
        match &self.inner.source {
            CoarseSource::System { .. } => real_sleep_until(deadline),
            CoarseSource::Other(clock) => clock.sleep_until(deadline),
        }
    }

    fn as_coarse(&self) -> Option<&CoarseClock> {
        Some(self)
    }
}

/// Converts clock readings into nanoseconds since an origin, the unit the atomics store.
#[derive(Clone)]
pub(crate) struct Timeline {
    /// Shared by every breaker of a registry: read-only but for an injected clock's latest
    /// reading, so sharing costs no contention, and each breaker stores one pointer instead of
    /// a calibrated clock and its origin.
    source: Arc<Source>,
}

struct Source {
    origin: Instant,
    reader: Reader,
}

// An explicit tag: with three variants, decoding the niche LLVM found in `quanta::Clock`
// cost five more instructions per call on the call path than comparing one byte.
#[repr(u8)]
enum Reader {
    /// The injected clock (tests, custom clocks), with the latest reading seen: a clock that
    /// jumps backwards then reads as "no time passed" instead of moving the window back.
    Injected(Arc<dyn Clock>, AtomicU64),
    /// The system clock, read through `quanta`: the same monotonic time, cheaper to read.
    System {
        clock: quanta::Clock,
        /// The counter's raw reading at the origin: `delta_as_nanos` from it is one multiply
        /// and shift, where an `Instant` difference also built and unpacked a `Duration`.
        origin: u64,
    },
    /// A [`CoarseClock`]: its tick on the call path, its source everywhere else.
    Coarse(CoarseClock),
}

impl Timeline {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        if let Some(coarse) = clock.as_coarse() {
            return Self {
                source: Arc::new(Source {
                    origin: coarse.inner.origin,
                    reader: Reader::Coarse(coarse.clone()),
                }),
            };
        }
        let origin = clock.now();
        let reader = if clock.is_system() {
            let fast = quanta::Clock::new();
            let origin = fast.raw();
            Reader::System {
                clock: fast,
                origin,
            }
        } else {
            Reader::Injected(clock, AtomicU64::new(0))
        };
        Self {
            source: Arc::new(Source { origin, reader }),
        }
    }

    /// Nanoseconds since the origin. A clock that jumped behind the origin reads as 0; one
    /// more than 584 years ahead saturates.
    #[inline]
    pub(crate) fn now_nanos(&self) -> u64 {
        match &self.source.reader {
            Reader::System { clock, origin } => clock.delta_as_nanos(*origin, clock.raw()),
            Reader::Coarse(coarse) => coarse.refresh(),
            Reader::Injected(clock, latest) => self.injected_nanos(&**clock, latest),
        }
    }

    /// An injected clock's reading: a virtual call, so out of line, which keeps the system
    /// clock's path short where the call path inlines it.
    #[inline(never)]
    fn injected_nanos(&self, clock: &dyn Clock, latest: &AtomicU64) -> u64 {
        let now = nanos(clock.now().saturating_duration_since(self.source.origin));
        // Load first: a clock that only moves forward costs a write only when it moved.
        let seen = latest.load(Ordering::Relaxed);
        if now > seen {
            latest.fetch_max(now, Ordering::Relaxed).max(now)
        } else {
            seen
        }
    }

    /// [`now_nanos`](Self::now_nanos) for the `Closed` call path (a window bucket, a slow
    /// call's timer): a [`CoarseClock`]'s last tick, any other clock's reading.
    #[inline(always)]
    pub(crate) fn call_nanos(&self) -> u64 {
        match &self.source.reader {
            Reader::System { clock, origin } => clock.delta_as_nanos(*origin, clock.raw()),
            Reader::Coarse(coarse) => coarse.ticked(),
            Reader::Injected(clock, latest) => self.injected_nanos(&**clock, latest),
        }
    }

    /// Called by the trip check: a [`CoarseClock`] ticks, so that even one nobody drives
    /// moves on whenever a failure is recorded, and says once if nobody drives it.
    pub(crate) fn tick_coarse(&self) {
        if let Reader::Coarse(coarse) = &self.source.reader {
            coarse.refresh_and_check();
        }
    }

    /// A timer on this timeline's clock that completes `after` from now (the system clock's
    /// is [`SystemClock`]'s timer; a deadline past `Instant`'s range never comes).
    pub(crate) fn sleep(&self, after: Duration) -> Sleep {
        let (clock, now): (&dyn Clock, Instant) = match &self.source.reader {
            Reader::System { .. } => (&SystemClock, Instant::now()),
            Reader::Injected(clock, _) => (&**clock, clock.now()),
            Reader::Coarse(coarse) => (coarse, self.instant_at(coarse.refresh())),
        };
        match now.checked_add(after) {
            Some(deadline) => clock.sleep_until(deadline),
            None => Box::pin(std::future::pending()),
        }
    }

    pub(crate) fn instant_at(&self, nanos_since_origin: u64) -> Instant {
        let origin = self.source.origin;
        origin
            .checked_add(Duration::from_nanos(nanos_since_origin))
            .unwrap_or(origin)
    }
}

impl fmt::Debug for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeline")
            .field("origin", &self.source.origin)
            .finish()
    }
}

/// A duration as saturating u64 nanoseconds.
#[inline]
pub(crate) const fn nanos(d: Duration) -> u64 {
    let n = d.as_nanos();
    if n > u64::MAX as u128 {
        u64::MAX
    } else {
        n as u64
    }
}
