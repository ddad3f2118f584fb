//! One policy for the threads ferrio starts inside a host process, and the runtimes built from it.
//!
//! A library must not rely on its host's set-up. Every thread ferrio starts (tokio workers, their
//! blocking pool, consumer threads) therefore runs [`library_thread_start`] first:
//! - SIGPIPE is blocked on it ([`block_sigpipe`]), so a write to a connection the peer has reset fails
//!   with `EPIPE`, which ferrio handles, instead of killing a C host that kept SIGPIPE's default action
//!   (Rust, CPython and Node ignore it at start-up, C programs do not). Only the thread's own mask
//!   changes: the disposition and the host's threads are the host's.
//! - It joins Linux's `SCHED_BATCH` class ([`batch_scheduling`]): events cross between the runtime's
//!   workers and a host's consumer in both directions, and with wake-up preemption each crossing became
//!   a context switch (the woken side ran at once, for one item), while without it each side finishes its
//!   batch first.

use std::sync::Arc;
use std::time::Duration;

/// Blocks SIGPIPE on the calling thread (see the module documentation). A SIGPIPE raised here stays
/// pending on this thread, which never unblocks it.
pub fn block_sigpipe() {
    // SAFETY: `set` is a local signal set initialised by `sigemptyset` before use; `pthread_sigmask`
    // changes only the calling thread's mask and accepts NULL for the old mask.
    unsafe {
        let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, set.as_ptr(), std::ptr::null_mut());
    }
}

/// Puts the calling thread in Linux's `SCHED_BATCH` class: a woken batch thread does not preempt the
/// running one. Best effort: elsewhere, or if refused, nothing changes.
pub fn batch_scheduling() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: sets the calling thread's policy; `param` is a valid sched_param for SCHED_BATCH.
        let _ = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
    }
}

/// What every thread ferrio starts in a host process runs first.
pub fn library_thread_start() {
    block_sigpipe();
    batch_scheduling();
}

/// Starts a thread of ferrio's under the policy.
pub fn spawn_thread<F, R>(name: &str, body: F) -> std::io::Result<std::thread::JoinHandle<R>>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    spawn_with(std::thread::Builder::new().name(name.to_owned()), body)
}

/// [`spawn_thread`] with a stack of `stack_size` bytes, for a consumer that recurses as deep as the
/// payloads it converts (Python's dispatch thread).
pub fn spawn_thread_with_stack<F, R>(
    name: &str,
    stack_size: usize,
    body: F,
) -> std::io::Result<std::thread::JoinHandle<R>>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let builder = std::thread::Builder::new()
        .name(name.to_owned())
        .stack_size(stack_size);
    spawn_with(builder, body)
}

fn spawn_with<F, R>(
    builder: std::thread::Builder,
    body: F,
) -> std::io::Result<std::thread::JoinHandle<R>>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    builder.spawn(move || {
        library_thread_start();
        body()
    })
}

/// A multi-thread runtime under the policy: `workers` threads (0: one per CPU) named `thread_name`.
pub fn pool(thread_name: &str, workers: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder
        .enable_all()
        .thread_name(thread_name)
        // Workers and blocking-pool threads alike.
        .on_thread_start(library_thread_start);
    if workers > 0 {
        builder.worker_threads(workers);
    }
    builder.build()
}

/// The runtime that runs one server's network side, owned by the server (C gives each server its own:
/// its worker count is an option of the server).
pub enum Network {
    /// Several worker threads (`workers` 0 or more than 1).
    Pool(tokio::runtime::Runtime),
    /// `workers` 1: a current-thread runtime driven by one thread of its own. On one thread it does the
    /// same work as a one-worker pool with less bookkeeping per task wake-up (no work-stealing queues, no
    /// driver hand-off between workers).
    Single {
        /// The runtime its thread drives.
        runtime: Arc<tokio::runtime::Runtime>,
        /// Ends the thread's `block_on`.
        stop: Arc<tokio::sync::Notify>,
        /// `None` once halted.
        thread: Option<std::thread::JoinHandle<()>>,
    },
}

