-- 004_ls: what is stored, for `cprof-query ls` and Grafana's variables: the values of one
-- dimension of the profiles in [from_time, to_time), with how many profiles and when the first
-- and the last were taken. dimension: services, versions, envs, zones, instances, types or
-- labels (as key=value); service, when given, restricts to one service.
CREATE FUNCTION cprof.ls(dimension text, from_time timestamptz, to_time timestamptz, service text DEFAULT NULL)
RETURNS TABLE (value text, profiles bigint, first_time timestamptz, last_time timestamptz)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF dimension NOT IN ('services', 'versions', 'envs', 'zones', 'instances', 'types', 'labels') THEN
        RAISE EXCEPTION 'cprof.ls: unknown dimension %: services, versions, envs, zones, instances, types or labels',
            quote_literal(dimension);
    END IF;
    RETURN QUERY
    SELECT x.v, count(*), min(x.t), max(x.t)
    FROM (SELECT CASE dimension WHEN 'services' THEN p.service WHEN 'versions' THEN p.version
                                WHEN 'envs' THEN p.env WHEN 'zones' THEN p.zone
                                WHEN 'instances' THEN p.instance ELSE p.profile_type END AS v,
                 p.profile_time AS t
          FROM cprof.profiles p
          WHERE dimension <> 'labels' AND p.profile_time >= from_time AND p.profile_time < to_time
            AND (ls.service IS NULL OR p.service = ls.service)
          UNION ALL
          SELECT l.key || '=' || l.value, p.profile_time
          FROM cprof.profiles p CROSS JOIN LATERAL jsonb_each_text(p.labels) AS l(key, value)
          WHERE dimension = 'labels' AND p.profile_time >= from_time AND p.profile_time < to_time
            AND (ls.service IS NULL OR p.service = ls.service)) x
    GROUP BY x.v
    ORDER BY x.v;
END $$;

GRANT EXECUTE ON FUNCTION cprof.ls(text, timestamptz, timestamptz, text) TO cprof_reader, cprof_writer;
