/* cp_prune: drop_frames/keep_frames with PCRE2; see cp_prune.h. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "cp_prune.h"

#include <pcre2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cp_text.h"

enum { DFA_WORKSPACE_FIRST = 4096, DFA_WORKSPACE_MAX = 1 << 22 /* ints: 16 MiB */ };

struct cp_prune {
	pcre2_code *drop, *keep;
	pcre2_match_data *match;
	int *workspace; /* the DFA matcher's state sets; grows when a pattern needs more */
	size_t workspace_size;
};

/* RE2 refuses backreferences, lookaround, atomic groups, recursion, conditionals and
 * backtracking verbs; pprof then prunes nothing, and so does cprof. PCRE2 reports
 * backreferences itself; the rest are spotted as unescaped "(?=", "(?!", "(?<=", "(?<!",
 * "(?>", "(?R", "(?(", "(?&", "(?P>", "(?1".."(?9", "(?+", "(?-1" and "(*". */
static int beyond_re2(const char *p, size_t len)
{
	static const char *const openers[] = {"(?=", "(?!", "(?<=", "(?<!", "(?>", "(?R", "(?(", "(?&",
					      "(?P>", "(?+", "(?-1", "(?-2", "(?-3", "(?-4", "(?-5",
					      "(?-6", "(?-7", "(?-8", "(?-9", "(*"};
	int in_class = 0; /* inside [...], where '(' is a literal */
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\\') {
			i++; /* the escaped character is a literal */
			continue;
		}
		if (in_class) {
			in_class = p[i] != ']';
			continue;
		}
		if (p[i] == '[') {
			in_class = 1;
			if (i + 1 < len && p[i + 1] == '^')
				i++;
			if (i + 1 < len && p[i + 1] == ']')
				i++; /* a leading ']' is a literal */
			continue;
		}
		if (p[i] != '(')
			continue;
		if (len - i >= 3 && p[i + 1] == '?' && p[i + 2] >= '0' && p[i + 2] <= '9')
			return 1;
		for (size_t k = 0; k < sizeof openers / sizeof openers[0]; k++) {
			size_t n = strlen(openers[k]);
			if (len - i >= n && memcmp(p + i, openers[k], n) == 0)
				return 1;
		}
	}
	return 0;
}

static pcre2_code *compile(const char *pattern, size_t len)
{
	size_t n = len + 5;
	char *full = malloc(n);
	if (!full)
		return NULL;
	memcpy(full, "^(", 2);
	memcpy(full + 2, pattern, len);
	memcpy(full + 2 + len, ")$", 3);
	int error;
	PCRE2_SIZE offset;
	pcre2_code *code = NULL;
	if (!beyond_re2(pattern, len))
		code = pcre2_compile((PCRE2_SPTR)full, len + 4, PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_NO_AUTO_CAPTURE,
				     &error, &offset, NULL);
	free(full);
	uint32_t backrefs = 0;
	if (code && (pcre2_pattern_info(code, PCRE2_INFO_BACKREFMAX, &backrefs) != 0 || backrefs > 0)) {
		pcre2_code_free(code);
		code = NULL;
	}
	return code;
}

cp_prune *cp_prune_new(const char *drop, size_t drop_len, const char *keep, size_t keep_len,
		       int *compile_error)
{
	if (compile_error)
		*compile_error = 0;
	if (drop_len == 0)
		return NULL;
	cp_prune *prune = calloc(1, sizeof *prune);
	if (!prune)
		return NULL;
	prune->drop = compile(drop, drop_len);
	if (keep_len)
		prune->keep = compile(keep, keep_len);
	if (!prune->drop || (keep_len && !prune->keep)) {
		if (compile_error)
			*compile_error = 1;
		cp_prune_free(prune);
		return NULL;
	}
	prune->match = pcre2_match_data_create(1, NULL);
	prune->workspace_size = DFA_WORKSPACE_FIRST;
	prune->workspace = malloc(prune->workspace_size * sizeof *prune->workspace);
	if (!prune->match || !prune->workspace) {
		cp_prune_free(prune);
		return NULL;
	}
	return prune;
}

void cp_prune_free(cp_prune *prune)
{
	if (!prune)
		return;
	pcre2_code_free(prune->drop);
	pcre2_code_free(prune->keep);
	pcre2_match_data_free(prune->match);
	free(prune->workspace);
	free(prune);
}

/* pprof's simplifyFunc: the [start, start + length) of name that the rules are matched on. */
static size_t simplified(const char *s, size_t len, size_t *start)
{
	static const char anon[] = "(anonymous namespace)", op[] = "operator()";
	size_t i = len > 0 && s[0] == '.' ? 1 : 0;
	*start = i;
	while (i < len) {
		if (len - i >= sizeof anon - 1 && memcmp(s + i, anon, sizeof anon - 1) == 0)
			i += sizeof anon - 1;
		else if (len - i >= sizeof op - 1 && memcmp(s + i, op, sizeof op - 1) == 0)
			i += sizeof op - 1;
		else if (s[i] == '(')
			return i - *start;
		else
			i++;
	}
	return len - *start;
}

/* The DFA matcher never backtracks: for a given pattern its time grows linearly with the name,
 * as RE2's does. Patterns with many simultaneous states (nested counted repeats) need a larger
 * workspace, which grows up to 16 MiB; past that (no pattern a profiler writes comes near) the
 * name counts as not matching. Returns 1, 0, or -1 when out of memory. */
static int matches(cp_prune *prune, const pcre2_code *code, const char *s, size_t len)
{
	for (;;) {
		int rc = pcre2_dfa_match(code, (PCRE2_SPTR)s, len, 0, 0, prune->match, NULL, prune->workspace,
					 prune->workspace_size);
		if (rc != PCRE2_ERROR_DFA_WSSIZE)
			return rc >= 0;
		if (prune->workspace_size >= DFA_WORKSPACE_MAX)
			return 0;
		int *grown = realloc(prune->workspace, prune->workspace_size * 2 * sizeof *grown);
		if (!grown)
			return -1;
		prune->workspace = grown;
		prune->workspace_size *= 2;
	}
}

int cp_prune_drops(cp_prune *prune, const char *name, size_t len)
{
	size_t start, n = simplified(name, len, &start);
	const char *s = name + start;

	/* Bytes that are not UTF-8 become U+FFFD (3 bytes each), as Go decodes them. */
	char *valid = NULL;
	size_t i = 0;
	while (i < n) {
		size_t seq = cp_text_utf8_length((const unsigned char *)s + i, n - i);
		if (!seq)
			break;
		i += seq;
	}
	if (i < n) {
		valid = malloc(n * 3);
		if (!valid)
			return -1;
		size_t out = 0;
		for (i = 0; i < n;) {
			size_t seq = cp_text_utf8_length((const unsigned char *)s + i, n - i);
			if (seq) {
				memcpy(valid + out, s + i, seq);
				out += seq;
				i += seq;
			} else {
				memcpy(valid + out, "\xef\xbf\xbd", 3);
				out += 3;
				i++;
			}
		}
		s = valid;
		n = out;
	}
	int drop = matches(prune, prune->drop, s, n);
	if (drop == 1 && prune->keep) {
		int keep = matches(prune, prune->keep, s, n);
		drop = keep < 0 ? -1 : !keep;
	}
	free(valid);
	return drop;
}