impl Network {
    /// Starts the runtime; `on_network_thread` runs first on the one thread of a `Single` runtime (to
    /// mark it, e.g. for C's inline dispatch).
    pub fn start(
        workers: usize,
        thread_name: &str,
        on_network_thread: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<Network> {
        if workers != 1 {
            return Ok(Network::Pool(pool(thread_name, workers)?));
        }
        let runtime = Arc::new(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                // Its blocking pool (file reads, name lookups): threads of ferrio's too.
                .on_thread_start(block_sigpipe)
                .build()?,
        );
        let stop = Arc::new(tokio::sync::Notify::new());
        let thread = {
            let (runtime, stop) = (runtime.clone(), stop.clone());
            spawn_thread(thread_name, move || {
                on_network_thread();
                runtime.block_on(stop.notified());
            })?
        };
        Ok(Network::Single {
            runtime,
            stop,
            thread: Some(thread),
        })
    }

    /// A handle to spawn on it.
    pub fn handle(&self) -> &tokio::runtime::Handle {
        match self {
            Network::Pool(runtime) => runtime.handle(),
            Network::Single { runtime, .. } => runtime.handle(),
        }
    }

    /// `Single`: stops its thread, after the task it is polling returns. Nothing runs on the runtime
    /// afterwards; its tasks stay until [`Network::stop`].
    pub fn halt(&mut self) {
        if let Network::Single { stop, thread, .. } = self {
            if let Some(thread) = thread.take() {
                // `notify_one` keeps a permit, so the thread stops even if it has not reached its wait yet.
                stop.notify_one();
                let _ = thread.join();
            }
        }
    }

    /// Stops the runtime; tasks still running are dropped after at most a second.
    ///
    /// The shutdown runs on a short-lived thread of ferrio's, not on the host's thread that frees the
    /// server: a current-thread runtime is shut down by the thread that calls it, which then drops every
    /// connection's task, and nothing of the network side may run on a host thread (SIGPIPE).
    pub fn stop(mut self) {
        self.halt();
        let shutdown = move || match self {
            Network::Pool(runtime) => runtime.shutdown_timeout(Duration::from_secs(1)),
            Network::Single { runtime, .. } => {
                if let Ok(runtime) = Arc::try_unwrap(runtime) {
                    runtime.shutdown_timeout(Duration::from_secs(1));
                }
            }
        };
        // Should the thread not start, the closure (and with it the runtime) is dropped here, which
        // shuts the runtime down on this thread after all.
        if let Ok(thread) = std::thread::Builder::new()
            .name("ferrio-stop".into())
            .spawn(move || {
                block_sigpipe();
                shutdown();
            })
        {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sigpipe_blocked() -> bool {
        // SAFETY: reads the calling thread's mask into a local set.
        unsafe {
            let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
            libc::sigemptyset(set.as_mut_ptr());
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), set.as_mut_ptr());
            libc::sigismember(set.as_ptr(), libc::SIGPIPE) == 1
        }
    }

    #[test]
    fn every_thread_of_ferrio_blocks_sigpipe_and_the_callers_do_not_change() {
        let caller = sigpipe_blocked();
        let pool = pool("ferrio-test", 2).unwrap();
        assert!(pool.block_on(async { tokio::spawn(async { sigpipe_blocked() }).await.unwrap() }));
        assert!(
            pool.block_on(async { tokio::task::spawn_blocking(sigpipe_blocked).await.unwrap() })
        );
        assert!(spawn_thread("ferrio-test", sigpipe_blocked)
            .unwrap()
            .join()
            .unwrap());
        assert!(
            spawn_thread_with_stack("ferrio-test", 4 << 20, sigpipe_blocked)
                .unwrap()
                .join()
                .unwrap()
        );
        let single = Network::start(1, "ferrio-test", || {}).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        single
            .handle()
            .spawn(async move { tx.send(sigpipe_blocked()).unwrap() });
        assert!(rx.recv_timeout(Duration::from_secs(5)).unwrap());
        single.stop();
        assert_eq!(sigpipe_blocked(), caller);
    }
}
