/* agent_scrape: one HTTP request of cprof-agent through libcurl, for its multi interface. It sets
 * up the easy handle (connect and total timeouts, http and https only, no redirects, TLS
 * options, extra headers, a cap on the body), collects the body, and gives the verdict on what
 * came back: a pprof profile that cprof's own decoder accepts (the bytes published are exactly
 * the bytes checked), or the reason it is not one, worded for an operator ("HTTP 404: 404 page
 * not found", "timed out after 20s", "not a pprof profile (Content-Type text/html): ...").
 *
 * Ownership: the options and their strings belong to the caller and must outlive the scrapes;
 * a scrape owns its easy handle, url and body (agent_scrape_free); agent_scrape_take_body hands
 * the body over. */
#ifndef CP_AGENT_SCRAPE_H
#define CP_AGENT_SCRAPE_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "cp_pprof.h"

typedef struct {
	int64_t connect_timeout_ms;
	int64_t timeout_ms;      /* beyond the request's own profiling seconds */
	size_t max_body;         /* bytes on the wire */
	size_t max_decompressed; /* the decoder's cap */
	const char *cacert, *cert, *key; /* NULL: libcurl's defaults */
	int insecure;                    /* do not verify the server's certificate */
	struct curl_slist *headers;      /* extra request headers, or NULL */
	const char *user_agent;
} agent_http_options;

typedef struct {
	CURL *easy;
	char *url;
	int64_t seconds; /* the profile's own length, in the timeout */
	uint8_t *body;
	size_t len, alloc, max_body;
	int over_cap;
	char curl_error[CURL_ERROR_SIZE];
	void *owner; /* the caller's */
	size_t kind; /* the caller's */
} agent_scrape;

/* A scrape of base_url + path, ready for curl_multi_add_handle (its CURLOPT_PRIVATE is the
 * scrape). Returns NULL with the reason in err. */
agent_scrape *agent_scrape_new(const char *base_url, const char *path, int64_t seconds, const agent_http_options *o,
			       char *err, size_t errlen);

/* The verdict once curl reports the transfer done with result: 0 with the decoded profile in
 * *profile (free with cp_pprof_free; the body stays in the scrape), or -1 with the reason. */
int agent_scrape_verdict(agent_scrape *s, CURLcode result, const agent_http_options *o, cp_pprof **profile,
			 char *reason, size_t len);

/* The body, now the caller's (malloc'd; *len its size); the scrape keeps none. */
uint8_t *agent_scrape_take_body(agent_scrape *s, size_t *len);

/* Frees the scrape and its easy handle (remove it from the multi handle first). NULL is fine. */
void agent_scrape_free(agent_scrape *s);

#endif
