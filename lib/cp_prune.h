/* cp_prune: a profile's drop_frames/keep_frames rules, compiled and matched as pprof does:
 * each pattern is anchored as "^(" pattern ")$" and applied to the function name simplified by
 * pprof's simplifyFunc (a leading '.' dropped, the argument list cut at the first '(' that does
 * not start "(anonymous namespace)" or "operator()").
 *
 * pprof compiles these with Go's RE2; cprof uses PCRE2 in UTF mode with the options that make
 * it agree with RE2 on what profilers write: '.' matches one UTF-8 character but not a newline,
 * '$' only at the very end, \d and (?:...) and literal braces as RE2 reads them; bytes that
 * are not UTF-8 are read as U+FFFD, as Go reads them. Matching uses PCRE2's DFA algorithm,
 * which never backtracks, so like RE2 it takes time linear in the name. As in pprof, a rule that
 * does not compile (including what RE2 refuses: backreferences, lookaround, atomic groups,
 * recursion) disables pruning for the profile.
 *
 * Ownership: cp_prune_new copies what it needs; the caller frees the result with
 * cp_prune_free. A cp_prune holds the matcher's scratch space: one per thread. */
#ifndef CP_PRUNE_H
#define CP_PRUNE_H

#include <stddef.h>

typedef struct cp_prune cp_prune;

/* Compiles the rules. Returns NULL when there is nothing to prune: an empty drop pattern, or a
 * pattern that does not compile (then *compile_error, when not NULL, is set to 1). */
cp_prune *cp_prune_new(const char *drop, size_t drop_len, const char *keep, size_t keep_len,
		       int *compile_error);
void cp_prune_free(cp_prune *prune);

/* True when frames of the function with this name are dropped: its simplified name matches
 * drop_frames and does not match keep_frames. Returns -1 when out of memory. */
int cp_prune_drops(cp_prune *prune, const char *name, size_t len);

#endif
