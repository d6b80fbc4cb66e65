/* flame_svg: a cp_flame drawn as a self-contained SVG flame graph that any browser opens: the
 * root at the bottom, each node a box as wide as its share of the root, children left to right
 * in frame order; hovering a box shows its name, value and share (an SVG <title>); the boxes of
 * one package (Go's "encoding/json" of "encoding/json.(*decodeState).object", the part before
 * the first '.' or '::' otherwise) share a colour. Boxes narrower than a tenth of a pixel are
 * left out, as flamegraph.pl does. No script, no external reference. */
#ifndef CP_QUERY_FLAME_SVG_H
#define CP_QUERY_FLAME_SVG_H

#include <stdio.h>

#include "flame.h"

/* title: the heading drawn on top; unit: the values' unit (nanoseconds, bytes, count), for
 * pprof's labels ("1.20s", "512kB"). */
void cp_flame_print_svg(FILE *out, const cp_flame *f, const char *title, const char *unit);

#endif
