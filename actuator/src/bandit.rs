//! Learning which remedy works: Thompson sampling over the candidate strategies of a failure
//! signature. Each strategy's verified outcomes (recovered or not) give it a Beta(1 + successes,
//! 1 + failures) belief; a draw from each belief picks the strategy to try. A strategy that has
//! worked is tried more, one that has not is still tried now and then, and a new strategy gets a
//! fair chance — with no tuning constant, which is why Thompson sampling rather than ε-greedy or
//! UCB. Outcomes live in PostgreSQL (`strategy_outcomes`, view `strategy_stats`), so what was
//! learned survives restarts and is visible to operators.

use rand::Rng;
use rand_distr::{Beta, Distribution};
use sqlx::{AnyPool, Row};

use crate::store::StoreError;

/// A strategy's record for one signature.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Arm {
    /// Strategy name.
    pub strategy: String,
    /// Verified recoveries.
    pub successes: u64,
    /// Verified failures (rolled back).
    pub failures: u64,
}

impl Arm {
    /// An arm with no history.
    pub fn new(strategy: &str) -> Self {
        Self {
            strategy: strategy.to_owned(),
            successes: 0,
            failures: 0,
        }
    }

    /// Posterior mean success rate.
    pub fn mean(&self) -> f64 {
        (1.0 + self.successes as f64) / (2.0 + (self.successes + self.failures) as f64)
    }
}

/// Pick an arm by Thompson sampling; `None` when there are none.
pub fn choose<R: Rng + ?Sized>(arms: &[Arm], rng: &mut R) -> Option<usize> {
    arms.iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let b = Beta::new(1.0 + a.successes as f64, 1.0 + a.failures as f64).ok()?;
            Some((i, b.sample(rng)))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// The records of `candidates` for `signature` (zero for those never tried), in candidate order.
pub async fn arms(pool: &AnyPool, signature: &str, candidates: &[&str]) -> Result<Vec<Arm>, StoreError> {
    let rows = sqlx::query(
        "SELECT strategy, CAST(successes AS BIGINT) AS s, CAST(failures AS BIGINT) AS f FROM strategy_stats WHERE signature = $1",
    )
    .bind(signature)
    .fetch_all(pool)
    .await?;
    let mut out: Vec<Arm> = candidates.iter().map(|c| Arm::new(c)).collect();
    for r in rows {
        let name: String = r.try_get("strategy")?;
        if let Some(a) = out.iter_mut().find(|a| a.strategy == name) {
            a.successes = r.try_get::<i64, _>("s")?.max(0) as u64;
            a.failures = r.try_get::<i64, _>("f")?.max(0) as u64;
        }
    }
    Ok(out)
}

/// Record the verified outcome of an action (idempotent on the action id).
pub async fn record(
    pool: &AnyPool,
    action_id: &str,
    signature: &str,
    strategy: &str,
    success: bool,
    t: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO strategy_outcomes (action_id, signature, strategy, success, decided_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(action_id)
    .bind(signature)
    .bind(strategy)
    .bind(i64::from(success))
    .bind(t)
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn thompson_sampling_learns_the_better_remedy() {
        // Two remedies: one works 80 % of the time, the other 30 %.
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let p = [0.3, 0.8];
        let mut arms = vec![Arm::new("service_restart"), Arm::new("gradual_traffic_shift")];
        let mut late = [0usize; 2];
        for round in 0..600 {
            let i = choose(&arms, &mut rng).expect("an arm");
            if rng.random::<f64>() < p[i] {
                arms[i].successes += 1;
            } else {
                arms[i].failures += 1;
            }
            if round >= 400 {
                late[i] += 1;
            }
        }
        assert!(late[1] > 170, "the better remedy dominates late rounds: {late:?}");
        assert!(
            arms[0].successes + arms[0].failures >= 2,
            "the worse one was tried too: {arms:?}"
        );
        assert!((arms[1].mean() - 0.8).abs() < 0.06, "{arms:?}");
    }

    #[test]
    fn an_untried_remedy_gets_a_chance() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let arms = vec![
            Arm {
                strategy: "a".into(),
                successes: 3,
                failures: 3,
            },
            Arm::new("b"),
        ];
        let picks_b = (0..1000).filter(|_| choose(&arms, &mut rng) == Some(1)).count();
        assert!((300..700).contains(&picks_b), "{picks_b}");
        assert_eq!(choose(&[], &mut rng), None);
    }
}
