-- 005_rollups: hour and day tiers of the facts, exact sums of the minutes (the facts are
-- additive), so that a question over weeks reads a few rows per series instead of a row per
-- minute; every read splits its range into pieces and takes each from the coarsest tier that
-- holds it whole; retention per tier; and the read API of 003 rebuilt on the tiers, with the
-- group-by of top, a function's series over time and the diff of two selections.

-- Partitions: minutes by day, hours by month, days by year. tier says which retention applies
-- (profiles are kept with the minutes).
ALTER TABLE cprof.partitioned_tables
    ADD COLUMN period text NOT NULL DEFAULT 'day' CHECK (period IN ('day', 'month', 'year')),
    ADD COLUMN tier text NOT NULL DEFAULT 'minute' CHECK (tier IN ('minute', 'hour', 'day'));

CREATE TABLE cprof.function_hours_packed (LIKE cprof.function_minutes_packed INCLUDING COMPRESSION)
    PARTITION BY RANGE (bucket);
CREATE TABLE cprof.stack_hours_packed (LIKE cprof.stack_minutes_packed INCLUDING COMPRESSION)
    PARTITION BY RANGE (bucket);
CREATE TABLE cprof.series_hours (LIKE cprof.series_minutes) PARTITION BY RANGE (bucket);
CREATE TABLE cprof.function_days_packed (LIKE cprof.function_minutes_packed INCLUDING COMPRESSION)
    PARTITION BY RANGE (bucket);
CREATE TABLE cprof.stack_days_packed (LIKE cprof.stack_minutes_packed INCLUDING COMPRESSION)
    PARTITION BY RANGE (bucket);
CREATE TABLE cprof.series_days (LIKE cprof.series_minutes) PARTITION BY RANGE (bucket);

INSERT INTO cprof.partitioned_tables (table_name, time_column, index_sql, period, tier)
SELECT t || '_' || tier.name || suffix, 'bucket', 'CREATE INDEX ON cprof.%I (series_id, bucket)', tier.period, tier.tier
FROM (VALUES ('function', '_packed'), ('stack', '_packed'), ('series', '')) AS kind(t, suffix),
     (VALUES ('hours', 'month', 'hour'), ('days', 'year', 'day')) AS tier(name, period, tier);

-- The order in which partitions are made and dropped: the order in which a batch writes the
-- tables (profiles, then each tier's function, stack and series facts, minutes first), which
-- is also the order of the compaction and the rollup. Making or dropping a partition locks its
-- parent exclusively until the end of the call, and waits for the transactions writing to it;
-- taken in any other order, a batch holding one table and waiting for the next could be waited
-- for by a call holding that next table (measured: two parallel loads deadlocked, and
-- tests/rollup_race.sh deadlocks when the order is reversed).
ALTER TABLE cprof.partitioned_tables ADD COLUMN lock_order integer NOT NULL DEFAULT 0;
UPDATE cprof.partitioned_tables
SET lock_order = CASE tier WHEN 'minute' THEN 0 WHEN 'hour' THEN 10 ELSE 20 END
               + CASE WHEN table_name = 'profiles' THEN 0 WHEN table_name LIKE 'function%' THEN 1
                      WHEN table_name LIKE 'stack%' THEN 2 ELSE 3 END;

-- How far the rollup has gone: every hour before hours_done is in the hour tier, every day
-- before days_done in the day tier (NULL: nothing rolled up yet). One row.
CREATE TABLE cprof.rollup_state (
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    hours_done  timestamptz,
    days_done   timestamptz,
    rolled_at   timestamptz
);
INSERT INTO cprof.rollup_state DEFAULT VALUES;

-- The hour and day buckets that late data added rows to (roll_late), for the compaction to merge
-- (compact_minutes): without it a backlog older than the rollup would leave a row per batch in
-- the tiers (measured: the tiers as large as the minutes, bench/ingest). No key: a batch only
-- inserts, the compaction only deletes what it takes, so neither waits for the other.
CREATE TABLE cprof.late_buckets (
    tier   text        NOT NULL,  -- 'hours' or 'days'
    bucket timestamptz NOT NULL
);

-- ensure_partitions of 001, for every table's period: the partitions that cover the days from
-- first_day to last_day (UTC), each named by its first day.
CREATE OR REPLACE FUNCTION cprof.ensure_partitions(first_day date, last_day date) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t record;
    d date;
    next_d date;
    part text;
    created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('cprof.ensure_partitions'));
    FOR t IN SELECT * FROM cprof.partitioned_tables ORDER BY lock_order LOOP
        d := date_trunc(t.period, first_day::timestamp)::date;
        WHILE d <= last_day LOOP
            next_d := (d + ('1 ' || t.period)::interval)::date;
            part := format('%s_%s', t.table_name, to_char(d, 'YYYYMMDD'));
            IF to_regclass(format('cprof.%I', part)) IS NULL THEN
                EXECUTE format('CREATE TABLE cprof.%I PARTITION OF cprof.%I FOR VALUES FROM (%L) TO (%L)',
                               part, t.table_name,
                               (d::timestamp AT TIME ZONE 'UTC'), (next_d::timestamp AT TIME ZONE 'UTC'));
                IF t.index_sql <> '' THEN
                    EXECUTE format(t.index_sql, part);
                END IF;
                created := created + 1;
            END IF;
            d := next_d;
        END LOOP;
    END LOOP;
    RETURN created;
END $$;

