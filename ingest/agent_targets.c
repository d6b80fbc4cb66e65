/* agent_targets: parsing, loading and grouping cprof-agent's targets; see agent_targets.h. */
#include "agent_targets.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp_file.h"

#define MAX_TARGETS_FILE ((size_t)16 << 20)
#define LABEL_PREFIX "label."

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void fail(char *err, size_t errlen, const char *fmt, ...);

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void agent_target_free(agent_target *t)
{
	char **fields[] = {&t->service, &t->version, &t->env, &t->zone, &t->instance, &t->url, &t->spec, &t->identity,
			   &t->origin};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		free(*fields[i]);
	for (size_t i = 0; i < t->nlabels; i++) {
		free((void *)(uintptr_t)t->labels[i].key);
		free((void *)(uintptr_t)t->labels[i].value);
	}
	free(t->labels);
	memset(t, 0, sizeof *t);
}

void agent_targets_free(agent_target_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		agent_target_free(&list->items[i]);
	free(list->items);
	list->items = NULL;
	list->n = 0;
}

static char *copy_span(const char *s, size_t n)
{
	char *c = malloc(n + 1);
	if (c) {
		memcpy(c, s, n);
		c[n] = '\0';
	}
	return c;
}

static int label_order(const void *a, const void *b)
{
	return strcmp(((const cp_envelope_label *)a)->key, ((const cp_envelope_label *)b)->key);
}

