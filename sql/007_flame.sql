-- 007_flame: flame graphs from the stored stacks. The stacks are a prefix tree of functions
-- (cprof.stacks: each node a function under its parent), and the facts hold each node's self
-- value per bucket and series; a selection's flame graph is that tree with the self values summed
-- over the selection, every node's value the sum of self over its subtree.
--   stack_values  the summed self per node of a selection (nodes with a non-zero sum)
--   flame_folded  the folded stacks of flamegraph.pl and speedscope: "root;...;leaf" and value
--   flame_graph   the data frame of Grafana's flame graph panel: one row per node in depth-first
--                 pre-order, columns level, value (inclusive), self and label, under a single
--                 root at level 0 ("total"); children ordered by label (bytewise), as
--                 flamegraph.pl orders them.
-- Arguments as cprof.top's (a NULL selects any). All of them read the tiers as top does, so
-- each equals the raw minutes, and the reader role may call them.

CREATE FUNCTION cprof.stack_values(from_time timestamptz, to_time timestamptz, profile_type text, sample_type text,
                                   service text DEFAULT NULL, env text DEFAULT NULL, version text DEFAULT NULL,
                                   zone text DEFAULT NULL, labels jsonb DEFAULT NULL)
RETURNS TABLE (stack_id bigint, self bigint) LANGUAGE sql STABLE AS $$
    SELECT u.stack_id, sum(u.self)::bigint
    FROM cprof.stack_facts(stack_values.from_time, stack_values.to_time,
                           ARRAY(SELECT series_id FROM cprof.selected_series(stack_values.profile_type,
                                 stack_values.sample_type, stack_values.service, stack_values.env,
                                 stack_values.version, stack_values.zone, stack_values.labels))) p
    CROSS JOIN LATERAL unnest(p.stack_ids, p.self) AS u(stack_id, self)
    GROUP BY 1
    HAVING sum(u.self) <> 0
$$;

-- Every node of the selection's tree (the nodes with self and all their ancestors) with its
-- inclusive value, self, depth, label and the path that orders it: the labels from the root,
-- each followed by a byte below every printable one and the node id, so that siblings of the
-- same name keep their subtrees apart.
CREATE FUNCTION cprof.flame_nodes(from_time timestamptz, to_time timestamptz, profile_type text, sample_type text,
                                  service text DEFAULT NULL, env text DEFAULT NULL, version text DEFAULT NULL,
                                  zone text DEFAULT NULL, labels jsonb DEFAULT NULL)
RETURNS TABLE (stack_id bigint, parent_id bigint, depth integer, label text, value bigint, self bigint, path text[])
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE selfs AS (
        SELECT * FROM cprof.stack_values(flame_nodes.from_time, flame_nodes.to_time, flame_nodes.profile_type,
                                         flame_nodes.sample_type, flame_nodes.service, flame_nodes.env,
                                         flame_nodes.version, flame_nodes.zone, flame_nodes.labels)),
    -- each self value carried up to every ancestor of its node (the node included)
    up AS (
        SELECT s.stack_id AS node, s.self AS amount FROM selfs s
        UNION ALL
        SELECT st.parent_id, up.amount FROM up JOIN cprof.stacks st ON st.stack_id = up.node WHERE st.parent_id <> 0),
    sums AS (SELECT node, sum(amount)::bigint AS value FROM up GROUP BY node),
    paths AS (
        SELECT st.stack_id, st.parent_id, st.depth, f.name AS label,
               ARRAY[f.name || chr(1) || st.stack_id::text] AS path
        FROM cprof.stacks st JOIN cprof.functions f USING (function_id)
        WHERE st.parent_id = 0 AND st.stack_id IN (SELECT node FROM sums)
        UNION ALL
        SELECT st.stack_id, st.parent_id, st.depth, f.name, p.path || (f.name || chr(1) || st.stack_id::text)
        FROM paths p JOIN cprof.stacks st ON st.parent_id = p.stack_id
        JOIN cprof.functions f USING (function_id)
        WHERE st.stack_id IN (SELECT node FROM sums))
    SELECT p.stack_id, p.parent_id, p.depth, p.label, s.value, coalesce(v.self, 0), p.path
    FROM paths p JOIN sums s ON s.node = p.stack_id LEFT JOIN selfs v ON v.stack_id = p.stack_id
$$;

CREATE FUNCTION cprof.flame_folded(from_time timestamptz, to_time timestamptz, profile_type text, sample_type text,
                                   service text DEFAULT NULL, env text DEFAULT NULL, version text DEFAULT NULL,
                                   zone text DEFAULT NULL, labels jsonb DEFAULT NULL)
RETURNS TABLE (stack text, value bigint) LANGUAGE sql STABLE AS $$
    SELECT array_to_string(ARRAY(SELECT split_part(e, chr(1), 1) FROM unnest(n.path) WITH ORDINALITY AS x(e, i)
                                 ORDER BY i), ';'), n.self
    FROM cprof.flame_nodes(flame_folded.from_time, flame_folded.to_time, flame_folded.profile_type,
                           flame_folded.sample_type, flame_folded.service, flame_folded.env, flame_folded.version,
                           flame_folded.zone, flame_folded.labels) n
    WHERE n.self <> 0
    ORDER BY n.path COLLATE "C"
$$;

CREATE FUNCTION cprof.flame_graph(from_time timestamptz, to_time timestamptz, profile_type text, sample_type text,
                                  service text DEFAULT NULL, env text DEFAULT NULL, version text DEFAULT NULL,
                                  zone text DEFAULT NULL, labels jsonb DEFAULT NULL)
RETURNS TABLE (level integer, value bigint, self bigint, label text) LANGUAGE sql STABLE AS $$
    WITH n AS (
        SELECT * FROM cprof.flame_nodes(flame_graph.from_time, flame_graph.to_time, flame_graph.profile_type,
                                        flame_graph.sample_type, flame_graph.service, flame_graph.env,
                                        flame_graph.version, flame_graph.zone, flame_graph.labels))
    SELECT f.level, f.value, f.self, f.label FROM (
        SELECT 0 AS level, coalesce((SELECT sum(n.value) FILTER (WHERE n.parent_id = 0) FROM n), 0)::bigint AS value,
               0::bigint AS self, 'total' AS label, ARRAY[]::text[] AS path
        UNION ALL
        SELECT n.depth, n.value, n.self, n.label, n.path FROM n) f
    ORDER BY f.path COLLATE "C"
$$;

GRANT EXECUTE ON FUNCTION
    cprof.stack_values(timestamptz, timestamptz, text, text, text, text, text, text, jsonb),
    cprof.flame_nodes(timestamptz, timestamptz, text, text, text, text, text, text, jsonb),
    cprof.flame_folded(timestamptz, timestamptz, text, text, text, text, text, text, jsonb),
    cprof.flame_graph(timestamptz, timestamptz, text, text, text, text, text, text, jsonb)
    TO cprof_reader, cprof_writer;
