-- 006_diff_filter: cprof.diff tests only the functions that can matter (a mean share of at
-- least test_share), so the significance of a real change is not diluted by hundreds of tiny
-- functions that are compared but could never be significant.

-- Diff, as in 005, with one change: only the functions whose mean share of the two sides is at
-- least test_share (default 0.005, the node fraction below which pprof hides a node) are tested;
-- the others keep their shares, rates and status, with p_value and q_value NULL and significant
-- false. The Benjamini-Hochberg q is taken over the tested functions only. This is independent
-- filtering (Bourgon, Gentleman and Huber, PNAS 2010): the mean share does not depend on the
-- difference between the sides when there is none, so the false discovery rate still holds,
-- while the hundreds of tiny functions of a real profile, which could never be significant, no
-- longer multiply the q of those that can. Measured on the demo service's canary against
-- production (264 functions, 25 of them at 0.5% or more, three minute buckets per side): the 6x
-- regression's q went from 0.46 to 0.065 (p = 0.005 either way).
DROP FUNCTION cprof.diff(text, text, text, timestamptz, timestamptz, text, text, text, jsonb, timestamptz, timestamptz,
                         text, text, text, jsonb, text, interval);
CREATE FUNCTION cprof.diff(profile_type text, sample_type text, service text,
                           base_from timestamptz, base_to timestamptz, base_env text, base_version text,
                           base_zone text, base_labels jsonb,
                           target_from timestamptz, target_to timestamptz, target_env text, target_version text,
                           target_zone text, target_labels jsonb,
                           by_value text DEFAULT 'flat', bucket_width interval DEFAULT NULL,
                           test_share float8 DEFAULT 0.005)
RETURNS TABLE (function_name text, base bigint, target bigint, base_share float8, target_share float8,
               delta float8, base_rate float8, target_rate float8, p_value float8, q_value float8,
               significant boolean, status text) LANGUAGE sql STABLE AS $$
    WITH width AS (
        SELECT coalesce(diff.bucket_width, cprof.diff_bucket(least(diff.base_to - diff.base_from,
                                                                   diff.target_to - diff.target_from))) AS w),
    b AS (SELECT d.* FROM width, cprof.diff_side(diff.base_from, diff.base_to, diff.profile_type, diff.sample_type,
                  diff.service, diff.base_env, diff.base_version, diff.base_zone, diff.base_labels, diff.by_value,
                  width.w) d),
    t AS (SELECT d.* FROM width, cprof.diff_side(diff.target_from, diff.target_to, diff.profile_type,
                  diff.sample_type, diff.service, diff.target_env, diff.target_version, diff.target_zone,
                  diff.target_labels, diff.by_value, width.w) d),
    bside AS (SELECT max(buckets) AS n, max(total_abs) AS total_abs, max(profiled_nanos) AS nanos FROM b),
    tside AS (SELECT max(buckets) AS n, max(total_abs) AS total_abs, max(profiled_nanos) AS nanos FROM t),
    joined AS (
        SELECT coalesce(b.function_id, t.function_id) AS function_id, coalesce(b.value, 0) AS base,
               coalesce(t.value, 0) AS target,
               CASE WHEN (coalesce(b.value, 0)::float8 / nullif(bside.total_abs, 0)
                          + coalesce(t.value, 0)::float8 / nullif(tside.total_abs, 0)) / 2 >= diff.test_share
                    THEN cprof.welch_p(bside.n, coalesce(b.share_sum, 0), coalesce(b.share_squares, 0),
                                       tside.n, coalesce(t.share_sum, 0), coalesce(t.share_squares, 0)) END AS p,
               CASE WHEN bside.total_abs > 0 THEN coalesce(b.value, 0)::float8 / bside.total_abs END AS base_share,
               CASE WHEN tside.total_abs > 0 THEN coalesce(t.value, 0)::float8 / tside.total_abs END AS target_share,
               CASE WHEN bside.nanos > 0 THEN coalesce(b.value, 0) / (bside.nanos / 1e9::float8) END AS base_rate,
               CASE WHEN tside.nanos > 0 THEN coalesce(t.value, 0) / (tside.nanos / 1e9::float8) END AS target_rate
        FROM b FULL JOIN t USING (function_id) CROSS JOIN bside CROSS JOIN tside
        WHERE coalesce(b.value, 0) <> 0 OR coalesce(t.value, 0) <> 0),
    ranked AS (
        SELECT j.*, row_number() OVER (ORDER BY j.p) AS p_rank, count(j.p) OVER () AS tests FROM joined j),
    adjusted AS (
        SELECT r.*, CASE WHEN r.p IS NOT NULL THEN
                        least(1, min(r.p * r.tests / r.p_rank) OVER (ORDER BY r.p DESC NULLS FIRST
                                                                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
                    END AS q
        FROM ranked r)
    SELECT f.name, a.base, a.target, a.base_share, a.target_share, a.target_share - a.base_share,
           a.base_rate, a.target_rate, a.p, a.q, coalesce(a.q < 0.05, false),
           CASE WHEN a.base = 0 THEN 'new' WHEN a.target = 0 THEN 'vanished' ELSE '' END
    FROM adjusted a JOIN cprof.functions f USING (function_id)
    ORDER BY abs(a.target_share - a.base_share) DESC NULLS LAST, f.name
$$;

GRANT EXECUTE ON FUNCTION cprof.diff(text, text, text, timestamptz, timestamptz, text, text, text, jsonb, timestamptz,
                                      timestamptz, text, text, text, jsonb, text, interval, float8)
    TO cprof_reader, cprof_writer;
