/* agent_targets: the targets cprof-agent scrapes. A target is one line of words KEY=VALUE:
 *
 *   service=checkout url=http://10.0.0.7:6060 env=production version=1.4.2 zone=eu-west-1a
 *   instance=checkout-7 label.team=payments
 *
 * service and url are required; url is the base the /debug/pprof/... paths are appended to (a
 * path prefix is kept: url=http://h:8080/admin scrapes http://h:8080/admin/debug/pprof/heap);
 * instance defaults to the url's host:port. Values cannot hold spaces. A targets file holds one
 * target per line; blank lines and lines starting with '#' are skipped.
 *
 * Targets are grouped into deployments (service, env, version): the replicas of one deployment
 * share its profiling budget, so each target knows how many replicas its deployment has and its
 * own place among them (ordered by instance, then url).
 *
 * Ownership: a parsed target owns all its strings (never NULL; "" when absent), released by
 * agent_target_free; a list owns its targets. */
#ifndef CP_AGENT_TARGETS_H
#define CP_AGENT_TARGETS_H

#include <stddef.h>

#include "cp_envelope.h"

typedef struct {
	char *service, *version, *env, *zone, *instance;
	char *url;                 /* without a trailing '/' */
	cp_envelope_label *labels; /* keys and values owned */
	size_t nlabels;
	char *spec;     /* the canonical form (fields in a fixed order, labels sorted) */
	char *identity; /* service, env, version, instance and url: what a reload matches on (a
			   target whose zone or labels change is the same target) */
	char *origin; /* where it was given: "FILE:LINE" or "--target" */
	size_t replicas, replica; /* its deployment's size and its place in it (0-based) */
} agent_target;

typedef struct {
	agent_target *items;
	size_t n;
} agent_target_list;

/* Parses one target line. origin is kept for messages. Returns 0, or -1 with the reason in err
 * ("ORIGIN: ..."), nothing left to free. */
int agent_target_parse(const char *line, const char *origin, agent_target *out, char *err, size_t errlen);

/* Reads the targets of path (may be NULL) and then of the nspecs --target lines, refuses two
 * targets of one deployment with the same instance, and numbers the replicas of each deployment.
 * Returns 0, or -1 with the reason in err and *out empty. */
int agent_targets_load(const char *path, const char *const *specs, size_t nspecs, agent_target_list *out,
		       char *err, size_t errlen);

void agent_target_free(agent_target *t);
void agent_targets_free(agent_target_list *list);

#endif
