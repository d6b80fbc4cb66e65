/* flame_svg: a flame graph as a self-contained SVG; see flame_svg.h. */
#include "flame_svg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cp_text.h"
#include "cp_units.h"

#define WIDTH 1200.0
#define PAD 10.0
#define FRAME_H 16
#define TOP 34        /* room for the title */
#define CHAR_W 7.0    /* of the 12px monospace font, for cutting labels */
#define MIN_WIDTH 0.1 /* px: narrower boxes are left out */

/* Up to max bytes of s, escaped for XML; bytes of a string that is not valid UTF-8 beyond ASCII
 * print as '?', so the document always parses. */
static void put_xml(FILE *out, const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	int clean = cp_text_utf8_clean(s, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80 && !clean)
			c = '?';
		switch (c) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&apos;", out); break;
		default: fputc(c < 0x20 || c == 0x7f ? '?' : c, out);
		}
	}
}

/* The package of a function name: up to the last '/' of the part before any '(' and then to
 * the next '.'; or the part before the first "::" or '.'. */
static size_t package_length(const char *name)
{
	size_t paren = strcspn(name, "(");
	size_t slash = 0;
	for (size_t i = 0; i < paren; i++)
		if (name[i] == '/')
			slash = i + 1;
	const char *colons = strstr(name + slash, "::");
	size_t dot = slash + strcspn(name + slash, ".");
	if (colons && (size_t)(colons - name) < dot)
		dot = (size_t)(colons - name);
	return dot < paren ? dot : paren;
}

/* A warm colour from the package name (FNV-1a), as flamegraph.pl's palette: red to yellow. */
static void package_colour(const char *name, int *r, int *g, int *b)
{
	uint32_t h = 2166136261u;
	size_t n = package_length(name);
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)name[i]) * 16777619u;
	*r = 205 + (int)(h % 51);
	*g = (int)((h >> 8) % 231);
	*b = (int)((h >> 16) % 56);
}

void cp_flame_print_svg(FILE *out, const cp_flame *f, const char *title, const char *unit)
{
	int depth = 0;
	for (size_t i = 0; i < f->n; i++)
		depth = f->nodes[i].level > depth ? f->nodes[i].level : depth;
	int height = TOP + (depth + 1) * FRAME_H + 2 * (int)PAD;
	int64_t total = f->n ? f->nodes[0].value : 0;
	double scale = total > 0 ? (WIDTH - 2 * PAD) / (double)total : 0;
	fprintf(out,
		"<?xml version=\"1.0\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" width=\"%.0f\" height=\"%d\" viewBox=\"0 0 %.0f %d\" "
		"xmlns=\"http://www.w3.org/2000/svg\">\n"
		"<style>text { font-family: monospace; font-size: 12px; fill: #000; pointer-events: none; }\n"
		"g.f:hover rect { stroke: #000; stroke-width: 0.5; }</style>\n"
		"<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"#f8f8f0\"/>\n"
		"<text x=\"%.0f\" y=\"22\" style=\"font-size: 15px\" text-anchor=\"middle\">",
		WIDTH, height, WIDTH, height, WIDTH / 2);
	put_xml(out, title, 200);
	fputs("</text>\n", out);

	/* x of the next child at each level: a node starts where its parent's free space starts */
	double *next_x = calloc((size_t)depth + 2, sizeof *next_x);
	if (!next_x)
		return;
	next_x[0] = PAD;
	char value_text[64], label[48];
	for (size_t i = 0; i < f->n; i++) {
		const cp_flame_node *node = &f->nodes[i];
		double x = next_x[node->level], w = (double)node->value * scale;
		next_x[node->level] = x + w;
		next_x[node->level + 1] = x;
		if (w < MIN_WIDTH || node->value <= 0)
			continue;
		int y = height - (int)PAD - (node->level + 1) * FRAME_H;
		int r, g, b;
		package_colour(node->label, &r, &g, &b);
		if (node->level == 0)
			r = 230, g = 230, b = 230;
		cp_units_label(node->value, unit && *unit ? unit : "count", "minimum", value_text, sizeof value_text);
		fputs("<g class=\"f\"><title>", out);
		put_xml(out, node->label, 4096);
		fprintf(out, " (%s, %.2f%%)</title><rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" rx=\"2\" "
			     "fill=\"rgb(%d,%d,%d)\"/>",
			value_text, total > 0 ? 100.0 * (double)node->value / (double)total : 0.0, x, y, w, FRAME_H - 1, r,
			g, b);
		size_t fits = w > 3 * CHAR_W ? (size_t)((w - 6) / CHAR_W) : 0;
		if (fits >= 3) {
			size_t len = strlen(node->label);
			fprintf(out, "<text x=\"%.2f\" y=\"%d\">", x + 3, y + FRAME_H - 4);
			if (len <= fits) {
				put_xml(out, node->label, len);
			} else { /* cut at a character boundary, then ".." */
				size_t cut = fits - 2 < sizeof label - 3 ? fits - 2 : sizeof label - 3;
				while (cut > 0 && ((unsigned char)node->label[cut] & 0xC0) == 0x80)
					cut--;
				memcpy(label, node->label, cut);
				memcpy(label + cut, "..", 3);
				put_xml(out, label, sizeof label);
			}
			fputs("</text>", out);
		}
		fputs("</g>\n", out);
	}
	free(next_x);
	fputs("</svg>\n", out);
}