-- drop_partitions_before of 001, for every period: drops the partitions of one table that end
-- on or before keep_from (UTC), so a month or a year goes once all of it is past.
CREATE OR REPLACE FUNCTION cprof.drop_partitions_before(table_name text, keep_from date) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    part record;
    dropped integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('cprof.ensure_partitions'));
    FOR part IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        JOIN pg_namespace n ON n.oid = p.relnamespace
        JOIN cprof.partitioned_tables t ON t.table_name = p.relname
        WHERE n.nspname = 'cprof' AND p.relname = drop_partitions_before.table_name
          AND right(c.relname, 8) ~ '^[0-9]{8}$'
          AND to_date(right(c.relname, 8), 'YYYYMMDD') + ('1 ' || t.period)::interval <= keep_from
    LOOP
        EXECUTE format('DROP TABLE cprof.%I', part.relname);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END $$;

-- Retention per tier: drops the partitions of each tier that end on or before that tier's
-- keep date (NULL: keep all). Minutes not yet rolled up are kept whatever the date, so the
-- hours and days can always be made from them. Returns the number of partitions dropped.
CREATE FUNCTION cprof.apply_retention(minutes_from date, hours_from date, days_from date) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rolled date := (SELECT (hours_done AT TIME ZONE 'UTC')::date FROM cprof.rollup_state);
    t record;
    keep date;
    dropped integer := 0;
BEGIN
    FOR t IN SELECT * FROM cprof.partitioned_tables ORDER BY lock_order LOOP
        keep := CASE t.tier WHEN 'minute' THEN CASE WHEN minutes_from IS NOT NULL AND rolled IS NOT NULL
                                                    THEN least(minutes_from, rolled) END
                            WHEN 'hour' THEN hours_from ELSE days_from END;
        IF keep IS NOT NULL THEN
            dropped := dropped + cprof.drop_partitions_before(t.table_name, keep);
        END IF;
    END LOOP;
    RETURN dropped;
END $$;

-- One packed table summed into a coarser one: the rows of [from_bucket, to_bucket) of source,
-- per (unit, series), one row each in target with ids ascending. Returns the rows written.
-- Internal to rollup (table and column names are cprof's own).
CREATE FUNCTION cprof.roll_packed(source text, target text, id_column text, value_columns text[], unit text,
                                  from_bucket timestamptz, to_bucket timestamptz) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    written bigint;
BEGIN
    EXECUTE format($q$
        INSERT INTO cprof.%2$I
        SELECT bucket, series_id, array_agg(id ORDER BY id), %6$s
        FROM (SELECT date_trunc(%7$L, p.bucket, 'UTC') AS bucket, p.series_id, u.id, %4$s
              FROM cprof.%1$I p CROSS JOIN LATERAL unnest(p.%3$I, %5$s) AS u(id, %8$s)
              WHERE p.bucket >= $1 AND p.bucket < $2
              GROUP BY 1, 2, 3) sums
        GROUP BY bucket, series_id$q$,
        source, target, id_column,
        (SELECT string_agg(format('sum(u.%1$I)::bigint AS %1$I', c), ', ') FROM unnest(value_columns) c),
        (SELECT string_agg(format('p.%I', c), ', ') FROM unnest(value_columns) c),
        (SELECT string_agg(format('array_agg(%I ORDER BY id)', c), ', ') FROM unnest(value_columns) c),
        unit,
        (SELECT string_agg(format('%I', c), ', ') FROM unnest(value_columns) c))
    USING from_bucket, to_bucket;
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END $$;

-- The series totals of [from_bucket, to_bucket) of source summed per (unit, series) into target.
CREATE FUNCTION cprof.roll_series(source text, target text, unit text, from_bucket timestamptz,
                                  to_bucket timestamptz) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    written bigint;
BEGIN
    EXECUTE format($q$
        INSERT INTO cprof.%2$I (bucket, series_id, total, profiles, profiled_nanos, total_abs)
        SELECT date_trunc(%3$L, bucket, 'UTC'), series_id, sum(total)::bigint, sum(profiles)::integer,
               sum(profiled_nanos)::bigint, sum(total_abs)::bigint
        FROM cprof.%1$I WHERE bucket >= $1 AND bucket < $2 GROUP BY 1, 2$q$, source, target, unit)
    USING from_bucket, to_bucket;
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END $$;

-- All three fact tables of one tier summed into the next: tier names as in the tables
-- ('minutes', 'hours', 'days'); unit is the target tier's ('hour', 'day').
CREATE FUNCTION cprof.roll_tier(source_tier text, target_tier text, unit text, from_bucket timestamptz,
                                to_bucket timestamptz) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT cprof.roll_packed('function_' || source_tier || '_packed', 'function_' || target_tier || '_packed',
                             'function_ids', ARRAY['flat', 'cum'], unit, from_bucket, to_bucket)
         + cprof.roll_packed('stack_' || source_tier || '_packed', 'stack_' || target_tier || '_packed',
                             'stack_ids', ARRAY['self'], unit, from_bucket, to_bucket)
         + cprof.roll_series('series_' || source_tier, 'series_' || target_tier, unit, from_bucket, to_bucket)
$$;

-- Partitions: a batch makes the partitions of its days in every table, the tiers' months and
-- years included, before its transaction (cprof.ensure_partitions, as the store does), so the
-- rollup and roll_late never create one: creating a partition waits for the transactions
-- writing to its table, and inside either of them that wait could close a cycle with a batch.
-- The minutes stored before this migration get theirs here.
DO $$
DECLARE
    first_day date;
    last_day date;
BEGIN
    SELECT (min(bucket) AT TIME ZONE 'UTC')::date, (max(bucket) AT TIME ZONE 'UTC')::date INTO first_day, last_day
    FROM cprof.series_minutes;
    IF first_day IS NOT NULL THEN
        PERFORM cprof.ensure_partitions(first_day, last_day);
    END IF;
END $$;

-- The rollup: the closed hours before upto (rounded down to the hour) into the hour tier, then
-- the days whose hours are all rolled into the day tier; each hour and day once, in order from
-- where the last run stopped (the first run starts at the oldest minute stored). One at a time
-- (a second caller returns 0 at once). It waits for the batches being written (they hold the
-- tiers lock shared, see roll_late), so the minutes it sums are all the minutes there will be
-- for those hours, apart from late data, which roll_late adds to the tiers itself. Returns the
-- rows written.
CREATE FUNCTION cprof.rollup(upto timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st cprof.rollup_state;
    hours_to timestamptz := date_trunc('hour', upto, 'UTC');
    hours_from timestamptz;
    days_to timestamptz;
    days_from timestamptz;
    written bigint := 0;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('cprof.rollup')) THEN
        RETURN 0;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('cprof.tiers'));
    SELECT * INTO st FROM cprof.rollup_state;
    -- the first run starts at the oldest minute; with nothing stored it waits, so that a backlog
    -- arriving later is rolled up in one pass rather than taken as late data
    hours_from := coalesce(st.hours_done,
                           least(hours_to, (SELECT date_trunc('hour', min(bucket), 'UTC') FROM cprof.series_minutes)));
    IF st.hours_done IS NULL AND NOT EXISTS (SELECT FROM cprof.series_minutes) THEN
        RETURN 0;
    END IF;
    IF hours_to > hours_from THEN
        written := written + cprof.roll_tier('minutes', 'hours', 'hour', hours_from, hours_to);
    END IF;
    hours_to := greatest(hours_from, hours_to);
    days_to := date_trunc('day', hours_to, 'UTC');
    days_from := coalesce(st.days_done,
                          least(days_to, (SELECT date_trunc('day', min(bucket), 'UTC') FROM cprof.series_hours)));
    IF days_to > days_from THEN
        written := written + cprof.roll_tier('hours', 'days', 'day', days_from, days_to);
    END IF;
    UPDATE cprof.rollup_state SET hours_done = hours_to, days_done = greatest(days_from, days_to), rolled_at = now();
    RETURN written;
