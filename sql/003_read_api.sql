-- 003_read_api: the read side's SQL, one API for cprof-query and Grafana alike (both call these
-- functions with parameters only, so a dashboard and the CLI cannot disagree), and the total of
-- absolute sample values per minute, which pprof's top uses as the 100% of its percentages.

-- pprof's -top total is the sum of |value| over the samples; it differs from total when a
-- profile has negative values (a diff). Rows stored before this migration get abs(total): exact
-- unless one minute of a series mixed profiles of both signs.
ALTER TABLE cprof.series_minutes ADD COLUMN total_abs bigint NOT NULL DEFAULT 0;
UPDATE cprof.series_minutes SET total_abs = abs(total);

-- compact_minutes of 002, now also summing total_abs.
CREATE OR REPLACE FUNCTION cprof.compact_minutes(from_bucket timestamptz, to_bucket timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    removed bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('cprof.compact_minutes')) THEN
        RETURN 0;
    END IF;
    removed := cprof.compact_packed('function_minutes_packed', 'function_ids', ARRAY['flat', 'cum'],
                                    from_bucket, to_bucket)
             + cprof.compact_packed('stack_minutes_packed', 'stack_ids', ARRAY['self'], from_bucket, to_bucket);

    WITH crowded AS (
        SELECT series_id, bucket FROM cprof.series_minutes
        WHERE bucket >= from_bucket AND bucket < to_bucket GROUP BY 1, 2 HAVING count(*) > 1),
    old AS (
        DELETE FROM cprof.series_minutes p USING crowded c
        WHERE p.bucket >= from_bucket AND p.bucket < to_bucket AND p.series_id = c.series_id AND p.bucket = c.bucket
        RETURNING p.*),
    ins AS (
        INSERT INTO cprof.series_minutes (bucket, series_id, total, profiles, profiled_nanos, total_abs)
        SELECT bucket, series_id, sum(total)::bigint, sum(profiles)::integer, sum(profiled_nanos)::bigint,
               sum(total_abs)::bigint
        FROM old GROUP BY bucket, series_id
        RETURNING 1)
    SELECT removed + (SELECT count(*) FROM old) - (SELECT count(*) FROM ins) INTO removed;
    RETURN removed;
END $$;

-- The series of a selection: one profile type and sample type; NULL selects any service,
-- env, version or zone; labels selects the series whose labels contain these (NULL: any).
CREATE FUNCTION cprof.selected_series(profile_type text, sample_type text, service text DEFAULT NULL,
                                      env text DEFAULT NULL, version text DEFAULT NULL, zone text DEFAULT NULL,
                                      labels jsonb DEFAULT NULL)
RETURNS TABLE (series_id integer) LANGUAGE sql STABLE AS $$
    SELECT s.series_id FROM cprof.series s
    WHERE s.profile_type = selected_series.profile_type AND s.sample_type = selected_series.sample_type
      AND (selected_series.service IS NULL OR s.service = selected_series.service)
      AND (selected_series.env IS NULL OR s.env = selected_series.env)
      AND (selected_series.version IS NULL OR s.version = selected_series.version)
      AND (selected_series.zone IS NULL OR s.zone = selected_series.zone)
      AND (selected_series.labels IS NULL OR s.labels @> selected_series.labels)
$$;

-- Top: every function's flat and cum summed over a selection and [from_time, to_time).
CREATE FUNCTION cprof.top(from_time timestamptz, to_time timestamptz, profile_type text, sample_type text,
                          service text DEFAULT NULL, env text DEFAULT NULL, version text DEFAULT NULL,
                          zone text DEFAULT NULL, labels jsonb DEFAULT NULL)
RETURNS TABLE (function_name text, flat bigint, cum bigint) LANGUAGE sql STABLE AS $$
    SELECT f.name, sum(m.flat)::bigint, sum(m.cum)::bigint
    FROM cprof.function_minutes m
    JOIN cprof.functions f USING (function_id)
    WHERE m.series_id IN (SELECT series_id FROM cprof.selected_series(top.profile_type, top.sample_type, top.service,
                                                                     top.env, top.version, top.zone, top.labels))
      AND m.bucket >= top.from_time AND m.bucket < top.to_time
    GROUP BY f.name
    HAVING sum(m.flat) <> 0 OR sum(m.cum) <> 0
$$;

-- The totals of a selection over [from_time, to_time): the sum of the values and of their
-- absolute values, profiles, profiled time, the sample unit (NULL when the series disagree)
-- and how many series there are.
CREATE FUNCTION cprof.totals(from_time timestamptz, to_time timestamptz, profile_type text, sample_type text,
                             service text DEFAULT NULL, env text DEFAULT NULL, version text DEFAULT NULL,
                             zone text DEFAULT NULL, labels jsonb DEFAULT NULL)
RETURNS TABLE (total bigint, total_abs bigint, profiles bigint, profiled_nanos bigint, sample_unit text,
               series bigint) LANGUAGE sql STABLE AS $$
    WITH sel AS (SELECT series_id FROM cprof.selected_series(totals.profile_type, totals.sample_type, totals.service,
                                                             totals.env, totals.version, totals.zone, totals.labels))
    SELECT coalesce(sum(m.total), 0)::bigint, coalesce(sum(m.total_abs), 0)::bigint,
           coalesce(sum(m.profiles), 0)::bigint, coalesce(sum(m.profiled_nanos), 0)::bigint,
           (SELECT CASE WHEN count(DISTINCT s.sample_unit) = 1 THEN min(s.sample_unit) END
            FROM cprof.series s WHERE s.series_id IN (SELECT series_id FROM sel)),
           (SELECT count(*) FROM sel)
    FROM cprof.series_minutes m
    WHERE m.series_id IN (SELECT series_id FROM sel) AND m.bucket >= totals.from_time AND m.bucket < totals.to_time
$$;

-- The sample types stored for a profile type (and service, when given): what a selection can ask for.
CREATE FUNCTION cprof.sample_types(profile_type text, service text DEFAULT NULL)
RETURNS TABLE (sample_type text) LANGUAGE sql STABLE AS $$
    SELECT DISTINCT s.sample_type FROM cprof.series s
    WHERE s.profile_type = sample_types.profile_type AND (sample_types.service IS NULL OR s.service = sample_types.service)
    ORDER BY 1
$$;

GRANT EXECUTE ON FUNCTION cprof.selected_series(text, text, text, text, text, text, jsonb),
    cprof.top(timestamptz, timestamptz, text, text, text, text, text, text, jsonb),
    cprof.totals(timestamptz, timestamptz, text, text, text, text, text, text, jsonb),
    cprof.sample_types(text, text) TO cprof_reader, cprof_writer;
