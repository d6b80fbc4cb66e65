/* test_agent: cprof-agent's pure parts. The profile kinds (defaults, paths, every error), the
 * schedule (the replica period of a budget, staggered first scrapes, jittered intervals whose
 * mean is exactly the period, the backoff's doubling and cap), and targets (every key, defaults,
 * canonical identity, every parse error, files with comments, replicas numbered per deployment,
 * duplicates refused). The rates the schedule promises are measured end to end in
 * tests/agent_faults.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_schedule.h"
#include "agent_targets.h"
#include "check.h"

#define S INT64_C(1000000000)

static void default_kinds(void)
{
	agent_kind k[AGENT_MAX_KINDS];
	char err[256] = "";
	int n = agent_kinds_parse(AGENT_DEFAULT_KINDS, k, err, sizeof err);
	CHECK(n == 6);
	if (n != 6)
		return;
	static const char *const names[] = {"cpu", "heap", "allocs", "mutex", "block", "goroutine"};
	static const int64_t seconds[] = {10, 0, 10, 10, 10, 0};
	for (int i = 0; i < 6; i++) {
		CHECK(strcmp(k[i].name, names[i]) == 0);
		CHECK(k[i].every_ns == 60 * S);
		CHECK(k[i].seconds == seconds[i]);
	}
	char path[128];
	agent_kind_path(&k[0], path, sizeof path);
	CHECK(strcmp(path, "/debug/pprof/profile?seconds=10") == 0);
	agent_kind_path(&k[1], path, sizeof path);
	CHECK(strcmp(path, "/debug/pprof/heap") == 0);
	agent_kind_path(&k[2], path, sizeof path);
	CHECK(strcmp(path, "/debug/pprof/allocs?seconds=10") == 0);
	agent_kind_path(&k[5], path, sizeof path);
	CHECK(strcmp(path, "/debug/pprof/goroutine") == 0);
}

static void kinds_off_and_custom(void)
{
	agent_kind k[AGENT_MAX_KINDS];
	char err[256] = "";
	int n = agent_kinds_parse("cpu:off,heap:90s,threadcreate:5m,wall.x:1.5s:3,fg:1m:2m", k, err, sizeof err);
	CHECK(n == 4);
	if (n != 4)
		return;
	CHECK(strcmp(k[0].name, "heap") == 0 && k[0].every_ns == 90 * S && k[0].seconds == 0);
	CHECK(strcmp(k[1].name, "threadcreate") == 0 && k[1].every_ns == 300 * S);
	CHECK(strcmp(k[2].name, "wall.x") == 0 && k[2].every_ns == 3 * S / 2 && k[2].seconds == 3);
	CHECK(strcmp(k[3].name, "fg") == 0 && k[3].seconds == 120);
}

static void kinds_errors(void)
{
	static const struct {
		const char *spec, *error;
	} cases[] = {
		{"cpu:60s", "a CPU profile needs its length"},
		{"heap", "expected KIND:EVERY[:SECONDS]"},
		{"heap:60s,", "expected KIND:EVERY[:SECONDS]"},
		{"heap:60s,heap:30s", "heap: given twice"},
		{"heap:often", "heap: period 'often'"},
		{"heap:10ms", "from 100ms to 7d"},
		{"heap:100000d", "from 100ms to 7d"},
		{"mutex:60s:0", "whole seconds from 1s"},
		{"mutex:60s:1.5", "whole seconds from 1s"},
		{"mutex:60s:99999", "whole seconds from 1s"},
		{"mutex:60s:1500ms", "whole seconds from 1s"},
		{"mutex:60s:2h", "whole seconds from 1s"},
		{"he/ap:60s", "letters, digits"},
		{":60s", "a kind is a name of 1 to"},
		{"heap:off,cpu:off", "every kind is off"},
		{"heap:off:5", "a kind that is off has no seconds"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		agent_kind k[AGENT_MAX_KINDS];
		char err[256] = "";
		CHECK(agent_kinds_parse(cases[i].spec, k, err, sizeof err) == -1);
		CHECK_CONTAINS(err, cases[i].error);
	}
}

static void replica_period(void)
{
	CHECK(agent_replica_period(60 * S, 1, 1) == 60 * S);
	CHECK(agent_replica_period(60 * S, 4, 1) == 240 * S);
	CHECK(agent_replica_period(60 * S, 4, 2) == 120 * S);
	CHECK(agent_replica_period(60 * S, 3, 5) == 60 * S); /* never more often than the period */
	CHECK(agent_replica_period(60 * S, 5, 2) == 150 * S);
	/* a huge fleet on a week's period stays far from overflow, and so do the times after it */
	int64_t huge = agent_replica_period(7 * 86400 * S, 1000000000, 1);
	CHECK(huge > 0 && huge < INT64_MAX / 4);
	CHECK(agent_next_due(INT64_MAX - S, 0, huge, 0.1, 0.9) == INT64_MAX);
}