END $$;

-- Late data: called by a worker in the transaction that stores a batch, after its facts, with
-- the batch's first and last minute. It takes the tiers lock shared (a rollup waits for the
-- batch, or the batch for the rollup), and when some of the batch's minutes are in hours or
-- days already rolled up, adds the batch's own rows of those minutes to the hour and day tiers
-- (a minute row is its hour's and day's row too: the facts are additive). Returns the rows
-- added; 0 at once in the usual case, where the batch is newer than the rollup.
CREATE FUNCTION cprof.roll_late(first_minute timestamptz, last_minute timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st cprof.rollup_state;
    written bigint := 0;
    n bigint;
    tier record;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtext('cprof.tiers'));
    SELECT * INTO st FROM cprof.rollup_state;
    FOR tier IN SELECT * FROM (VALUES ('hours', 'hour', st.hours_done), ('days', 'day', st.days_done)) t(name, unit, done)
                WHERE t.done IS NOT NULL AND first_minute < t.done LOOP
        EXECUTE format($q$
            WITH f AS (INSERT INTO cprof.%1$I
                       SELECT date_trunc(%4$L, bucket, 'UTC'), series_id, function_ids, flat, cum
                       FROM cprof.function_minutes_packed
                       WHERE bucket >= $1 AND bucket <= $2 AND bucket < $3 AND xmin = pg_current_xact_id()::xid
                       RETURNING 1),
                 s AS (INSERT INTO cprof.%2$I
                       SELECT date_trunc(%4$L, bucket, 'UTC'), series_id, stack_ids, self
                       FROM cprof.stack_minutes_packed
                       WHERE bucket >= $1 AND bucket <= $2 AND bucket < $3 AND xmin = pg_current_xact_id()::xid
                       RETURNING 1),
                 t AS (INSERT INTO cprof.%3$I (bucket, series_id, total, profiles, profiled_nanos, total_abs)
                       SELECT date_trunc(%4$L, bucket, 'UTC'), series_id, total, profiles, profiled_nanos, total_abs
                       FROM cprof.series_minutes
                       WHERE bucket >= $1 AND bucket <= $2 AND bucket < $3 AND xmin = pg_current_xact_id()::xid
                       RETURNING bucket),
                 late AS (INSERT INTO cprof.late_buckets SELECT DISTINCT %5$L, bucket FROM t)
            SELECT (SELECT count(*) FROM f) + (SELECT count(*) FROM s) + (SELECT count(*) FROM t)$q$,
            'function_' || tier.name || '_packed', 'stack_' || tier.name || '_packed', 'series_' || tier.name, tier.unit,
            tier.name)
        INTO n USING first_minute, last_minute, tier.done;
        written := written + n;
    END LOOP;
    RETURN written;
END $$;

