//! [`ResponseFuture`]: carries the call's guard until the inner service answers.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;

use super::{Classify, Reject};
use crate::{CallGuard, CircuitError, Outcome, Sleep};

pin_project! {
    /// The future of [`CircuitBreaker`](super::CircuitBreaker). It owns the call's guard, so
    /// dropping it before the response (a timeout, a client gone) gives the half-open slot
    /// back, as the [guard rules](crate::CallGuard) say. A panic in the inner future is recorded
    /// as a failure before it unwinds on, wherever it is caught. With the layer's
    /// [`timeout`](super::CircuitBreakerLayer::timeout), a response not ready in time drops
    /// the inner future, records a failure and answers [`CircuitError::Timeout`].
    pub struct ResponseFuture<F, C, R> {
        #[pin]
        kind: Kind<F, C, R>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, C, R> {
        Called {
            #[pin]
            future: F,
            // `None` once recorded.
            guard: Option<CallGuard<'static>>,
            classify: C,
            // Only its `inner_error` is used; `fn() -> R` keeps `R` out of `Send` and `Sync`.
            reject: PhantomData<fn() -> R>,
            // The layer's timeout, if it has one; `None` once it fired.
            timer: Option<Timer<R>>,
        },
        Rejected {
            error: CircuitError,
            reject: R,
        },
    }
}

/// A timed call's deadline, and the policy (negotiated with the request) that answers it.
pub(crate) struct Timer<R> {
    sleep: Sleep,
    after: Duration,
    reject: R,
}

impl<R> Timer<R> {
    /// A timer of `after` on `guard`'s breaker's clock, from now.
    pub(crate) fn new(guard: &CallGuard<'_>, after: Duration, reject: R) -> Self {
        Self {
            sleep: guard.breaker().sleep(after),
            after,
            reject,
        }
    }
}

impl<F, C, R> ResponseFuture<F, C, R> {
    pub(crate) fn called(
        future: F,
        guard: CallGuard<'static>,
        classify: C,
        timer: Option<Timer<R>>,
    ) -> Self {
        let kind = Kind::Called {
            future,
            guard: Some(guard),
            classify,
            reject: PhantomData,
            timer,
        };
        Self { kind }
    }

    pub(crate) fn rejected(error: CircuitError, reject: R) -> Self {
        let kind = Kind::Rejected { error, reject };
        Self { kind }
    }
}

impl<F, C, R, T, E> Future for ResponseFuture<F, C, R>
where
    F: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
    R: Reject<T, E>,
{
    type Output = Result<T, R::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut kind = self.project().kind;
        let (guard, timer) = match kind.as_mut().project() {
            KindProj::Called {
                future,
                guard,
                classify,
                timer,
                ..
            } => {
                // A panic is caught here, recorded and resumed. A catcher above this future
                // (tower-http's `CatchPanicLayer`, `FutureExt::catch_unwind`) keeps it alive
                // past the unwind, so the guard would be dropped after it, when it can no
                // longer tell a panic from a cancellation and counts neither.
                match panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                    Ok(Poll::Ready(result)) => {
                        if let Some(guard) = guard.take() {
                            guard.record(classify.classify(&result));
                        }
                        return Poll::Ready(result.map_err(R::inner_error));
                    }
                    Ok(Poll::Pending) => {
                        let fired = timer
                            .as_mut()
                            .is_some_and(|t| t.sleep.as_mut().poll(cx).is_ready());
                        if !fired {
                            return Poll::Pending;
                        }
                        (guard.take(), timer.take())
                    }
                    Err(payload) => {
                        if let Some(guard) = guard.take() {
                            // Also gives a half-open slot back, as a failed probe.
                            guard.record(Outcome::Failure);
                        }
                        panic::resume_unwind(payload)
                    }
                }
            }
            // Cloned rather than taken, so a stray extra poll repeats the answer.
            KindProj::Rejected { error, reject } => {
                return Poll::Ready(reject.reject(error.clone()))
            }
        };
        // Timed out. The inner future is dropped first (whatever it holds is released), then
        // the failure recorded (a probe's slot comes back); later polls repeat the answer.
        let (Some(guard), Some(timer)) = (guard, timer) else {
            return Poll::Pending;
        };
        let error = CircuitError::Timeout {
            component: guard.breaker().name().clone(),
            after: timer.after,
        };
        let answer = timer.reject.reject(error.clone());
        kind.set(Kind::Rejected {
            error,
            reject: timer.reject,
        });
        guard.record(Outcome::Failure);
        Poll::Ready(answer)
    }
}

impl<F, C, R> fmt::Debug for ResponseFuture<F, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("ResponseFuture");
        match &self.kind {
            Kind::Called { guard, .. } => out.field("guard", guard),
            Kind::Rejected { error, .. } => out.field("rejected", error),
        };
        out.finish_non_exhaustive()
    }
}
