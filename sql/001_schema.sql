-- 001_schema: cprof's time-series store on plain PostgreSQL 15.
--
-- Dictionaries (series, functions, stacks) are deduplicated; facts are additive integers per
-- minute bucket, so a minute may hold several rows for one key (one per worker batch) and every
-- reader sums. That keeps ingest to plain COPY, with no upserts on the hot path, and makes the
-- hour and day rollups exact. Facts and profiles are partitioned by day; retention drops
-- partitions. Everything lives in the schema "cprof".

CREATE SCHEMA IF NOT EXISTS cprof;

-- What one time series is: a service's deployment slice and one sample type of one profile
-- type. Instances are not part of it (their profiles are summed), so fleet queries read few
-- series; per-instance detail is in cprof.profiles.
CREATE TABLE cprof.series (
    series_id    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service      text  NOT NULL,
    version      text  NOT NULL DEFAULT '',
    env          text  NOT NULL DEFAULT '',
    zone         text  NOT NULL DEFAULT '',
    profile_type text  NOT NULL,  -- cpu, heap, allocs, mutex, block, goroutine, ...
    sample_type  text  NOT NULL,  -- cpu, samples, alloc_space, inuse_objects, ...
    sample_unit  text  NOT NULL,  -- nanoseconds, count, bytes, ...
    labels       jsonb NOT NULL DEFAULT '{}'::jsonb,  -- the upload's free-form labels
    first_seen   timestamptz NOT NULL DEFAULT now()
);
-- md5 keeps the unique key small whatever the labels hold (btree entries are limited in size).
CREATE UNIQUE INDEX series_identity ON cprof.series
    (md5(service || E'\x1f' || version || E'\x1f' || env || E'\x1f' || zone || E'\x1f' ||
         profile_type || E'\x1f' || sample_type || E'\x1f' || sample_unit || E'\x1f' || labels::text));
CREATE INDEX series_service ON cprof.series (service, profile_type, sample_type);

-- Functions by printed name, as cprof flattens them (pprof's function-granularity name).
-- C++ and Rust names can be longer than a btree entry may be, so the key is md5(name).
CREATE TABLE cprof.functions (
    function_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL
);
CREATE UNIQUE INDEX functions_name ON cprof.functions (md5(name));

-- Stacks as one prefix tree shared by all series: a stack is a node; its frames are the path
-- from the root (parent_id 0) to it, root first. Flame graphs walk it down, pprof export up.
CREATE TABLE cprof.stacks (
    stack_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id   bigint  NOT NULL,  -- 0 for a root frame
    function_id bigint  NOT NULL REFERENCES cprof.functions,
    depth       integer NOT NULL,  -- 1 for a root frame
    UNIQUE (parent_id, function_id)
);

-- Per-function flat and cum per minute per series.
CREATE TABLE cprof.function_minutes (
    bucket      timestamptz NOT NULL,
    series_id   integer     NOT NULL,
    function_id bigint      NOT NULL,
    flat        bigint      NOT NULL,
    cum         bigint      NOT NULL
) PARTITION BY RANGE (bucket);

-- Per-stack self values per minute per series (flame graphs, pprof export).
CREATE TABLE cprof.stack_minutes (
    bucket    timestamptz NOT NULL,
    series_id integer     NOT NULL,
    stack_id  bigint      NOT NULL,
    value     bigint      NOT NULL
) PARTITION BY RANGE (bucket);

-- Per-series totals per minute: what shares and rates are normalized by.
CREATE TABLE cprof.series_minutes (
    bucket           timestamptz NOT NULL,
    series_id        integer     NOT NULL,
    total            bigint      NOT NULL,  -- sum of the sample values
    profiles         integer     NOT NULL,  -- profiles that contributed
    profiled_nanos   bigint      NOT NULL   -- sum of the profiles' durations
) PARTITION BY RANGE (bucket);

-- One row per ingested profile: the dedupe key and the per-instance view.
CREATE TABLE cprof.profiles (
    profile_time    timestamptz NOT NULL,
    profile_id      text        NOT NULL,
    service         text        NOT NULL,
    version         text        NOT NULL DEFAULT '',
    env             text        NOT NULL DEFAULT '',
    zone            text        NOT NULL DEFAULT '',
    instance        text        NOT NULL DEFAULT '',
    profile_type    text        NOT NULL,
    labels          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    duration_nanos  bigint      NOT NULL,
    sample_types    text[]      NOT NULL,  -- "type/unit" per sample type
    totals          bigint[]    NOT NULL,  -- sum of values per sample type
    samples         integer     NOT NULL,
    payload_bytes   integer     NOT NULL,
    kafka_topic     text        NOT NULL DEFAULT '',
    kafka_partition integer     NOT NULL DEFAULT -1,
    kafka_offset    bigint      NOT NULL DEFAULT -1,
    ingested_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (profile_id, profile_time)
) PARTITION BY RANGE (profile_time);

-- The Kafka position each consumer group has stored, written in the same transaction as the
-- data it covers: on partition assignment a worker resumes from here.
CREATE TABLE cprof.kafka_offsets (
    consumer_group text    NOT NULL,
    topic          text    NOT NULL,
    kafka_partition integer NOT NULL,
    next_offset    bigint  NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, kafka_partition)
);

