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

enum Reader {
    /// The injected clock (tests, custom clocks), with the latest reading seen: a clock that
    /// jumps backwards then reads as "no time passed" instead of moving the window back.
    Injected(Arc<dyn Clock>, AtomicU64),
    /// The system clock, read through `quanta`: the same monotonic time, cheaper to read.
    System {
        clock: quanta::Clock,
        origin: quanta::Instant,
    },
}

impl Timeline {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        let origin = clock.now();
        let reader = if clock.is_system() {
            let fast = quanta::Clock::new();
            let origin = fast.now();
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
            Reader::System { clock, origin } => {
                nanos(clock.now().saturating_duration_since(*origin))
            }
            Reader::Injected(clock, latest) => {
                let now = nanos(clock.now().saturating_duration_since(self.source.origin));
                // Load first: a clock that only moves forward costs a write only when it moved.
                let seen = latest.load(Ordering::Relaxed);
                if now > seen {
                    latest.fetch_max(now, Ordering::Relaxed).max(now)
                } else {
                    seen
                }
            }
        }
    }

    /// A timer on this timeline's clock that completes `after` from now (the system clock's
    /// is [`SystemClock`]'s timer; a deadline past `Instant`'s range never comes).
    pub(crate) fn sleep(&self, after: Duration) -> Sleep {
        let (clock, now): (&dyn Clock, Instant) = match &self.source.reader {
            Reader::System { .. } => (&SystemClock, Instant::now()),
            Reader::Injected(clock, _) => (&**clock, clock.now()),
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