/* The host[:port] of an http(s) url, into out; -1 when url has none. */
static int url_authority(const char *url, char *out, size_t len)
{
	const char *p = strstr(url, "://");
	if (!p)
		return -1;
	p += 3;
	size_t n = strcspn(p, "/?#");
	const char *at = memchr(p, '@', n); /* user:password@ stays out of the instance */
	if (at) {
		n -= (size_t)(at + 1 - p);
		p = at + 1;
	}
	if (n == 0 || n >= len)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* Builds the canonical line of t (its identity across reloads). */
static char *canonical(const agent_target *t)
{
	size_t n = 64 + strlen(t->service) + strlen(t->env) + strlen(t->version) + strlen(t->zone) +
		   strlen(t->instance) + strlen(t->url);
	for (size_t i = 0; i < t->nlabels; i++)
		n += 8 + strlen(t->labels[i].key) + strlen(t->labels[i].value);
	char *s = malloc(n);
	if (!s)
		return NULL;
	size_t at = (size_t)snprintf(s, n, "service=%s env=%s version=%s zone=%s instance=%s url=%s", t->service,
				     t->env, t->version, t->zone, t->instance, t->url);
	for (size_t i = 0; i < t->nlabels; i++)
		at += (size_t)snprintf(s + at, n - at, " " LABEL_PREFIX "%s=%s", t->labels[i].key, t->labels[i].value);
	return s;
}

int agent_target_parse(const char *line, const char *origin, agent_target *out, char *err, size_t errlen)
{
	static const char *const known =
		"service, url, env, version, zone, instance, " LABEL_PREFIX "NAME";
	agent_target t;
	memset(&t, 0, sizeof t);
	char **named[] = {&t.service, &t.url, &t.env, &t.version, &t.zone, &t.instance};
	static const char *const names[] = {"service", "url", "env", "version", "zone", "instance"};
	size_t words = 0;
	for (const char *p = line; *p;)
		if (*p == ' ' || *p == '\t') {
			p++;
		} else {
			words++;
			p += strcspn(p, " \t");
		}
	t.labels = calloc(words + 1, sizeof *t.labels);
	t.origin = strdup(origin);
	if (!t.labels || !t.origin)
		goto oom;

	for (const char *p = line; *p;) {
		if (*p == ' ' || *p == '\t') {
			p++;
			continue;
		}
		size_t n = strcspn(p, " \t");
		const char *eq = memchr(p, '=', n);
		if (!eq || eq == p) {
			fail(err, errlen, "%s: '%.*s': expected KEY=VALUE (keys: %s)", origin, (int)n, p, known);
			goto bad;
		}
		size_t klen = (size_t)(eq - p), vlen = n - klen - 1;
		char *value = copy_span(eq + 1, vlen);
		if (!value)
			goto oom;
		size_t prefix = strlen(LABEL_PREFIX);
		if (klen > prefix && strncmp(p, LABEL_PREFIX, prefix) == 0) {
			char *key = copy_span(p + prefix, klen - prefix);
			if (!key) {
				free(value);
				goto oom;
			}
			for (size_t i = 0; i < t.nlabels; i++)
				if (strcmp(t.labels[i].key, key) == 0) {
					fail(err, errlen, "%s: label '%s' given twice", origin, key);
					free(key);
					free(value);
					goto bad;
				}
			t.labels[t.nlabels].key = key;
			t.labels[t.nlabels].value = value;
			t.nlabels++;
		} else {
			size_t k = 0;
			while (k < sizeof names / sizeof names[0] && !(strlen(names[k]) == klen && memcmp(names[k], p, klen) == 0))
				k++;
			if (k == sizeof names / sizeof names[0]) {
				fail(err, errlen, "%s: unknown key '%.*s' (keys: %s)", origin, (int)klen, p, known);
				free(value);
				goto bad;
			}
			if (*named[k]) {
				fail(err, errlen, "%s: %s given twice", origin, names[k]);
				free(value);
				goto bad;
			}
			*named[k] = value;
		}
		p += n;
	}

	if (!t.service || !*t.service) {
		fail(err, errlen, "%s: service=NAME is required", origin);
		goto bad;
	}
	if (!t.url || (strncmp(t.url, "http://", 7) != 0 && strncmp(t.url, "https://", 8) != 0)) {
		fail(err, errlen, "%s: url=http://HOST:PORT (or https://) is required%s%s%s", origin, t.url ? ", not '" : "",
		     t.url ? t.url : "", t.url ? "'" : "");
		goto bad;
	}
	char authority[512];
	if (url_authority(t.url, authority, sizeof authority)) {
		fail(err, errlen, "%s: url '%s' has no host", origin, t.url);
		goto bad;
	}
	for (size_t n = strlen(t.url); n > 0 && t.url[n - 1] == '/'; n--)
		t.url[n - 1] = '\0';
	if (!t.instance && !(t.instance = strdup(authority)))
		goto oom;
	for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
		if (!*named[k] && !(*named[k] = strdup("")))
			goto oom;
	qsort(t.labels, t.nlabels, sizeof *t.labels, label_order);

	/* what would be refused in every envelope is refused now, once */
	cp_envelope probe;
	memset(&probe, 0, sizeof probe);
	probe.service = t.service;
	probe.version = t.version;
	probe.env = t.env;
	probe.zone = t.zone;
	probe.instance = t.instance;
	probe.labels = t.labels;
	probe.nlabels = t.nlabels;
	probe.payload = (const uint8_t *)"-";
	probe.payload_len = 1;
	char why[512];
	if (cp_envelope_validate(&probe, NULL, why, sizeof why)) {
		fail(err, errlen, "%s: %s", origin, why);
		goto bad;
	}
	if (!(t.spec = canonical(&t)))
		goto oom;
	size_t n = strlen(t.service) + strlen(t.env) + strlen(t.version) + strlen(t.instance) + strlen(t.url) + 5;
	if (!(t.identity = malloc(n)))
		goto oom;
	/* the fields cannot hold control characters (validated above), so \x1f separates them */
	snprintf(t.identity, n, "%s\x1f%s\x1f%s\x1f%s\x1f%s", t.service, t.env, t.version, t.instance, t.url);
	*out = t;
	return 0;
oom:
	fail(err, errlen, "%s: out of memory", origin);
bad:
	agent_target_free(&t);
	return -1;
}

static int add_target(agent_target_list *list, size_t *cap, const char *line, const char *origin, char *err,
		      size_t errlen)
{
	if (list->n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		agent_target *items = realloc(list->items, c * sizeof *items);
		if (!items) {
			fail(err, errlen, "%s: out of memory", origin);
			return -1;
		}
		list->items = items;
		*cap = c;
	}
	if (agent_target_parse(line, origin, &list->items[list->n], err, errlen))
		return -1;
	list->n++;
	return 0;
}

static int read_file(const char *path, agent_target_list *list, size_t *cap, char *err, size_t errlen)
{
	uint8_t *data;
	size_t len;
	if (cp_file_read(path, MAX_TARGETS_FILE, &data, &len, err, errlen))
		return -1;
	char *text = (char *)data, origin[600];
	int status = 0;
	size_t lineno = 0;
	for (size_t at = 0; at < len && status == 0;) {
		char *nl = memchr(text + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
		lineno++;
		snprintf(origin, sizeof origin, "%s:%zu", path, lineno);
		char *line = copy_span(text + at, n);
		if (!line) {
			fail(err, errlen, "%s: out of memory", origin);
			status = -1;
			break;
		}
		if (n > 0 && line[n - 1] == '\r')
			line[n - 1] = '\0';
		if (memchr(text + at, '\0', n)) {
			fail(err, errlen, "%s: a NUL byte (is this a text file?)", origin);
			status = -1;
		} else {
			const char *p = line + strspn(line, " \t");
			if (*p && *p != '#')
				status = add_target(list, cap, p, origin, err, errlen);
		}
		free(line);
		at += n + 1;
	}
	free(data);
	return status;
}

/* Sorting targets by deployment, then instance, then url: the replicas of a deployment are a
 * run, in the order that numbers them. */
static int deployment_order(const void *a, const void *b)
{
	const agent_target *x = *(agent_target *const *)a, *y = *(agent_target *const *)b;
	int c;
	if ((c = strcmp(x->service, y->service)) || (c = strcmp(x->env, y->env)) || (c = strcmp(x->version, y->version)))
		return c;
	if ((c = strcmp(x->instance, y->instance)))
		return c;
	return strcmp(x->url, y->url);
}

static int same_deployment(const agent_target *x, const agent_target *y)
{
	return strcmp(x->service, y->service) == 0 && strcmp(x->env, y->env) == 0 && strcmp(x->version, y->version) == 0;
}

int agent_targets_load(const char *path, const char *const *specs, size_t nspecs, agent_target_list *out,
		       char *err, size_t errlen)
{
	agent_target_list list = {NULL, 0};
	size_t cap = 0;
	if (path && read_file(path, &list, &cap, err, errlen))
		goto bad;
	for (size_t i = 0; i < nspecs; i++)
		if (add_target(&list, &cap, specs[i], "--target", err, errlen))
			goto bad;
	if (list.n == 0) {
		fail(err, errlen, "no targets%s%s", path ? " in " : " (give --targets FILE or --target SPEC)",
		     path ? path : "");
		goto bad;
	}
	agent_target **order = malloc(list.n * sizeof *order);
	if (!order) {
		fail(err, errlen, "out of memory");
		goto bad;
	}
	for (size_t i = 0; i < list.n; i++)
		order[i] = &list.items[i];
	qsort(order, list.n, sizeof *order, deployment_order);
	for (size_t i = 1; i < list.n; i++)
		if (strcmp(order[i]->service, order[i - 1]->service) == 0 &&
		    strcmp(order[i]->instance, order[i - 1]->instance) == 0 && same_deployment(order[i], order[i - 1])) {
			fail(err, errlen, "%s: target %s/%s is also at %s (give each replica its own instance=)",
			     order[i]->origin, order[i]->service, order[i]->instance, order[i - 1]->origin);
			free(order);
			goto bad;
		}
	for (size_t start = 0; start < list.n;) {
		size_t end = start + 1;
		while (end < list.n && same_deployment(order[end], order[start]))
			end++;
		for (size_t i = start; i < end; i++) {
			order[i]->replicas = end - start;
			order[i]->replica = i - start;
		}
		start = end;
	}
	free(order);
	*out = list;
	return 0;
bad:
	agent_targets_free(&list);
	return -1;
}