-- Daily partitions: the tables above that are partitioned, and how to make a day's partition.
CREATE TABLE cprof.partitioned_tables (
    table_name  text PRIMARY KEY,
    time_column text NOT NULL,
    index_sql   text NOT NULL DEFAULT ''  -- run for each new partition, %I is the partition
);
INSERT INTO cprof.partitioned_tables VALUES
    ('function_minutes', 'bucket', 'CREATE INDEX ON cprof.%I (series_id, bucket)'),
    ('stack_minutes',    'bucket', 'CREATE INDEX ON cprof.%I (series_id, bucket)'),
    ('series_minutes',   'bucket', 'CREATE INDEX ON cprof.%I (series_id, bucket)'),
    ('profiles',         'profile_time', 'CREATE INDEX ON cprof.%I (service, profile_time)');

-- Creates the partitions of every partitioned table for the days from first_day to last_day
-- (UTC). Safe to run concurrently and again: existing partitions are left alone. SECURITY
-- DEFINER: workers (cprof_writer) create the partitions they need without owning the tables.
CREATE FUNCTION cprof.ensure_partitions(first_day date, last_day date) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t record;
    d date;
    part text;
    created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('cprof.ensure_partitions'));
    FOR t IN SELECT * FROM cprof.partitioned_tables LOOP
        d := first_day;
        WHILE d <= last_day LOOP
            part := format('%s_%s', t.table_name, to_char(d, 'YYYYMMDD'));
            IF to_regclass(format('cprof.%I', part)) IS NULL THEN
                EXECUTE format('CREATE TABLE cprof.%I PARTITION OF cprof.%I FOR VALUES FROM (%L) TO (%L)',
                               part, t.table_name,
                               (d::timestamp AT TIME ZONE 'UTC'), ((d + 1)::timestamp AT TIME ZONE 'UTC'));
                IF t.index_sql <> '' THEN
                    EXECUTE format(t.index_sql, part);
                END IF;
                created := created + 1;
            END IF;
            d := d + 1;
        END LOOP;
    END LOOP;
    RETURN created;
END $$;

-- Drops the daily partitions of one table whose whole day is before keep_from (UTC): retention.
CREATE FUNCTION cprof.drop_partitions_before(table_name text, keep_from date) RETURNS integer
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
        WHERE n.nspname = 'cprof' AND p.relname = drop_partitions_before.table_name
          AND right(c.relname, 8) ~ '^[0-9]{8}$'
          AND to_date(right(c.relname, 8), 'YYYYMMDD') < keep_from
    LOOP
        EXECUTE format('DROP TABLE cprof.%I', part.relname);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END $$;

-- Ingest statistics, one row per worker per interval (pipeline health).
CREATE TABLE cprof.worker_stats (
    at              timestamptz NOT NULL DEFAULT now(),
    worker          text        NOT NULL,
    profiles        bigint      NOT NULL,
    rows_written    bigint      NOT NULL,
    dead_lettered   bigint      NOT NULL,
    duplicates      bigint      NOT NULL,
    lag_messages    bigint      NOT NULL,
    interval_seconds double precision NOT NULL
);
CREATE INDEX worker_stats_at ON cprof.worker_stats (at);

-- Roles: workers write, cprof-query and Grafana read. NOLOGIN: grant them to login roles.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cprof_writer') THEN
        CREATE ROLE cprof_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cprof_reader') THEN
        CREATE ROLE cprof_reader NOLOGIN;
    END IF;
END $$;
GRANT USAGE ON SCHEMA cprof TO cprof_writer, cprof_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA cprof TO cprof_reader;
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA cprof TO cprof_writer;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA cprof TO cprof_writer;
REVOKE EXECUTE ON FUNCTION cprof.ensure_partitions(date, date) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION cprof.drop_partitions_before(text, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cprof.ensure_partitions(date, date) TO cprof_writer;
GRANT EXECUTE ON FUNCTION cprof.drop_partitions_before(text, date) TO cprof_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA cprof GRANT SELECT ON TABLES TO cprof_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA cprof GRANT SELECT, INSERT, UPDATE ON TABLES TO cprof_writer;
