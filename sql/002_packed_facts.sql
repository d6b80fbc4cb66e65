-- 002_packed_facts: the per-function and per-stack facts stored packed, one row per (minute,
-- series) of a batch holding parallel arrays, instead of one row per function or stack; closed
-- minutes compacted to one row per (minute, series). Measured on the fleet benchmark
-- (bench/RESULTS.md): a row per function cost about 80 bytes of heap, tuple header and index
-- each, 300 rows and 145% of the gzip'd size per profile, and PostgreSQL's per-row work was
-- half of the ingest time. The old row shape stays readable as the views function_minutes and
-- stack_minutes, so every reader sums rows exactly as before. The arrays of large rows are
-- compressed with lz4, not the default pglz: pglz took half of PostgreSQL's CPU in ingest.

CREATE TABLE cprof.function_minutes_packed (
    bucket       timestamptz NOT NULL,
    series_id    integer     NOT NULL,
    function_ids bigint[]    COMPRESSION lz4 NOT NULL,  -- ascending, no repeats within a row
    flat         bigint[]    COMPRESSION lz4 NOT NULL,  -- flat[i] and cum[i] belong to function_ids[i]
    cum          bigint[]    COMPRESSION lz4 NOT NULL
) PARTITION BY RANGE (bucket);

CREATE TABLE cprof.stack_minutes_packed (
    bucket    timestamptz NOT NULL,
    series_id integer     NOT NULL,
    stack_ids bigint[]    COMPRESSION lz4 NOT NULL,  -- ascending, no repeats within a row
    self      bigint[]    COMPRESSION lz4 NOT NULL   -- the self value of stack_ids[i]
) PARTITION BY RANGE (bucket);

INSERT INTO cprof.partitioned_tables VALUES
    ('function_minutes_packed', 'bucket', 'CREATE INDEX ON cprof.%I (series_id, bucket)'),
    ('stack_minutes_packed',    'bucket', 'CREATE INDEX ON cprof.%I (series_id, bucket)');

-- The rows stored so far, packed per (minute, series).
DO $$
DECLARE
    first_day date;
    last_day date;
BEGIN
    SELECT min(bucket)::date, max(bucket)::date INTO first_day, last_day
    FROM (SELECT bucket FROM cprof.function_minutes UNION ALL SELECT bucket FROM cprof.stack_minutes) b;
    IF first_day IS NOT NULL THEN
        PERFORM cprof.ensure_partitions(first_day, last_day);
    END IF;
END $$;

INSERT INTO cprof.function_minutes_packed
SELECT bucket, series_id, array_agg(function_id ORDER BY function_id), array_agg(flat ORDER BY function_id),
       array_agg(cum ORDER BY function_id)
FROM (SELECT bucket, series_id, function_id, sum(flat)::bigint AS flat, sum(cum)::bigint AS cum
      FROM cprof.function_minutes GROUP BY 1, 2, 3) f
GROUP BY bucket, series_id;

INSERT INTO cprof.stack_minutes_packed
SELECT bucket, series_id, array_agg(stack_id ORDER BY stack_id), array_agg(value ORDER BY stack_id)
FROM (SELECT bucket, series_id, stack_id, sum(value)::bigint AS value
      FROM cprof.stack_minutes GROUP BY 1, 2, 3) s
GROUP BY bucket, series_id;

DROP TABLE cprof.function_minutes, cprof.stack_minutes;
DELETE FROM cprof.partitioned_tables WHERE table_name IN ('function_minutes', 'stack_minutes');

-- The row shape, for every reader: one row per function (or stack) of each packed row. A
-- minute may hold several rows for a key (one per batch until compacted): readers sum.
CREATE VIEW cprof.function_minutes AS
SELECT p.bucket, p.series_id, u.function_id, u.flat, u.cum
FROM cprof.function_minutes_packed p
CROSS JOIN LATERAL unnest(p.function_ids, p.flat, p.cum) AS u(function_id, flat, cum);

CREATE VIEW cprof.stack_minutes AS
SELECT p.bucket, p.series_id, u.stack_id, u.value
FROM cprof.stack_minutes_packed p
CROSS JOIN LATERAL unnest(p.stack_ids, p.self) AS u(stack_id, value);

-- Compaction of one packed table: the rows of the minutes in [from_bucket, to_bucket) that hold
-- more than one row for a series become one, summed per id (ids ascending). One statement: the
-- rows deleted are the rows summed. Returns the number of rows removed. Internal to
-- compact_minutes (table and column names are cprof's own).
CREATE FUNCTION cprof.compact_packed(table_name text, id_column text, value_columns text[],
                                     from_bucket timestamptz, to_bucket timestamptz) RETURNS bigint
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
        sums AS (
            SELECT o.bucket, o.series_id, u.id, %3$s
            FROM old o CROSS JOIN LATERAL unnest(o.%2$I, %4$s) AS u(id, %5$s)
            GROUP BY 1, 2, 3),
        ins AS (
            INSERT INTO cprof.%1$I
            SELECT bucket, series_id, array_agg(id ORDER BY id), %6$s FROM sums GROUP BY bucket, series_id
            RETURNING 1)
        SELECT (SELECT count(*) FROM old) - (SELECT count(*) FROM ins)$q$,
        table_name, id_column,
        (SELECT string_agg(format('sum(u.%1$I)::bigint AS %1$I', c), ', ') FROM unnest(value_columns) c),
        (SELECT string_agg(format('o.%I', c), ', ') FROM unnest(value_columns) c),
        (SELECT string_agg(format('%I', c), ', ') FROM unnest(value_columns) c),
        (SELECT string_agg(format('array_agg(%I ORDER BY id)', c), ', ') FROM unnest(value_columns) c))
    INTO removed USING from_bucket, to_bucket;
    RETURN removed;
END $$;

-- Compaction: the packed rows and series_minutes rows of the minutes in [from_bucket, to_bucket)
-- that hold more than one row for a series become one row each, summed per function or stack.
-- Each table is rewritten in one statement (the rows deleted are the rows summed), so totals
-- stay exact while workers write; rows a worker commits meanwhile are left for the next run.
-- One compaction at a time: while one runs, another returns 0 at once (an advisory lock tried,
-- so a worker never waits on another's compaction). Returns the number of rows removed.
CREATE FUNCTION cprof.compact_minutes(from_bucket timestamptz, to_bucket timestamptz) RETURNS bigint
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
        INSERT INTO cprof.series_minutes
        SELECT bucket, series_id, sum(total)::bigint, sum(profiles)::integer, sum(profiled_nanos)::bigint
        FROM old GROUP BY bucket, series_id
        RETURNING 1)
    SELECT removed + (SELECT count(*) FROM old) - (SELECT count(*) FROM ins) INTO removed;
    RETURN removed;
END $$;

REVOKE EXECUTE ON FUNCTION cprof.compact_packed(text, text, text[], timestamptz, timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION cprof.compact_minutes(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cprof.compact_minutes(timestamptz, timestamptz) TO cprof_writer;
GRANT SELECT ON cprof.function_minutes_packed, cprof.stack_minutes_packed,
                cprof.function_minutes, cprof.stack_minutes TO cprof_reader;
GRANT SELECT, INSERT ON cprof.function_minutes_packed, cprof.stack_minutes_packed TO cprof_writer;
GRANT SELECT ON cprof.function_minutes, cprof.stack_minutes TO cprof_writer;
