//! Gathering a batch from a channel: the one loop behind the executor's batches of frames and
//! the shared sessions' batches of requests.
use std::time::Instant;

use crossbeam_channel::Receiver;

/// What [`gather`] does with the next item.
pub enum Take {
    /// Joins the batch.
    Join,
    /// Closes the batch; the item is handed back to be handled next.
    Close,
}

/// A batch that starts with `first`, then takes the items `decide` lets join, while their summed
/// `weight` is below `limit`, waiting for more until `deadline` (items already waiting are taken
/// even when it has passed). Returns the batch and the item that closed it, if any.
pub fn gather<T>(
    rx: &Receiver<T>,
    first: T,
    limit: usize,
    deadline: Instant,
    weight: impl Fn(&T) -> usize,
    decide: impl Fn(&T) -> Take,
) -> (Vec<T>, Option<T>) {
    let mut total = weight(&first);
    let mut batch = vec![first];
    while total < limit {
        let next = rx.try_recv().ok().or_else(|| {
            rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .ok()
        });
        let Some(item) = next else { break };
        match decide(&item) {
            Take::Join => {
                total += weight(&item);
                batch.push(item);
            }
            Take::Close => return (batch, Some(item)),
        }
    }
    (batch, None)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crossbeam_channel::unbounded;

    use super::*;

    #[test]
    fn takes_what_fits_stops_at_a_closing_item_and_at_the_deadline() {
        let (tx, rx) = unbounded();
        for v in [2, 3, 100, 4] {
            tx.send(v).unwrap();
        }
        let soon = Instant::now() + Duration::from_millis(50);
        let close_big = |v: &i32| if *v >= 100 { Take::Close } else { Take::Join };
        // 1 + 2 + 3 = 6 < 10, then 100 closes the batch and comes back.
        let (b, next) = gather(&rx, 1, 10, soon, |v| *v as usize, close_big);
        assert_eq!((b, next), (vec![1, 2, 3], Some(100)));
        // Weight limit: 4 + 4 = 8 >= 5 stops before waiting.
        let (b, next) = gather(&rx, 4, 5, soon, |v| *v as usize, close_big);
        assert_eq!((b, next), (vec![4, 4], None));
        // Nothing more arrives: the deadline ends the wait.
        let t = Instant::now();
        let (b, next) = gather(&rx, 7, 100, t + Duration::from_millis(30), |_| 1, close_big);
        assert_eq!((b, next), (vec![7], None));
        assert!(t.elapsed() >= Duration::from_millis(30));
        // A passed deadline still takes what is already waiting.
        tx.send(8).unwrap();
        let (b, _) = gather(&rx, 7, 100, Instant::now(), |_| 1, close_big);
        assert_eq!(b, vec![7, 8]);
    }
}