static void first_due_staggered(void)
{
	/* 4 replicas over a 40 s replica period: slots of 10 s, each delayed by at most jitter x slot */
	for (size_t r = 0; r < 4; r++) {
		int64_t lo = agent_first_due(1000, 40 * S, r, 4, 0.1, 0.0);
		int64_t hi = agent_first_due(1000, 40 * S, r, 4, 0.1, 0.999999);
		CHECK(lo == 1000 + (int64_t)r * 10 * S);
		CHECK(hi > lo && hi <= lo + S);
	}
}

static void next_due_mean_is_period(void)
{
	/* the jitter is symmetric: over uniform draws the mean interval is the period */
	int64_t due = 0, period = 60 * S;
	int n = 10000;
	int64_t min = INT64_MAX, max = 0;
	for (int i = 0; i < n; i++) {
		double u = (i + 0.5) / n;
		int64_t next = agent_next_due(due, 0, period, 0.1, u);
		int64_t step = next - due;
		min = step < min ? step : min;
		max = step > max ? step : max;
		due = next;
	}
	double mean = (double)due / n;
	CHECK(mean > 0.999 * (double)period && mean < 1.001 * (double)period);
	CHECK(min >= 54 * S && max <= 66 * S);
	/* a scrape that overran its period is followed at once, not in the past */
	CHECK(agent_next_due(0, 100 * S, 60 * S, 0.1, 0.5) == 100 * S);
}

static void backoff_doubles_to_cap(void)
{
	CHECK(agent_backoff(S, 60 * S, 1, 0, 0.3) == S);
	CHECK(agent_backoff(S, 60 * S, 2, 0, 0.3) == 2 * S);
	CHECK(agent_backoff(S, 60 * S, 6, 0, 0.3) == 32 * S);
	CHECK(agent_backoff(S, 60 * S, 7, 0, 0.3) == 60 * S);
	CHECK(agent_backoff(S, 60 * S, 4000000000u, 0, 0.3) == 60 * S);
	int64_t j = agent_backoff(S, 60 * S, 3, 0.1, 0.999999);
	CHECK(j > 4 * S && j <= 4 * S + 4 * S / 10);
	CHECK(agent_backoff(S, 60 * S, 9, 0.1, 0.999999) == 60 * S); /* the jitter stays under the cap */
}

static void target_fields(void)
{
	agent_target t;
	char err[512] = "";
	int r = agent_target_parse("  service=checkout\turl=http://10.0.0.7:6060/ env=production version=1.4.2 "
				   "zone=eu-west-1a label.team=payments label.az=b",
				   "t:1", &t, err, sizeof err);
	CHECK(r == 0);
	if (r)
		return;
	CHECK(strcmp(t.service, "checkout") == 0);
	CHECK(strcmp(t.url, "http://10.0.0.7:6060") == 0); /* trailing '/' dropped */
	CHECK(strcmp(t.instance, "10.0.0.7:6060") == 0);  /* defaulted */
	CHECK(strcmp(t.env, "production") == 0 && strcmp(t.version, "1.4.2") == 0 && strcmp(t.zone, "eu-west-1a") == 0);
	CHECK(t.nlabels == 2 && strcmp(t.labels[0].key, "az") == 0 && strcmp(t.labels[1].value, "payments") == 0);
	CHECK(strcmp(t.spec, "service=checkout env=production version=1.4.2 zone=eu-west-1a instance=10.0.0.7:6060 "
			     "url=http://10.0.0.7:6060 label.az=b label.team=payments") == 0);
	/* the identity a reload matches on leaves out the zone and the labels */
	CHECK(strcmp(t.identity, "checkout\x1fproduction\x1f" "1.4.2\x1f" "10.0.0.7:6060\x1fhttp://10.0.0.7:6060") == 0);
	agent_target_free(&t);

	r = agent_target_parse("url=https://user:pw@host.example/admin service=s", "t:2", &t, err, sizeof err);
	CHECK(r == 0);
	if (r == 0) {
		CHECK(strcmp(t.instance, "host.example") == 0);
		CHECK(strcmp(t.url, "https://user:pw@host.example/admin") == 0);
		CHECK(strcmp(t.env, "") == 0 && t.nlabels == 0);
		agent_target_free(&t);
	}
}