-- compact_minutes of 003, for every tier: the buckets of [from_bucket, to_bucket) in the minute,
-- hour and day tables, then the hour and day buckets late data has added rows to since the last
-- run (late_buckets), each tier over the span of its late buckets (all in the one transaction
-- and advisory lock).
CREATE OR REPLACE FUNCTION cprof.compact_minutes(from_bucket timestamptz, to_bucket timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    removed bigint := 0;
    tier text;
    late record;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('cprof.compact_minutes')) THEN
        RETURN 0;
    END IF;
    FOREACH tier IN ARRAY ARRAY['minutes', 'hours', 'days'] LOOP
        removed := removed + cprof.compact_tier(tier, from_bucket, to_bucket);
    END LOOP;
    FOR late IN WITH taken AS (DELETE FROM cprof.late_buckets RETURNING *)
                SELECT t.tier, min(t.bucket) AS lo, max(t.bucket) AS hi FROM taken t GROUP BY t.tier ORDER BY t.tier DESC
    LOOP
        removed := removed + cprof.compact_tier(late.tier, late.lo,
                                                late.hi + CASE late.tier WHEN 'hours' THEN interval '1 hour'
                                                                         ELSE interval '1 day' END);
    END LOOP;
    RETURN removed;
END $$;

-- The series totals of [from_bucket, to_bucket) of one tier's table merged to one row per
-- (bucket, series); returns the rows removed. Internal to compact_minutes.
CREATE FUNCTION cprof.compact_series(table_name text, from_bucket timestamptz, to_bucket timestamptz) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    removed bigint;
BEGIN
    EXECUTE format($q$
        WITH crowded AS (
            SELECT series_id, bucket FROM cprof.%1$I
            WHERE bucket >= $1 AND bucket < $2 GROUP BY 1, 2 HAVING count(*) > 1),
        old AS (
            DELETE FROM cprof.%1$I p USING crowded c
            WHERE p.bucket >= $1 AND p.bucket < $2 AND p.series_id = c.series_id AND p.bucket = c.bucket
            RETURNING p.*),
        ins AS (
            INSERT INTO cprof.%1$I (bucket, series_id, total, profiles, profiled_nanos, total_abs)
            SELECT bucket, series_id, sum(total)::bigint, sum(profiles)::integer, sum(profiled_nanos)::bigint,
                   sum(total_abs)::bigint
            FROM old GROUP BY bucket, series_id
            RETURNING 1)
        SELECT (SELECT count(*) FROM old) - (SELECT count(*) FROM ins)$q$, table_name)
    INTO removed USING from_bucket, to_bucket;
    RETURN removed;
END $$;

-- One tier's function, stack and series tables compacted over [from_bucket, to_bucket), in the
-- order batches write them. Internal to compact_minutes.
CREATE FUNCTION cprof.compact_tier(tier text, from_bucket timestamptz, to_bucket timestamptz) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT cprof.compact_packed('function_' || tier || '_packed', 'function_ids', ARRAY['flat', 'cum'],
                                from_bucket, to_bucket)
         + cprof.compact_packed('stack_' || tier || '_packed', 'stack_ids', ARRAY['self'], from_bucket, to_bucket)
         + cprof.compact_series('series_' || tier, from_bucket, to_bucket)
$$;

-- ---------------------------------------------------------------------------------------------
-- Reading across tiers.

