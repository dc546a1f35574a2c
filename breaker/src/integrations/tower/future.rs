//! [`ResponseFuture`]: carries the call's guard until the inner service answers.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::{Classify, Reject};
use crate::{CallGuard, CircuitError, Outcome};

pin_project! {
    /// The future of [`CircuitBreaker`](super::CircuitBreaker). It owns the call's guard, so
    /// dropping it before the response (a timeout, a client gone) gives the half-open slot
    /// back, as the [guard rules](crate::CallGuard) say. A panic in the inner future is recorded
    /// as a failure before it unwinds on, wherever it is caught.
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
        },
        Rejected {
            error: CircuitError,
            reject: R,
        },
    }
}

impl<F, C, R> ResponseFuture<F, C, R> {
    pub(crate) fn called(future: F, guard: CallGuard<'static>, classify: C) -> Self {
        let kind = Kind::Called {
            future,
            guard: Some(guard),
            classify,
            reject: PhantomData,
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
        match self.project().kind.project() {
            KindProj::Called {
                future,
                guard,
                classify,
                ..
            } => {
                // A panic is caught here, recorded and resumed. A catcher above this future
                // (tower-http's `CatchPanicLayer`, `FutureExt::catch_unwind`) keeps it alive
                // past the unwind, so the guard would be dropped after it, when it can no
                // longer tell a panic from a cancellation and counts neither.
                let result = match panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                    Ok(Poll::Ready(result)) => result,
                    Ok(Poll::Pending) => return Poll::Pending,
                    Err(payload) => {
                        if let Some(guard) = guard.take() {
                            // Also gives a half-open slot back, as a failed probe.
                            guard.record(Outcome::Failure);
                        }
                        panic::resume_unwind(payload)
                    }
                };
                if let Some(guard) = guard.take() {
                    guard.record(classify.classify(&result));
                }
                Poll::Ready(result.map_err(R::inner_error))
            }
            // Cloned rather than taken, so a stray extra poll repeats the answer.
            KindProj::Rejected { error, reject } => Poll::Ready(reject.reject(error.clone())),
        }
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
