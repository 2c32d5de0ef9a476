//! Keeping SQLite's WAL small while moves keep coming.
//!
//! SQLite appends every commit to the WAL and starts the WAL over only when a
//! write begins with every frame already copied into the database. Under steady
//! moves the background's passive checkpoints never leave it so, since frames
//! arrive while each pass runs; the WAL then grew to `WAL_PAGES` and the writer
//! checkpointed inside a commit, about 15 ms with every move queued behind it,
//! which was most of the HTTP fire p99 (BENCHMARKS.md, session 14).
//!
//! So once the WAL is past `RESTART_FRAMES`, the background passes again while
//! the frames that arrive during a pass keep shrinking, then asks the writer to
//! copy the last few itself between two batches, when nothing else writes (a
//! pause of 1–17 ms under the heaviest load measured, most of it the device's
//! flush); its next batch starts the WAL over.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the background checkpoint copies the WAL into the database.
/// Every 250 ms left the writer's own checkpoint more to copy once the writer
/// wrote through rusqlite and committed smaller batches more often.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// The WAL size (in 4 KiB frames, so 32 MB) past which the background helps
/// it start over. Below it the WAL costs nothing worth a pause of the writer.
const RESTART_FRAMES: i64 = 8192;

/// The most passes in a row before the writer is asked anyway: 3–5 sufficed
/// under HTTP load.
const MOST_PASSES: u32 = 8;

/// The background's request that the writer finish a checkpoint.
#[derive(Debug, Default)]
pub(super) struct RestartWanted(AtomicBool);

impl RestartWanted {
    fn ask(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether a checkpoint was asked for since the last call.
    pub(super) fn take(&self) -> bool {
        self.0.swap(false, Ordering::Relaxed)
    }
}

/// What `PRAGMA wal_checkpoint` answers: whether it could not finish, the
/// frames in the WAL, and how many of them are in the database now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pass {
    busy: i64,
    log: i64,
    copied: i64,
}

#[derive(Debug, PartialEq, Eq)]
enum Next {
    Wait,
    PassAgain,
    AskWriter,
}

/// The passes of one tick.
#[derive(Debug, Default)]
struct CatchUp {
    passes: u32,
    last_log: Option<i64>,
    /// The fewest frames that came during one pass so far.
    fewest_came: Option<i64>,
}

impl CatchUp {
    fn after(&mut self, pass: Pass) -> Next {
        self.passes += 1;
        let caught_up = pass.busy == 0 && pass.copied == pass.log;
        if pass.log < RESTART_FRAMES || !caught_up {
            return Next::Wait;
        }
        let came = self.last_log.map(|before| pass.log - before);
        self.last_log = Some(pass.log);
        match (came, self.fewest_came) {
            // The WAL started over by itself meanwhile.
            (Some(came), _) if came < 0 => Next::Wait,
            _ if self.passes >= MOST_PASSES => Next::AskWriter,
            // Passing again would leave the writer no less to copy.
            (Some(0), _) => Next::AskWriter,
            (Some(came), Some(fewest)) if came * 4 > fewest * 3 => Next::AskWriter,
            (Some(came), _) => {
                self.fewest_came = Some(self.fewest_came.map_or(came, |f| f.min(came)));
                Next::PassAgain
            }
            (None, _) => Next::PassAgain,
        }
    }
}

/// Checkpoints the WAL without ever waiting on the writer (PASSIVE), until
/// the pool closes, and asks the writer to finish when the WAL is large.
pub(super) async fn checkpoint_in_background(pool: sqlx::SqlitePool, wanted: Arc<RestartWanted>) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let mut catch_up = CatchUp::default();
        loop {
            if pool.is_closed() {
                return;
            }
            let answer = sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&pool)
                .await;
            let (busy, log, copied) = match answer {
                Ok(answer) => answer,
                Err(error) => {
                    if pool.is_closed() {
                        return;
                    }
                    tracing::warn!(%error, "background WAL checkpoint failed");
                    break;
                }
            };
            match catch_up.after(Pass { busy, log, copied }) {
                Next::Wait => break,
                Next::PassAgain => {}
                Next::AskWriter => {
                    wanted.ask();
                    break;
                }
            }
        }
    }
}

/// The writer's checkpoint, when the background asked for one: with nothing
/// else writing it copies the last frames, so its next write starts the WAL over.
pub(super) fn finish_checkpoint(connection: &rusqlite::Connection, wanted: &RestartWanted) {
    if !wanted.take() {
        return;
    }
    let answer = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, i64>(2)?,
        ))
    });
    match answer {
        Ok((busy, log, copied)) => tracing::debug!(busy, log, copied, "writer's WAL checkpoint"),
        Err(error) => tracing::warn!(%error, "writer's WAL checkpoint failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caught_up(log: i64) -> Pass {
        Pass {
            busy: 0,
            log,
            copied: log,
        }
    }

    #[test]
    fn a_small_or_unfinished_wal_is_left_to_the_next_tick() {
        assert_eq!(
            CatchUp::default().after(caught_up(RESTART_FRAMES - 1)),
            Next::Wait
        );
        let behind = Pass {
            busy: 0,
            log: 20_000,
            copied: 19_000,
        };
        assert_eq!(CatchUp::default().after(behind), Next::Wait);
        let busy = Pass {
            busy: 1,
            ..caught_up(20_000)
        };
        assert_eq!(CatchUp::default().after(busy), Next::Wait);
    }

    #[test]
    fn passes_go_on_while_fewer_frames_come_during_each() {
        let mut catch_up = CatchUp::default();
        assert_eq!(catch_up.after(caught_up(16_000)), Next::PassAgain);
        assert_eq!(catch_up.after(caught_up(18_000)), Next::PassAgain);
        assert_eq!(catch_up.after(caught_up(18_500)), Next::PassAgain);
        assert_eq!(catch_up.after(caught_up(18_700)), Next::PassAgain);
        // 180 frames came, not a quarter fewer than 200: the writer finishes.
        assert_eq!(catch_up.after(caught_up(18_880)), Next::AskWriter);
    }

    #[test]
    fn the_writer_is_asked_after_the_most_passes_anyway() {
        let mut catch_up = CatchUp::default();
        let mut log = 10_000;
        let mut came = 100_000;
        for _ in 1..MOST_PASSES {
            assert_eq!(catch_up.after(caught_up(log)), Next::PassAgain);
            came /= 2;
            log += came;
        }
        assert_eq!(catch_up.after(caught_up(log)), Next::AskWriter);
    }

    #[test]
    fn a_wal_nothing_came_to_during_a_pass_is_left_to_the_writer() {
        let mut catch_up = CatchUp::default();
        assert_eq!(catch_up.after(caught_up(16_000)), Next::PassAgain);
        assert_eq!(catch_up.after(caught_up(16_000)), Next::AskWriter);
    }

    #[test]
    fn a_wal_that_started_over_meanwhile_needs_nothing_more() {
        let mut catch_up = CatchUp::default();
        assert_eq!(catch_up.after(caught_up(16_000)), Next::PassAgain);
        assert_eq!(catch_up.after(caught_up(RESTART_FRAMES + 10)), Next::Wait);
    }
}
