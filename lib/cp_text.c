/* cp_text: TSV, JSON and CSV escaping of arbitrary bytes; see cp_text.h. */
#include "cp_text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void cp_text_tsv(FILE *out, const char *s, size_t len)
{
	size_t run = 0; /* bytes copied verbatim are written in runs */
	for (size_t i = 0; i < len; i++) {
		const char *esc = NULL;
		switch (s[i]) {
		case '\\':
			esc = "\\\\";
			break;
		case '\t':
			esc = "\\t";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		default:
			continue;
		}
		fwrite(s + run, 1, i - run, out);
		fputs(esc, out);
		run = i + 1;
	}
	fwrite(s + run, 1, len - run, out);
}

size_t cp_text_utf8_length(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

void cp_text_json(FILE *out, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	fputc('"', out);
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			fputc('\\', out);
			fputc(c, out);
			i++;
		} else if (c < 0x20) {
			static const char short_esc[] = "btnvfr"; /* \b \t \n (skip \v) \f \r */
			if (c >= 8 && c <= 13 && c != 11)
				fprintf(out, "\\%c", short_esc[c - 8]);
			else
				fprintf(out, "\\u%04x", c);
			i++;
		} else {
			size_t n = cp_text_utf8_length(s + i, len - i);
			if (n == 0) {
				fputs("\xef\xbf\xbd", out); /* U+FFFD for a byte that is not UTF-8 */
				i++;
			} else {
				fwrite(s + i, 1, n, out);
				i += n;
			}
		}
	}
	fputc('"', out);
}

void cp_text_csv(FILE *out, const char *s, size_t len)
{
	int quote = 0;
	for (size_t i = 0; i < len && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
	if (!quote) {
		fwrite(s, 1, len, out);
		return;
	}
	fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			fputc('"', out);
		fputc(s[i], out);
	}
	fputc('"', out);
}

void cp_text_copy(FILE *out, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	for (size_t i = 0; i < len;) {
		size_t n = s[i] ? cp_text_utf8_length(s + i, len - i) : 0;
		if (n == 0) {
			fputs("\xef\xbf\xbd", out);
			i++;
		} else if (n == 1) {
			cp_text_tsv(out, (const char *)s + i, 1);
			i++;
		} else {
			fwrite(s + i, 1, n, out);
			i += n;
		}
	}
}

int cp_text_utf8_clean(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	for (size_t i = 0; i < len;) {
		if (s[i] && s[i] < 0x80) {
			i++;
			continue;
		}
		size_t n = s[i] ? cp_text_utf8_length(s + i, len - i) : 0;
		if (n == 0)
			return 0;
		i += n;
	}
	return 1;
}

char *cp_text_utf8_sanitize(const char *str, size_t len, size_t *out_len)
{
	const unsigned char *s = (const unsigned char *)str;
	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	char *out = malloc(len * 3 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		size_t n = s[i] ? cp_text_utf8_length(s + i, len - i) : 0;
		if (n == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		}
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}
