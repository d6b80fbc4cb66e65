-- 008_export: what `cprof-query export` turns into one pprof profile: the call tree of a
-- selection with the summed self value of every node for each of several sample types, and
-- every ancestor of those nodes so that each stack can be walked up to its root.
--   export_nodes  one row per node: its id, its parent (0 for a root frame), its function and
--                 the function's name, and its self value per sample type (in the order of
--                 sample_types; NULL for a node that only leads to others), ordered by node id.
-- Arguments as cprof.top's, with an array of sample types in place of one.

CREATE FUNCTION cprof.export_nodes(from_time timestamptz, to_time timestamptz, profile_type text,
                                   sample_types text[], service text DEFAULT NULL, env text DEFAULT NULL,
                                   version text DEFAULT NULL, zone text DEFAULT NULL, labels jsonb DEFAULT NULL)
RETURNS TABLE (stack_id bigint, parent_id bigint, function_id bigint, function_name text, self_values bigint[])
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE types AS (
        SELECT t.sample_type, t.i FROM unnest(export_nodes.sample_types) WITH ORDINALITY AS t(sample_type, i)),
    selfs AS (
        SELECT t.i, v.stack_id, v.self
        FROM types t
        CROSS JOIN LATERAL cprof.stack_values(export_nodes.from_time, export_nodes.to_time, export_nodes.profile_type,
                                              t.sample_type, export_nodes.service, export_nodes.env,
                                              export_nodes.version, export_nodes.zone, export_nodes.labels) v),
    leaves AS (
        SELECT s.stack_id, array_agg(coalesce(v.self, 0) ORDER BY t.i) AS self_values
        FROM (SELECT DISTINCT selfs.stack_id FROM selfs) s CROSS JOIN types t
        LEFT JOIN selfs v ON v.stack_id = s.stack_id AND v.i = t.i
        GROUP BY s.stack_id),
    tree AS (
        SELECT n.stack_id, n.parent_id, n.function_id FROM cprof.stacks n WHERE n.stack_id IN (SELECT l.stack_id FROM leaves l)
        UNION
        SELECT n.stack_id, n.parent_id, n.function_id FROM cprof.stacks n JOIN tree ON n.stack_id = tree.parent_id)
    SELECT tree.stack_id, tree.parent_id, tree.function_id, f.name, l.self_values
    FROM tree JOIN cprof.functions f ON f.function_id = tree.function_id
    LEFT JOIN leaves l ON l.stack_id = tree.stack_id
    ORDER BY tree.stack_id
$$;

GRANT EXECUTE ON FUNCTION cprof.export_nodes(timestamptz, timestamptz, text, text[], text, text, text, text, jsonb)
    TO cprof_reader, cprof_writer;
