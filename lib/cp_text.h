/* cp_text: writing names safely into machine formats. Function names from profiles may hold
 * any bytes (tabs in kernel symbols, backslashes and quotes in Go generic shapes, invalid
 * UTF-8), so every output format escapes them:
 * - TSV, as in PostgreSQL COPY text and cprof's oracle files: '\\' -> "\\\\", TAB -> "\\t",
 *   LF -> "\\n", CR -> "\\r"; every other byte verbatim.
 * - JSON strings: RFC 8259 escapes; bytes that are not valid UTF-8 become U+FFFD.
 * - CSV fields (RFC 4180): quoted when they hold a comma, quote, CR or LF.
 *
 * Ownership: the functions write to a caller's FILE and keep nothing. */
#ifndef CP_TEXT_H
#define CP_TEXT_H

#include <stddef.h>
#include <stdio.h>

void cp_text_tsv(FILE *out, const char *s, size_t len);
/* Length (1 to 4) of the valid UTF-8 sequence at s, or 0 when the bytes there are not one
 * (overlong forms, surrogates and code points past U+10FFFF are not valid). len > 0. */
size_t cp_text_utf8_length(const unsigned char *s, size_t len);
void cp_text_json(FILE *out, const char *s, size_t len); /* with the surrounding quotes */
/* A PostgreSQL COPY text field: the TSV escapes, and what a UTF8 database cannot store (NUL,
 * bytes that are not UTF-8) written as U+FFFD. */
void cp_text_copy(FILE *out, const char *s, size_t len);
/* The same replacement without escaping: a malloc'd, NUL-terminated copy of s in which NUL
 * and bytes that are not UTF-8 are U+FFFD (the caller frees it); NULL when out of memory. */
char *cp_text_utf8_sanitize(const char *s, size_t len, size_t *out_len);
/* 1 when s is valid UTF-8 without NUL, so cp_text_utf8_sanitize would return it unchanged. */
int cp_text_utf8_clean(const char *s, size_t len);
void cp_text_csv(FILE *out, const char *s, size_t len);

#endif