-- Which tier answers which piece of [from_time, to_time): whole UTC days already rolled up
-- from the day tier, whole hours already rolled up from the hour tier, the rest from the
-- minutes. With step (a series' step), only the tiers whose width divides it, so no row
-- straddles two steps. Summing the pieces gives exactly what summing the minutes of
-- [from_time, to_time) gives.
CREATE FUNCTION cprof.tier_pieces(from_time timestamptz, to_time timestamptz, step interval DEFAULT NULL)
RETURNS TABLE (tier text, lo timestamptz, hi timestamptz) LANGUAGE plpgsql STABLE AS $$
DECLARE
    st cprof.rollup_state;
    step_seconds bigint := extract(epoch FROM step)::bigint;
    hours_lo timestamptz := date_trunc('hour', from_time, 'UTC');
    hours_hi timestamptz;
    days_lo timestamptz := date_trunc('day', from_time, 'UTC');
    days_hi timestamptz;
BEGIN
    IF from_time >= to_time THEN
        RETURN;
    END IF;
    SELECT * INTO st FROM cprof.rollup_state;
    IF hours_lo < from_time THEN
        hours_lo := hours_lo + interval '1 hour';
    END IF;
    IF days_lo < from_time THEN
        days_lo := days_lo + interval '1 day';
    END IF;
    -- (least() skips NULLs: nothing rolled up must stay NULL)
    hours_hi := CASE WHEN st.hours_done IS NOT NULL THEN least(date_trunc('hour', to_time, 'UTC'), st.hours_done) END;
    days_hi := CASE WHEN st.days_done IS NOT NULL THEN least(date_trunc('day', to_time, 'UTC'), st.days_done) END;
    IF hours_hi IS NULL OR hours_lo >= hours_hi OR step_seconds % 3600 <> 0 THEN
        RETURN QUERY SELECT 'minute', from_time, to_time;
        RETURN;
    END IF;
    IF days_hi IS NULL OR days_lo >= days_hi OR step_seconds % 86400 <> 0 THEN
        days_lo := hours_hi;
        days_hi := hours_hi;
    END IF;
    RETURN QUERY
        SELECT p.tier, p.lo, p.hi
        FROM (VALUES ('minute', from_time, hours_lo), ('hour', hours_lo, days_lo), ('day', days_lo, days_hi),
                     ('hour', days_hi, hours_hi), ('minute', hours_hi, to_time)) AS p(tier, lo, hi)
        WHERE p.lo < p.hi;
END $$;

-- The packed function facts of some series over [from_time, to_time), each piece from its tier
-- (tier_pieces). Rows are as stored: sum them.
CREATE FUNCTION cprof.function_facts(from_time timestamptz, to_time timestamptz, series_ids integer[],
                                     step interval DEFAULT NULL)
RETURNS TABLE (bucket timestamptz, series_id integer, function_ids bigint[], flat bigint[], cum bigint[])
LANGUAGE plpgsql STABLE AS $$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT * FROM cprof.tier_pieces(from_time, to_time, step) LOOP
        RETURN QUERY EXECUTE format(
            'SELECT bucket, series_id, function_ids, flat, cum FROM cprof.%I '
            'WHERE series_id = ANY($1) AND bucket >= $2 AND bucket < $3', 'function_' || p.tier || 's_packed')
            USING series_ids, p.lo, p.hi;
    END LOOP;
END $$;

-- The packed stack facts, likewise.
CREATE FUNCTION cprof.stack_facts(from_time timestamptz, to_time timestamptz, series_ids integer[],
                                  step interval DEFAULT NULL)
RETURNS TABLE (bucket timestamptz, series_id integer, stack_ids bigint[], self bigint[])
LANGUAGE plpgsql STABLE AS $$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT * FROM cprof.tier_pieces(from_time, to_time, step) LOOP
        RETURN QUERY EXECUTE format(
            'SELECT bucket, series_id, stack_ids, self FROM cprof.%I '
            'WHERE series_id = ANY($1) AND bucket >= $2 AND bucket < $3', 'stack_' || p.tier || 's_packed')
            USING series_ids, p.lo, p.hi;
    END LOOP;
END $$;

-- The series totals, likewise.
CREATE FUNCTION cprof.series_facts(from_time timestamptz, to_time timestamptz, series_ids integer[],
                                   step interval DEFAULT NULL)
RETURNS TABLE (bucket timestamptz, series_id integer, total bigint, profiles integer, profiled_nanos bigint,
               total_abs bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT * FROM cprof.tier_pieces(from_time, to_time, step) LOOP
        RETURN QUERY EXECUTE format(
            'SELECT bucket, series_id, total, profiles, profiled_nanos, total_abs FROM cprof.%I '
            'WHERE series_id = ANY($1) AND bucket >= $2 AND bucket < $3', 'series_' || p.tier || 's')
            USING series_ids, p.lo, p.hi;
    END LOOP;
END $$;

-- The value of a series' dimension that a top is grouped by (NULL: not grouped). Function facts
-- are kept per series, not per instance: instances are only in cprof.profiles.
CREATE FUNCTION cprof.series_group(s cprof.series, group_by text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN CASE group_by
        WHEN 'service' THEN s.service WHEN 'env' THEN s.env WHEN 'version' THEN s.version WHEN 'zone' THEN s.zone
        ELSE CASE WHEN group_by IS NULL THEN NULL
                  ELSE cprof.bad_group_by(group_by) END
    END;
END $$;

CREATE FUNCTION cprof.bad_group_by(group_by text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RAISE EXCEPTION 'cannot group by %: service, env, version or zone (function facts are kept per series, not per instance)',
        quote_literal(group_by) USING ERRCODE = 'invalid_parameter_value';
END $$;

DROP FUNCTION cprof.top(timestamptz, timestamptz, text, text, text, text, text, text, jsonb);
DROP FUNCTION cprof.totals(timestamptz, timestamptz, text, text, text, text, text, text, jsonb);

-- Top: every function's flat and cum summed over a selection and [from_time, to_time), per
-- value of group_by (service, env, version or zone; NULL: one group, group_value NULL).
CREATE FUNCTION cprof.top(from_time timestamptz, to_time timestamptz, profile_type text, sample_type text,
                          service text DEFAULT NULL, env text DEFAULT NULL, version text DEFAULT NULL,
                          zone text DEFAULT NULL, labels jsonb DEFAULT NULL, group_by text DEFAULT NULL)
RETURNS TABLE (group_value text, function_name text, flat bigint, cum bigint) LANGUAGE sql STABLE AS $$
    WITH sel AS (
        SELECT s.series_id, cprof.series_group(s, top.group_by) AS group_value
        FROM cprof.series s
        WHERE s.series_id IN (SELECT series_id FROM cprof.selected_series(top.profile_type, top.sample_type, top.service,
                                                                          top.env, top.version, top.zone, top.labels))),
    sums AS (
        SELECT sel.group_value, u.function_id, sum(u.flat) AS flat, sum(u.cum) AS cum
        FROM cprof.function_facts(top.from_time, top.to_time, ARRAY(SELECT series_id FROM sel)) p
        JOIN sel USING (series_id)
        CROSS JOIN LATERAL unnest(p.function_ids, p.flat, p.cum) AS u(function_id, flat, cum)
        GROUP BY 1, 2)
    SELECT sums.group_value, f.name, sums.flat::bigint, sums.cum::bigint
    FROM sums JOIN cprof.functions f USING (function_id)
    WHERE sums.flat <> 0 OR sums.cum <> 0
$$;

-- The totals of a selection over [from_time, to_time), per value of group_by as in top: the
-- sum of the values and of their absolute values (pprof's 100%), profiles, profiled time, the
-- sample unit (NULL when the series disagree) and how many series there are.
CREATE FUNCTION cprof.totals(from_time timestamptz, to_time timestamptz, profile_type text, sample_type text,
                             service text DEFAULT NULL, env text DEFAULT NULL, version text DEFAULT NULL,
                             zone text DEFAULT NULL, labels jsonb DEFAULT NULL, group_by text DEFAULT NULL)
RETURNS TABLE (group_value text, total bigint, total_abs bigint, profiles bigint, profiled_nanos bigint,
               sample_unit text, series bigint) LANGUAGE sql STABLE AS $$
    WITH sel AS (
        SELECT s.series_id, s.sample_unit, cprof.series_group(s, totals.group_by) AS group_value
        FROM cprof.series s
        WHERE s.series_id IN (SELECT series_id FROM cprof.selected_series(totals.profile_type, totals.sample_type,
                                                                          totals.service, totals.env, totals.version,
                                                                          totals.zone, totals.labels))),
    sums AS (
        SELECT sel.group_value, sum(m.total) AS total, sum(m.total_abs) AS total_abs, sum(m.profiles) AS profiles,
               sum(m.profiled_nanos) AS profiled_nanos
        FROM cprof.series_facts(totals.from_time, totals.to_time, ARRAY(SELECT series_id FROM sel)) m
        JOIN sel USING (series_id)
        GROUP BY 1),
    groups AS (
        SELECT sel.group_value, CASE WHEN count(DISTINCT sel.sample_unit) = 1 THEN min(sel.sample_unit) END AS unit,
               count(*) AS series
        FROM sel GROUP BY 1)
    SELECT g.group_value, coalesce(s.total, 0)::bigint, coalesce(s.total_abs, 0)::bigint,
           coalesce(s.profiles, 0)::bigint, coalesce(s.profiled_nanos, 0)::bigint, g.unit, g.series
    FROM groups g LEFT JOIN sums s ON s.group_value IS NOT DISTINCT FROM g.group_value
    UNION ALL
    SELECT NULL, 0, 0, 0, 0, NULL, 0 WHERE NOT EXISTS (SELECT FROM sel)
$$;

-- The functions a NAME_OR_REGEX names: the function of that exact name if there is one, else
-- every function whose name matches it as a regular expression.
CREATE FUNCTION cprof.match_functions(pattern text) RETURNS TABLE (function_id bigint, name text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY SELECT f.function_id, f.name FROM cprof.functions f WHERE md5(f.name) = md5(pattern) AND f.name = pattern;
    IF NOT FOUND THEN
        RETURN QUERY SELECT f.function_id, f.name FROM cprof.functions f WHERE f.name ~ pattern;
    END IF;
END $$;

-- A function's flat and cum over time: one point per step (steps aligned on the Unix epoch)
-- that holds profiles of the selection, for each function match_functions(pattern) names that
-- occurs in [from_time, to_time); absent from a step, it is 0 there. total_abs and
-- profiled_nanos are the step's, for shares and rates.
CREATE FUNCTION cprof.function_series(from_time timestamptz, to_time timestamptz, step interval, pattern text,
                                      profile_type text, sample_type text, service text DEFAULT NULL,
                                      env text DEFAULT NULL, version text DEFAULT NULL, zone text DEFAULT NULL,
                                      labels jsonb DEFAULT NULL)
RETURNS TABLE (bucket timestamptz, function_name text, flat bigint, cum bigint, total_abs bigint,
               profiled_nanos bigint) LANGUAGE sql STABLE AS $$
    WITH sel AS (
        SELECT ARRAY(SELECT series_id FROM cprof.selected_series(function_series.profile_type,
               function_series.sample_type, function_series.service, function_series.env, function_series.version,
               function_series.zone, function_series.labels)) AS ids),
    wanted AS (SELECT * FROM cprof.match_functions(function_series.pattern)),
    wanted_ids AS (SELECT coalesce(array_agg(function_id), '{}') AS ids FROM wanted),
    steps AS (
        SELECT date_bin(function_series.step, m.bucket, timestamptz 'epoch') AS bucket, sum(m.total_abs) AS total_abs,
               sum(m.profiled_nanos) AS profiled_nanos
        FROM sel, cprof.series_facts(function_series.from_time, function_series.to_time, sel.ids, function_series.step) m
        GROUP BY 1 HAVING sum(m.profiles) > 0),
    values AS (
        SELECT date_bin(function_series.step, p.bucket, timestamptz 'epoch') AS bucket, u.function_id,
               sum(u.flat) AS flat, sum(u.cum) AS cum
        FROM sel, wanted_ids w, cprof.function_facts(function_series.from_time, function_series.to_time, sel.ids,
                                                     function_series.step) p
        -- a few functions: looked up in each row's ids (array_position, measured 9x faster than
        -- unnesting the row); many: the row unnested and filtered
        CROSS JOIN LATERAL (
            SELECT k.id, p.flat[i.at], p.cum[i.at]
            FROM unnest(w.ids) AS k(id) CROSS JOIN LATERAL array_position(p.function_ids, k.id) AS i(at)
            WHERE cardinality(w.ids) <= 16 AND i.at IS NOT NULL
            UNION ALL
            SELECT x.id, x.flat, x.cum
            FROM unnest(p.function_ids, p.flat, p.cum) AS x(id, flat, cum)
            WHERE cardinality(w.ids) > 16 AND x.id = ANY (w.ids)) AS u(function_id, flat, cum)
        GROUP BY 1, 2),
    present AS (SELECT DISTINCT w.function_id, w.name FROM wanted w JOIN values v USING (function_id))
    SELECT s.bucket, f.name, coalesce(v.flat, 0)::bigint, coalesce(v.cum, 0)::bigint, s.total_abs::bigint,
           s.profiled_nanos::bigint
    FROM steps s CROSS JOIN present f
    LEFT JOIN values v ON v.bucket = s.bucket AND v.function_id = f.function_id
    ORDER BY f.name, s.bucket
$$;

-- ---------------------------------------------------------------------------------------------
-- Diff and its statistics.

-- ln(Gamma(x)) for x > 0 (Lanczos' approximation, relative error below 2e-10).
CREATE FUNCTION cprof.ln_gamma(x float8) RETURNS float8 LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    coef float8[] := ARRAY[76.18009172947146, -86.50532032941677, 24.01409824083091, -1.231739572450155,
                           0.1208650973866179e-2, -0.5395239384953e-5];
    y float8 := x;
    tmp float8 := x + 5.5;
    series float8 := 1.000000000190015;
BEGIN
    tmp := tmp - (x + 0.5) * ln(tmp);
    FOR j IN 1..6 LOOP
        y := y + 1;
        series := series + coef[j] / y;
    END LOOP;
    RETURN -tmp + ln(2.5066282746310005 * series / x);
END $$;

-- The continued fraction of the incomplete beta function (modified Lentz), for x < (a+1)/(a+b+2).
CREATE FUNCTION cprof.beta_fraction(a float8, b float8, x float8) RETURNS float8
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    tiny constant float8 := 1e-300;
    c float8 := 1;
    d float8 := 1 - (a + b) * x / (a + 1);
    h float8;
    step float8;
    m2 integer;
BEGIN
    d := 1 / (CASE WHEN abs(d) < tiny THEN tiny ELSE d END);
    h := d;
    FOR m IN 1..300 LOOP
        m2 := 2 * m;
        step := m * (b - m) * x / ((a - 1 + m2) * (a + m2));
        d := 1 + step * d;
        c := 1 + step / c;
        d := 1 / (CASE WHEN abs(d) < tiny THEN tiny ELSE d END);
        c := CASE WHEN abs(c) < tiny THEN tiny ELSE c END;
        h := h * d * c;
        step := -(a + m) * (a + b + m) * x / ((a + m2) * (a + 1 + m2));
        d := 1 + step * d;
        c := 1 + step / c;
        d := 1 / (CASE WHEN abs(d) < tiny THEN tiny ELSE d END);
        c := CASE WHEN abs(c) < tiny THEN tiny ELSE c END;
        h := h * d * c;
        EXIT WHEN abs(d * c - 1) < 3e-14;
    END LOOP;
    RETURN h;
END $$;

-- The regularized incomplete beta function I_x(a, b).
CREATE FUNCTION cprof.incomplete_beta(a float8, b float8, x float8) RETURNS float8
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    front float8;
BEGIN
    IF x <= 0 THEN
        RETURN 0;
    ELSIF x >= 1 THEN
        RETURN 1;
    END IF;
    front := exp(cprof.ln_gamma(a + b) - cprof.ln_gamma(a) - cprof.ln_gamma(b) + a * ln(x) + b * ln(1 - x));
    IF x < (a + 1) / (a + b + 2) THEN
        RETURN front * cprof.beta_fraction(a, b, x) / a;
    END IF;
    RETURN 1 - front * cprof.beta_fraction(b, a, 1 - x) / b;
END $$;

-- Welch's t-test from each side's bucket count, sum and sum of squares: the two-sided p-value
-- that the two means are equal (Student's t with the Welch-Satterthwaite degrees of freedom).
-- NULL when a side has fewer than 2 buckets; 1 or 0 when both sides are constant (equal or not).
CREATE FUNCTION cprof.welch_p(n1 bigint, sum1 float8, squares1 float8, n2 bigint, sum2 float8, squares2 float8)
RETURNS float8 LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    mean1 float8;
    mean2 float8;
    v1 float8;
    v2 float8;
    se2 float8;
    t float8;
    df float8;
BEGIN
    IF n1 < 2 OR n2 < 2 THEN
        RETURN NULL;
    END IF;
    mean1 := sum1 / n1;
    mean2 := sum2 / n2;
    v1 := greatest(0, squares1 - sum1 * mean1) / (n1 - 1) / n1;  -- the variance of the mean
    v2 := greatest(0, squares2 - sum2 * mean2) / (n2 - 1) / n2;
    se2 := v1 + v2;
    IF se2 = 0 THEN
        RETURN CASE WHEN mean1 = mean2 THEN 1 ELSE 0 END;
    END IF;
    t := (mean2 - mean1) / sqrt(se2);
    df := se2 * se2 / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1));
    RETURN cprof.incomplete_beta(df / 2, 0.5, df / (df + t * t));
END $$;

-- The bucket width a diff compares per-bucket shares at, from the shorter side's range: a day
-- from 7 days, an hour from 6 hours, else a minute (so each side has several buckets).
CREATE FUNCTION cprof.diff_bucket(range_width interval) RETURNS interval LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN range_width >= interval '7 days' THEN interval '1 day'
                WHEN range_width >= interval '6 hours' THEN interval '1 hour'
                ELSE interval '1 minute' END
$$;

-- One side of a diff: each function's summed value (flat or cum, by_value) over the side's
-- selection, and the count, sum and sum of squares of its share of each bucket's total of
-- absolute values (buckets of bucket_width on the Unix epoch that hold profiles; a function
-- absent from a bucket has share 0 there, so it adds nothing to the sums). buckets, total_abs
-- and profiled_nanos are the side's.
CREATE FUNCTION cprof.diff_side(from_time timestamptz, to_time timestamptz, profile_type text, sample_type text,
                                service text, env text, version text, zone text, labels jsonb, by_value text,
                                bucket_width interval)
RETURNS TABLE (function_id bigint, value bigint, share_sum float8, share_squares float8, buckets bigint,
               total_abs bigint, profiled_nanos bigint) LANGUAGE sql STABLE AS $$
    WITH sel AS (
        SELECT ARRAY(SELECT series_id FROM cprof.selected_series(diff_side.profile_type, diff_side.sample_type,
               diff_side.service, diff_side.env, diff_side.version, diff_side.zone, diff_side.labels)) AS ids),
    steps AS (
        SELECT date_bin(diff_side.bucket_width, m.bucket, timestamptz 'epoch') AS bucket,
               sum(m.total_abs) AS total_abs, sum(m.profiled_nanos) AS profiled_nanos
        FROM sel, cprof.series_facts(diff_side.from_time, diff_side.to_time, sel.ids, diff_side.bucket_width) m
        GROUP BY 1 HAVING sum(m.profiles) > 0),
    side AS (
        SELECT count(*) AS buckets, coalesce(sum(total_abs), 0)::bigint AS total_abs,
               coalesce(sum(profiled_nanos), 0)::bigint AS profiled_nanos
        FROM steps),
    values AS (
        SELECT date_bin(diff_side.bucket_width, p.bucket, timestamptz 'epoch') AS bucket, u.function_id,
               sum(CASE WHEN diff_side.by_value = 'cum' THEN u.cum ELSE u.flat END) AS value
        FROM sel, cprof.function_facts(diff_side.from_time, diff_side.to_time, sel.ids, diff_side.bucket_width) p
        CROSS JOIN LATERAL unnest(p.function_ids, p.flat, p.cum) AS u(function_id, flat, cum)
        GROUP BY 1, 2)
    SELECT v.function_id, sum(v.value)::bigint,
           sum(CASE WHEN s.total_abs <> 0 THEN v.value::float8 / s.total_abs ELSE 0 END),
           sum(CASE WHEN s.total_abs <> 0 THEN (v.value::float8 / s.total_abs) ^ 2 ELSE 0 END),
           side.buckets, side.total_abs, side.profiled_nanos
    FROM values v JOIN steps s USING (bucket) CROSS JOIN side
    GROUP BY v.function_id, side.buckets, side.total_abs, side.profiled_nanos
$$;

-- Diff: a base selection against a target selection of one service (NULL: the fleet), each
-- with its own time range, env, version, zone and labels (NULL: any). For every function with
-- a value on either side: the summed values, each side's share (value / the side's total of
-- absolute values), the change of share, the rates per profiled second, and the significance of
-- the change: Welch's t-test between the per-bucket shares of the two sides (bucket_width,
-- NULL: diff_bucket of the shorter range), p_value two-sided, q_value the Benjamini-Hochberg
-- adjustment over all the functions compared, significant when q_value < 0.05. status: 'new'
-- (nothing in base), 'vanished' (nothing in target), else ''. Ranked by the size of the change.
CREATE FUNCTION cprof.diff(profile_type text, sample_type text, service text,
                           base_from timestamptz, base_to timestamptz, base_env text, base_version text,
                           base_zone text, base_labels jsonb,
                           target_from timestamptz, target_to timestamptz, target_env text, target_version text,
                           target_zone text, target_labels jsonb,
                           by_value text DEFAULT 'flat', bucket_width interval DEFAULT NULL)
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
               cprof.welch_p(bside.n, coalesce(b.share_sum, 0), coalesce(b.share_squares, 0),
                             tside.n, coalesce(t.share_sum, 0), coalesce(t.share_squares, 0)) AS p,
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

GRANT SELECT ON ALL TABLES IN SCHEMA cprof TO cprof_reader;
GRANT SELECT, INSERT, UPDATE ON cprof.function_hours_packed, cprof.stack_hours_packed, cprof.series_hours,
    cprof.function_days_packed, cprof.stack_days_packed, cprof.series_days TO cprof_writer;
REVOKE EXECUTE ON FUNCTION cprof.rollup(timestamptz), cprof.roll_late(timestamptz, timestamptz),
    cprof.apply_retention(date, date, date), cprof.roll_packed(text, text, text, text[], text, timestamptz, timestamptz),
    cprof.roll_series(text, text, text, timestamptz, timestamptz),
    cprof.roll_tier(text, text, text, timestamptz, timestamptz),
    cprof.compact_series(text, timestamptz, timestamptz), cprof.compact_tier(text, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cprof.rollup(timestamptz), cprof.roll_late(timestamptz, timestamptz),
    cprof.apply_retention(date, date, date) TO cprof_writer;
GRANT EXECUTE ON FUNCTION cprof.top(timestamptz, timestamptz, text, text, text, text, text, text, jsonb, text),
    cprof.totals(timestamptz, timestamptz, text, text, text, text, text, text, jsonb, text),
    cprof.function_series(timestamptz, timestamptz, interval, text, text, text, text, text, text, text, jsonb),
    cprof.diff(text, text, text, timestamptz, timestamptz, text, text, text, jsonb, timestamptz, timestamptz, text,
               text, text, jsonb, text, interval),
    cprof.tier_pieces(timestamptz, timestamptz, interval),
    cprof.match_functions(text) TO cprof_reader, cprof_writer;

-- The periodic work on the tiers, as a worker runs it every minute: the compaction of
-- [compact_from, compact_to), then the rollup up to rollup_upto, in that order so that the
-- rollup's lock, which makes batches wait, is held for the rollup only. Returns the rows the
-- compaction removed and the rows the rollup wrote.
CREATE FUNCTION cprof.maintain_tiers(compact_from timestamptz, compact_to timestamptz, rollup_upto timestamptz)
RETURNS TABLE (removed bigint, rolled bigint) LANGUAGE plpgsql AS $$
BEGIN
    removed := cprof.compact_minutes(compact_from, compact_to);
    rolled := cprof.rollup(rollup_upto);
    RETURN NEXT;
END $$;
REVOKE EXECUTE ON FUNCTION cprof.maintain_tiers(timestamptz, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cprof.maintain_tiers(timestamptz, timestamptz, timestamptz) TO cprof_writer;
