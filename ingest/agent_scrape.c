/* agent_scrape: one HTTP request of cprof-agent and the verdict on its body; see agent_scrape.h. */
#include "agent_scrape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_BODY_CHARS 120 /* of an error page, quoted in the reason */

static size_t on_body(char *data, size_t size, size_t nmemb, void *opaque)
{
	agent_scrape *s = opaque;
	size_t n = size * nmemb;
	if (s->over_cap || n == 0)
		return 0;
	if (n > s->max_body - s->len) {
		s->over_cap = 1;
		return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
	}
	if (s->len + n > s->alloc) {
		size_t want = s->alloc ? s->alloc : 64 << 10;
		while (want < s->len + n)
			want *= 2;
		uint8_t *body = realloc(s->body, want);
		if (!body)
			return 0;
		s->body = body;
		s->alloc = want;
	}
	memcpy(s->body + s->len, data, n);
	s->len += n;
	return n;
}

agent_scrape *agent_scrape_new(const char *base_url, const char *path, int64_t seconds, const agent_http_options *o,
			       char *err, size_t errlen)
{
	agent_scrape *s = calloc(1, sizeof *s);
	size_t n = strlen(base_url) + strlen(path) + 1;
	if (!s || !(s->url = malloc(n)) || !(s->easy = curl_easy_init())) {
		snprintf(err, errlen, "out of memory");
		agent_scrape_free(s);
		return NULL;
	}
	snprintf(s->url, n, "%s%s", base_url, path);
	s->seconds = seconds;
	s->max_body = o->max_body;
	CURL *e = s->easy;
	int64_t total_ms = seconds * 1000 + o->timeout_ms;
	CURLcode c = CURLE_OK;
#define SET(opt, value) \
	if (c == CURLE_OK) \
	c = curl_easy_setopt(e, opt, value)
	SET(CURLOPT_URL, s->url);
	SET(CURLOPT_PRIVATE, (void *)s);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, (void *)s);
	SET(CURLOPT_ERRORBUFFER, s->curl_error);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, (long)total_ms);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_body);
	SET(CURLOPT_USERAGENT, o->user_agent);
	if (o->headers)
		SET(CURLOPT_HTTPHEADER, o->headers);
	if (o->cacert)
		SET(CURLOPT_CAINFO, o->cacert);
	if (o->cert)
		SET(CURLOPT_SSLCERT, o->cert);
	if (o->key)
		SET(CURLOPT_SSLKEY, o->key);
	if (o->insecure) {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	}
#undef SET
	if (c != CURLE_OK) {
		snprintf(err, errlen, "%s: %s", s->url, curl_easy_strerror(c));
		agent_scrape_free(s);
		return NULL;
	}
	return s;
}

/* The start of an error page's text, for the reason: markup (<...>) left out, white space
 * collapsed, printable ASCII only, at most FIRST_BODY_CHARS characters. */
static void page_text(const uint8_t *body, size_t len, char *out, size_t outlen)
{
	size_t j = 0;
	int in_tag = 0, space = 0;
	for (size_t i = 0; i < len && j + 1 < outlen && j < FIRST_BODY_CHARS; i++) {
		uint8_t c = body[i];
		if (c == '<') {
			in_tag = 1;
			space = j > 0;
			continue;
		}
		if (in_tag) {
			in_tag = c != '>';
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			space = j > 0;
			continue;
		}
		if (space && j + 2 < outlen)
			out[j++] = ' ';
		space = 0;
		out[j++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[j] = '\0';
}

static void transfer_reason(const agent_scrape *s, CURLcode result, const agent_http_options *o, char *reason,
			    size_t len)
{
	const char *detail = s->curl_error[0] ? s->curl_error : curl_easy_strerror(result);
	switch (result) {
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		if (s->over_cap || result == CURLE_FILESIZE_EXCEEDED) {
			snprintf(reason, len, "the response is larger than --max-size %zu bytes", o->max_body);
			return;
		}
		snprintf(reason, len, "out of memory reading the response");
		return;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(reason, len, "timed out after %.3gs (%s)", (double)(s->seconds * 1000 + o->timeout_ms) / 1000,
			 detail);
		return;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(reason, len, "cannot connect: %s", detail);
		return;
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
		snprintf(reason, len, "the response was cut short: %s", detail);
		return;
	default:
		snprintf(reason, len, "%s", detail);
	}
}

int agent_scrape_verdict(agent_scrape *s, CURLcode result, const agent_http_options *o, cp_pprof **profile,
			 char *reason, size_t len)
{
	*profile = NULL;
	if (result != CURLE_OK || s->over_cap) {
		transfer_reason(s, result, o, reason, len);
		return -1;
	}
	long status = 0;
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		char text[FIRST_BODY_CHARS + 1];
		page_text(s->body, s->len, text, sizeof text);
		char *location = NULL;
		if (status >= 300 && status < 400 && curl_easy_getinfo(s->easy, CURLINFO_REDIRECT_URL, &location) == CURLE_OK &&
		    location)
			snprintf(reason, len, "HTTP %ld, a redirect to %s (not followed)", status, location);
		else
			snprintf(reason, len, "HTTP %ld%s%s", status, text[0] ? ": " : "", text);
		return -1;
	}
	if (s->len == 0) {
		snprintf(reason, len, "an empty response (HTTP 200 without a body)");
		return -1;
	}
	cp_pprof_limits limits = {o->max_decompressed};
	char why[512];
	cp_pprof *p = NULL;
	if (cp_pprof_decode(s->body, s->len, &limits, &p, why, sizeof why) == 0 && p->nsample_types == 0) {
		snprintf(why, sizeof why, "it has no sample types");
		cp_pprof_free(p);
		p = NULL;
	}
	if (!p) {
		char *type = NULL;
		curl_easy_getinfo(s->easy, CURLINFO_CONTENT_TYPE, &type);
		snprintf(reason, len, "not a pprof profile (%zu bytes, Content-Type %s): %s", s->len,
			 type ? type : "not given", why);
		return -1;
	}
	*profile = p;
	return 0;
}

uint8_t *agent_scrape_take_body(agent_scrape *s, size_t *len)
{
	uint8_t *body = s->body;
	*len = s->len;
	s->body = NULL;
	s->len = s->alloc = 0;
	return body;
}

void agent_scrape_free(agent_scrape *s)
{
	if (!s)
		return;
	if (s->easy)
		curl_easy_cleanup(s->easy);
	free(s->url);
	free(s->body);
	free(s);
}