static void target_errors(void)
{
	static const struct {
		const char *line, *error;
	} cases[] = {
		{"url=http://h:1", "t:9: service=NAME is required"},
		{"service=s", "url=http://HOST:PORT (or https://) is required"},
		{"service=s url=ftp://h", "is required, not 'ftp://h'"},
		{"service=s url=http:///x", "has no host"},
		{"service=s url=http://h:1 color=red", "unknown key 'color'"},
		{"service=s url=http://h:1 env=a env=b", "env given twice"},
		{"service=s url=http://h:1 label.a=1 label.a=2", "label 'a' given twice"},
		{"service=s url=http://h:1 production", "'production': expected KEY=VALUE"},
		{"service=s url=http://h:1 =x", "'=x': expected KEY=VALUE"},
		{"service=s url=http://h:1 label.=x", "unknown key 'label.'"},
		{"service=\x01 url=http://h:1", "t:9: "},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		agent_target t;
		char err[512] = "";
		CHECK(agent_target_parse(cases[i].line, "t:9", &t, err, sizeof err) == -1);
		CHECK_CONTAINS(err, cases[i].error);
	}
}

static const char *write_file(const char *text)
{
	static char path[] = "test_agent_targets.txt";
	FILE *f = fopen(path, "w");
	if (!f)
		return NULL;
	fputs(text, f);
	fclose(f);
	return path;
}

static void targets_file_and_replicas(void)
{
	const char *path = write_file("# the checkout fleet\n"
				      "\n"
				      "service=checkout env=production url=http://b:1 instance=c-2\r\n"
				      "   # indented comment\n"
				      "service=checkout env=production url=http://a:1 instance=c-1\n"
				      "service=checkout env=canary url=http://c:1 instance=c-9\n"
				      "service=checkout env=production url=http://d:1 instance=c-3");
	CHECK(path != NULL);
	const char *specs[] = {"service=other url=http://e:1"};
	agent_target_list l;
	char err[512] = "";
	int r = agent_targets_load(path, specs, 1, &l, err, sizeof err);
	CHECK(r == 0);
	if (r) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	CHECK(l.n == 5);
	for (size_t i = 0; i < l.n; i++) {
		agent_target *t = &l.items[i];
		if (strcmp(t->env, "production") == 0) {
			CHECK(t->replicas == 3);
			CHECK(t->replica == (size_t)(t->instance[2] - '1')); /* ordered by instance */
		} else {
			CHECK(t->replicas == 1 && t->replica == 0);
		}
	}
	CHECK(strcmp(l.items[0].origin, "test_agent_targets.txt:3") == 0);
	CHECK(strcmp(l.items[0].instance, "c-2") == 0); /* the \r is not part of it */
	CHECK(strcmp(l.items[4].origin, "--target") == 0);
	agent_targets_free(&l);

	path = write_file("service=a url=http://x:1 instance=i\nservice=a url=http://y:1 instance=i\n");
	CHECK(agent_targets_load(path, NULL, 0, &l, err, sizeof err) == -1);
	CHECK_CONTAINS(err, "target a/i is also at test_agent_targets.txt:1");
	path = write_file("# nothing\n\n");
	CHECK(agent_targets_load(path, NULL, 0, &l, err, sizeof err) == -1);
	CHECK_CONTAINS(err, "no targets in test_agent_targets.txt");
	path = write_file("service=a url=http://x:1\nservice=a url=gopher://y\n");
	CHECK(agent_targets_load(path, NULL, 0, &l, err, sizeof err) == -1);
	CHECK_CONTAINS(err, "test_agent_targets.txt:2: url=");
	CHECK(agent_targets_load("/nonexistent/targets", NULL, 0, &l, err, sizeof err) == -1);
	CHECK_CONTAINS(err, "/nonexistent/targets");
	remove("test_agent_targets.txt");
}

int main(void)
{
	RUN(default_kinds);
	RUN(kinds_off_and_custom);
	RUN(kinds_errors);
	RUN(replica_period);
	RUN(first_due_staggered);
	RUN(next_due_mean_is_period);
	RUN(backoff_doubles_to_cap);
	RUN(target_fields);
	RUN(target_errors);
	RUN(targets_file_and_replicas);
	return check_summary("test_agent");
}
