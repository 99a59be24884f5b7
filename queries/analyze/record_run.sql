-- The analysis_runs row of this analysis (replacing the period's earlier one): what ran, on which
-- identity map and policy, with what counts. The pack and the nightly job read it.
-- reads: analysis_runs
INSERT OR REPLACE INTO analysis_runs VALUES ($analysis_id, $period_start, $period_end, $identity_map,
    $identity_map_sha256, $started, current_timestamp, $worker_requests, $attributed, $ambiguous, $unattributed,
    $findings, $not_evaluable, $token_lifetime_s, $clock_skew_s);
