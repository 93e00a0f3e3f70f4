/* otelprofd flamegraph --input FILE.jsonl|DIR [--filter KEY=VALUE ...] --output F.svg|F.html
 *                     [--layout icicle|flame]
 *
 * Merges every sample of the recorded requests (resources passing the filters) into one
 * call tree (all → process → root frame → … → leaf) and writes a self-contained,
 * interactive flame graph: hover shows a frame's details, click zooms into it, Search
 * (or Ctrl-F) highlights the frames matching a regular expression and totals them.
 * Frames are coloured by kind: kernel, native, go, interpreted. The layout is an icicle
 * by default (root on top, under the header, as Pyroscope and speedscope draw it: the
 * graph is in view however deep the stacks are); a button switches to the classic flame
 * graph (root at the bottom), and the page then scrolls to the root. The page also reads
 * its URL fragment (#s=REGEX&z=FRAME&l=flame), so a view can be shared as a link. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "collector/engine/folded.h"
#include "collector/exporters/prometheus/profview.h"
#include "collector/mem.h"
#include "otlp/profiles.h"
#include "recorded.h"
#include "subcommands.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE   2

#define WIDTH   1200
#define PAD     10
#define FRAME_H 16
#define TOP     78 /* header: title and buttons, subtitle and legend, hovered frame */
#define BOTTOM  30
#define CHAR_W  7.0
#define MIN_PX  0.1 /* frames narrower than this are left out of the picture */
/* Deeper stacks keep their root-most frames under a "[truncated]" frame: the drawing
 * (and its recursion) stays bounded whatever the input holds. */
#define MAX_DEPTH 1024

enum { K_ROOT = OPD_PV_KINDS, K_PROCESS };

struct fnode {
    const char *name; /* inside the node's index key */
    int kind;
    int32_t parent, first_child, next_sibling;
    uint64_t total, self;
};

struct flame {
    struct opd_keyidx ix; /* "parent\x1fkind\x1fname" → node */
    struct fnode *n;
    size_t nn, cap;
    const struct opd_filter *filters;
    size_t n_filters;
    bool all_cpu; /* every profile seen measured CPU time (values are ns) */
    uint64_t samples;
};

static long node_get(struct flame *fl, int32_t parent, int kind, const char *name)
{
    char stack_key[512], *key = stack_key;
    size_t kl = strlen(name) + 32;
    struct fnode *slot;
    bool added;
    long i;

    /* Lookups are per frame per sample: keep the common short key off the heap. */
    if (kl > sizeof(stack_key)) {
        key = opd_malloc(kl);
        if (!key)
            return -ENOMEM;
    }
    snprintf(key, kl, "%d\x1f%d\x1f%s", parent, kind, name);
    i = opd_keyidx_get(&fl->ix, key, &added);
    if (key != stack_key)
        opd_free(key);
    if (i < 0 || !added)
        return i;
    slot = OPD_VEC_PUSH_SLOT(fl->n, fl->nn, fl->cap);
    if (!slot)
        return -ENOMEM;
    /* The name is the part of the stored key after the second separator. */
    fl->n[i] = (struct fnode){.name = strchr(strchr(fl->ix.keys[i], '\x1f') + 1, '\x1f') + 1,
                              .kind = kind,
                              .parent = parent,
                              .first_child = -1,
                              .next_sibling = -1};
    return i;
}

static const char *process_name(const struct opd_resource *r)
{
    const char *p = opd_pv_resource_str(r, "process.executable.name");

    if (!p)
        p = opd_pv_resource_str(r, "service.name");
    return p ? p : "unknown";
}

static int add_sample(struct flame *fl, const struct opd_batch *b, const struct opd_resource *r,
                      const struct opd_sample *s, uint64_t v)
{
    const struct opd_dict *d = &b->dict;
    char name[512];
    long cur;

    fl->n[0].total += v;
    cur = node_get(fl, 0, K_PROCESS, process_name(r));
    if (cur < 0)
        return (int)cur;
    fl->n[cur].total += v;
    if (s->stack_index > 0 && (size_t)s->stack_index < d->n_stacks) {
        const struct opd_stack *st = &d->stacks[s->stack_index];
        size_t depth = 0;
        /* Stacks are leaf first; within a location the last line is the caller. */
        for (size_t i = st->n; i-- > 0 && depth < MAX_DEPTH;) {
            int32_t li = st->location_indices[i];
            const struct opd_location *l;
            int kind;

            if (li <= 0 || (size_t)li >= d->n_locations)
                continue;
            l = &d->locations[li];
            kind = (int)opd_pv_location_kind(d, l);
            for (size_t k = opd_pv_location_frames(l); k-- > 0;) {
                if (++depth >= MAX_DEPTH) {
                    cur = node_get(fl, (int32_t)cur, OPD_PV_UNKNOWN, "[truncated]");
                    if (cur < 0)
                        return (int)cur;
                    fl->n[cur].total += v;
                    break;
                }
                cur = node_get(fl, (int32_t)cur, kind,
                               opd_pv_frame_name(d, l, k, name, sizeof(name)));
                if (cur < 0)
                    return (int)cur;
                fl->n[cur].total += v;
            }
        }
    }
    fl->n[cur].self += v;
    return 0;
}

static int add_batch(const struct opd_batch *b, void *arg)
{
    struct flame *fl = arg;

    for (size_t ri = 0; ri < b->n_resources; ri++) {
        const struct opd_resource *r = &b->resources[ri];

        if (!opd_filter_match(fl->filters, fl->n_filters, r))
            continue;
        for (size_t si = 0; si < r->n_scopes; si++)
            for (size_t pi = 0; pi < r->scopes[si].n_profiles; pi++) {
                const struct opd_profile *p = &r->scopes[si].profiles[pi];
                uint64_t ns = 1;
                bool cpu = opd_pv_profile_cpu(b, p, &ns);

                if (!cpu) {
                    fl->all_cpu = false;
                    ns = 1;
                }
                for (size_t k = 0; k < p->n_samples; k++) {
                    uint64_t w = opd_sample_weight(&p->samples[k]);
                    int err;
                    if (w == 0)
                        continue;
                    fl->samples += w;
                    err = add_sample(fl, b, r, &p->samples[k], w * ns);
                    if (err)
                        return err;
                }
            }
    }
    return 0;
}

/* ---- rendering ----------------------------------------------------------------------- */

static void xml_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&#39;", out);
            break;
        default:
            /* Control characters are not allowed in XML 1.0. */
            fputc((unsigned char)*s < 0x20 ? ' ' : *s, out);
        }
    }
}

static const char *kind_label(int kind)
{
    if (kind == K_ROOT)
        return "all";
    if (kind == K_PROCESS)
        return "process";
    return opd_pv_kind_name((enum opd_pv_kind)kind);
}

static void colour(int kind, const char *name, char *buf, size_t cap)
{
    uint32_t h = 2166136261u;
    double v;

    for (const char *c = name; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    v = (double)(h % 1000) / 1000.0;
    switch (kind) {
    case OPD_PV_KERNEL: /* amber */
        snprintf(buf, cap, "rgb(%d,%d,%d)", 235 + (int)(20 * v), 185 + (int)(35 * v),
                 50 + (int)(40 * v));
        break;
    case OPD_PV_NATIVE: /* warm red */
        snprintf(buf, cap, "rgb(%d,%d,%d)", 210 + (int)(45 * v), 70 + (int)(60 * v),
                 55 + (int)(30 * v));
        break;
    case OPD_PV_GO: /* cyan-blue */
        snprintf(buf, cap, "rgb(%d,%d,%d)", 70 + (int)(40 * v), 170 + (int)(50 * v),
                 215 + (int)(40 * v));
        break;
    case OPD_PV_INTERPRETED: /* green */
        snprintf(buf, cap, "rgb(%d,%d,%d)", 90 + (int)(50 * v), 195 + (int)(50 * v),
                 90 + (int)(40 * v));
        break;
    case K_PROCESS:
        snprintf(buf, cap, "rgb(%d,%d,%d)", 175 + (int)(30 * v), 150 + (int)(30 * v), 215);
        break;
    case K_ROOT:
        snprintf(buf, cap, "rgb(210,210,210)");
        break;
    default:
        snprintf(buf, cap, "rgb(%d,%d,%d)", 170 + (int)(30 * v), 170 + (int)(30 * v),
                 170 + (int)(30 * v));
    }
}

static void value_text(const struct flame *fl, uint64_t v, char *buf, size_t cap)
{
    if (fl->all_cpu)
        snprintf(buf, cap, "%.3f CPU s", (double)v / 1e9);
    else
        snprintf(buf, cap, "%" PRIu64 " samples", v);
}

struct render {
    struct flame *fl;
    FILE *out;
    double scale; /* px per unit */
    int height;
    bool flame; /* root at the bottom; else an icicle, root on top */
    size_t frames;
};

/* Top of a frame at depth: the same formula as ypos() in the page's script. */
static double frame_y(const struct render *rd, int depth)
{
    return rd->flame ? rd->height - BOTTOM - (depth + 1) * FRAME_H : TOP + depth * FRAME_H;
}

/* Baseline of the line that shows the hovered frame: under the header for an icicle, under
 * the graph for a flame graph (where the mouse is). */
static double details_y(const struct render *rd)
{
    return rd->flame ? rd->height - 10 : TOP - 8;
}

static void render_node(struct render *rd, int32_t i, uint64_t x, int depth)
{
    const struct fnode *n = &rd->fl->n[i];
    double px = PAD + (double)x * rd->scale, pw = (double)n->total * rd->scale;
    double y = frame_y(rd, depth);
    size_t fit = pw > 6 ? (size_t)((pw - 6) / CHAR_W) : 0;
    char fill[48], val[48];
    uint64_t cx = x;

    if (pw < MIN_PX)
        return;
    colour(n->kind, n->name, fill, sizeof(fill));
    value_text(rd->fl, n->total, val, sizeof(val));
    fprintf(rd->out,
            "<g class=\"f\" data-id=\"%zu\" data-x=\"%" PRIu64 "\" data-w=\"%" PRIu64
            "\" data-d=\"%d\" data-k=\"%s\" data-n=\"",
            rd->frames++, x, n->total, depth, kind_label(n->kind));
    xml_text(rd->out, n->name);
    fputs("\"><title>", rd->out);
    xml_text(rd->out, n->name);
    fprintf(rd->out,
            " (%s): %s, %.2f%%</title><rect x=\"%.2f\" y=\"%.0f\" width=\"%.2f\" "
            "height=\"%d\" fill=\"%s\" rx=\"2\"/><text x=\"%.2f\" y=\"%.0f\">",
            kind_label(n->kind), val, 100.0 * (double)n->total / (double)rd->fl->n[0].total, px, y,
            pw, FRAME_H - 1, fill, px + 3, y + 11.5);
    if (fit >= 3) {
        size_t len = strlen(n->name);
        if (len <= fit) {
            xml_text(rd->out, n->name);
        } else {
            char *t = opd_strndup(n->name, fit - 2);
            if (t) {
                xml_text(rd->out, t);
                fputs("..", rd->out);
                opd_free(t);
            }
        }
    }
    fputs("</text></g>\n", rd->out);
    for (int32_t c = n->first_child; c >= 0; c = rd->fl->n[c].next_sibling) {
        render_node(rd, c, cx, depth + 1);
        cx += rd->fl->n[c].total;
    }
}

static int max_depth(const struct flame *fl, int32_t i)
{
    int d = 0;

    for (int32_t c = fl->n[i].first_child; c >= 0; c = fl->n[c].next_sibling) {
        int cd = max_depth(fl, c) + 1;
        if (cd > d)
            d = cd;
    }
    return d;
}

static const struct fnode *sort_base;

static int cmp_child(const void *a, const void *b)
{
    const struct fnode *x = &sort_base[*(const int32_t *)a], *y = &sort_base[*(const int32_t *)b];
    int c = strcmp(x->name, y->name);

    return c ? c : x->kind - y->kind;
}

/* Links every node's children in name order, as flame graphs are drawn. */
static int link_children(struct flame *fl)
{
    int32_t *order = opd_malloc(fl->nn * sizeof(*order));

    if (!order)
        return -ENOMEM;
    for (size_t i = 0; i < fl->nn; i++)
        order[i] = (int32_t)i;
    sort_base = fl->n;
    qsort(order + 1, fl->nn - 1, sizeof(*order), cmp_child);
    /* Walking in reverse name order and pushing at the head leaves each list sorted. */
    for (size_t k = fl->nn; k-- > 1;) {
        struct fnode *c = &fl->n[order[k]];
        c->next_sibling = fl->n[c->parent].first_child;
        fl->n[c->parent].first_child = order[k];
    }
    opd_free(order);
    return 0;
}

static const char script[] =
    "<script type=\"text/ecmascript\"><![CDATA[\n"
    "(function () {\n"
    "  var svg = document.getElementById('flame');\n"
    "  var W = +svg.getAttribute('width'), H = +svg.getAttribute('height'), PAD = 10;\n"
    "  var TOP = +svg.getAttribute('data-top'), BOTTOM = +svg.getAttribute('data-bottom'), "
    "FH = +svg.getAttribute('data-fh');\n"
    "  var flame = svg.getAttribute('data-layout') === 'flame';\n"
    "  var total = +svg.getAttribute('data-total'), cpu = svg.getAttribute('data-cpu') === '1';\n"
    "  var details = document.getElementById('details'), matched = "
    "document.getElementById('matched');\n"
    "  var frames = [], byId = {}, zoomed = null, term = '';\n"
    "  var swap = document.getElementById('swap');\n"
    "  function fmt(v) { return cpu ? (v / 1e9).toFixed(3) + ' CPU s' : v + ' samples'; }\n"
    "  function pct(v) { return (100 * v / total).toFixed(2) + '%'; }\n"
    "  function fit(f, w) {\n"
    "    var n = Math.floor((w - 6) / 7), t = f.name;\n"
    "    f.text.textContent = n < 3 ? '' : (t.length <= n ? t : t.substring(0, n - 2) + '..');\n"
    "  }\n"
    "  function layout() {\n"
    "    var zx = zoomed ? zoomed.x : 0, zw = zoomed ? zoomed.w : total, zd = zoomed ? "
    "zoomed.d : 0;\n"
    "    var scale = (W - 2 * PAD) / zw;\n"
    "    frames.forEach(function (f) {\n"
    "      var x, w;\n"
    "      if (f.x + f.w <= zx || f.x >= zx + zw) { f.g.style.display = 'none'; return; }\n"
    "      if (f.d < zd) { x = PAD; w = W - 2 * PAD; f.g.setAttribute('opacity', '0.55'); }\n"
    "      else { x = PAD + (f.x - zx) * scale; w = f.w * scale; "
    "f.g.removeAttribute('opacity'); }\n"
    "      if (w < 0.1) { f.g.style.display = 'none'; return; }\n"
    "      f.g.style.display = '';\n"
    "      f.rect.setAttribute('x', x.toFixed(2)); f.rect.setAttribute('width', w.toFixed(2));\n"
    "      f.text.setAttribute('x', (x + 3).toFixed(2)); fit(f, w);\n"
    "      f.rect.setAttribute('y', ypos(f.d)); f.text.setAttribute('y', ypos(f.d) + 11.5);\n"
    "    });\n"
    "    document.getElementById('unzoom').style.opacity = zoomed ? '1' : '0.3';\n"
    "    var dy = flame ? H - 10 : TOP - 8;\n"
    "    details.setAttribute('y', dy); matched.setAttribute('y', dy);\n"
    "    document.getElementById('layout').textContent = flame ? 'Root on top' : 'Root at "
    "bottom';\n"
    "    if (swap) swap.textContent = flame ? 'Root on top' : 'Root at bottom';\n"
    "  }\n"
    "  function ypos(d) { return flame ? H - BOTTOM - (d + 1) * FH : TOP + d * FH; }\n"
    /* The HTML page scrolls the graph in its own box, which a flame layout turns into a
     * column-reverse flex box: that opens at its end, the root, without scrolling. */
    "  function toroot() {\n"
    "    var g = document.getElementById('graph');\n"
    "    if (g) { g.className = flame ? 'flame' : 'icicle'; g.scrollTop = 0; return; }\n"
    "    var e = document.scrollingElement || document.documentElement;\n"
    "    window.scrollTo(0, flame ? e.scrollHeight : 0);\n"
    "  }\n"
    "  function paint() {\n"
    "    var re = null, hits = [], sum = 0, end = -1;\n"
    "    if (term) { try { re = new RegExp(term); } catch (e) { re = null; } }\n"
    "    frames.forEach(function (f) {\n"
    "      var hit = !!term && (re ? re.test(f.name) : f.name.indexOf(term) >= 0);\n"
    "      f.rect.setAttribute('fill', hit ? 'rgb(230,0,230)' : f.fill);\n"
    "      if (hit) { f.g.setAttribute('data-match', '1'); hits.push(f); }\n"
    "      else f.g.removeAttribute('data-match');\n"
    "    });\n"
    "    hits.sort(function (a, b) { return a.x - b.x || a.d - b.d; });\n"
    "    hits.forEach(function (f) { if (f.x >= end) { sum += f.w; end = f.x + f.w; } });\n"
    "    matched.textContent = term ? 'Matched: ' + pct(sum) + ' (' + fmt(sum) + ')' : '';\n"
    "    document.getElementById('search').textContent = term ? 'Clear search' : "
    "'Search';\n"
    "  }\n"
    "  function sethash() {\n"
    "    var h = [];\n"
    "    if (term) h.push('s=' + encodeURIComponent(term));\n"
    "    if (zoomed) h.push('z=' + zoomed.id);\n"
    "    if (flame !== (svg.getAttribute('data-layout') === 'flame')) h.push('l=' + (flame ? "
    "'flame' : 'icicle'));\n"
    "    try { history.replaceState(null, '', h.length ? '#' + h.join('&') : '#'); } catch "
    "(e) {}\n"
    "  }\n"
    "  window.flameZoom = function (id) { zoomed = (id in byId && byId[id].d > 0) ? byId[id] "
    ": null; layout(); sethash(); };\n"
    "  window.flameSearch = function (t) {\n"
    "    term = t || ''; paint(); sethash();\n"
    "    if (box && box.value !== term) box.value = term;\n"
    "  };\n"
    "  Array.prototype.forEach.call(svg.querySelectorAll('g.f'), function (g) {\n"
    "    var f = { g: g, rect: g.querySelector('rect'), text: g.querySelector('text'),\n"
    "              id: g.getAttribute('data-id'), x: +g.getAttribute('data-x'),\n"
    "              w: +g.getAttribute('data-w'), d: +g.getAttribute('data-d'),\n"
    "              k: g.getAttribute('data-k'), name: g.getAttribute('data-n') };\n"
    "    f.fill = f.rect.getAttribute('fill');\n"
    "    frames.push(f); byId[f.id] = f;\n"
    "    g.addEventListener('mouseover', function () {\n"
    "      details.textContent = f.name + ' (' + f.k + '): ' + fmt(f.w) + ', ' + pct(f.w);\n"
    "    });\n"
    "    g.addEventListener('mouseout', function () { details.textContent = ' '; });\n"
    "    g.addEventListener('click', function () { window.flameZoom(f.id); });\n"
    "  });\n"
    "  document.getElementById('unzoom').addEventListener('click', function () { "
    "window.flameZoom(-1); });\n"
    "  window.flameLayout = function (f) { flame = f; layout(); sethash(); toroot(); };\n"
    "  document.getElementById('layout').addEventListener('click', function () { "
    "window.flameLayout(!flame); });\n"
    "  if (swap) swap.addEventListener('click', function () { window.flameLayout(!flame); });\n"
    "  document.getElementById('search').addEventListener('click', function () {\n"
    "    if (term) { window.flameSearch(''); return; }\n"
    "    var t = window.prompt('Search frames (regular expression)', '');\n"
    "    if (t) window.flameSearch(t);\n"
    "  });\n"
    "  var box = document.getElementById('term');\n"
    "  if (box) box.addEventListener('input', function () { window.flameSearch(box.value); "
    "});\n"
    "  window.addEventListener('keydown', function (e) {\n"
    "    if ((e.ctrlKey || e.metaKey) && e.key === 'f') {\n"
    "      e.preventDefault();\n"
    "      var t = window.prompt('Search frames (regular expression)', term);\n"
    "      if (t !== null) window.flameSearch(t);\n"
    "    } else if (e.key === 'Escape') { window.flameZoom(-1); }\n"
    "  });\n"
    "  var hash = (location.hash || '').replace(/^#/, '').split('&');\n"
    "  hash.forEach(function (kv) {\n"
    "    var i = kv.indexOf('='); if (i < 0) return;\n"
    "    var k = kv.substring(0, i), v = decodeURIComponent(kv.substring(i + 1));\n"
    "    if (k === 's') term = v; else if (k === 'z' && v in byId && byId[v].d > 0) zoomed = "
    "byId[v];\n"
    "    else if (k === 'l') flame = v === 'flame';\n"
    "  });\n"
    "  layout(); paint(); toroot();\n"
    "  if (box) box.value = term;\n"
    "})();\n"
    "]]></script>\n";

static void legend(FILE *out)
{
    static const int kinds[] = {OPD_PV_KERNEL, OPD_PV_NATIVE, OPD_PV_GO, OPD_PV_INTERPRETED};
    double x = WIDTH - PAD - 4 * 105;

    for (size_t i = 0; i < 4; i++, x += 105) {
        char fill[48];
        colour(kinds[i], "", fill, sizeof(fill));
        fprintf(out,
                "<rect x=\"%.0f\" y=\"38\" width=\"12\" height=\"12\" fill=\"%s\" rx=\"2\"/>"
                "<text x=\"%.0f\" y=\"48\" class=\"small\">%s</text>\n",
                x, fill, x + 16, opd_pv_kind_name((enum opd_pv_kind)kinds[i]));
    }
}

static int write_svg(struct flame *fl, FILE *out, const char *title, const char *subtitle,
                     bool flame)
{
    struct render rd = {.fl = fl, .out = out, .flame = flame};
    int depth = max_depth(fl, 0);
    char total[48];

    rd.height = TOP + (depth + 1) * FRAME_H + BOTTOM;
    rd.scale = (double)(WIDTH - 2 * PAD) / (double)fl->n[0].total;
    value_text(fl, fl->n[0].total, total, sizeof(total));
    fprintf(out,
            "<svg id=\"flame\" xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
            "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" data-total=\"%" PRIu64
            "\" data-cpu=\"%d\" data-layout=\"%s\" data-top=\"%d\" data-bottom=\"%d\" "
            "data-fh=\"%d\">\n",
            WIDTH, rd.height, WIDTH, rd.height, fl->n[0].total, fl->all_cpu ? 1 : 0,
            flame ? "flame" : "icicle", TOP, BOTTOM, FRAME_H);
    fputs("<style>\n"
          "text { font-family: Verdana, sans-serif; font-size: 12px; fill: rgb(0,0,0); }\n"
          "text.small { font-size: 11px; }\n"
          "#title { font-size: 17px; text-anchor: middle; }\n"
          "g.f { cursor: pointer; }\n"
          "g.f:hover rect { stroke: rgb(40,40,40); stroke-width: 0.6; }\n"
          "g.f text { pointer-events: none; }\n"
          ".button { cursor: pointer; fill: rgb(30,60,160); }\n"
          "</style>\n",
          out);
    fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"rgb(250,250,245)\"/>\n",
            WIDTH, rd.height);
    fprintf(out, "<text id=\"title\" x=\"%d\" y=\"22\">", WIDTH / 2);
    xml_text(out, title);
    fputs("</text>\n", out);
    fprintf(out, "<text x=\"%d\" y=\"48\" class=\"small\">", PAD);
    xml_text(out, subtitle);
    fprintf(out, " · %s · %" PRIu64 " samples</text>\n", total, fl->samples);
    fprintf(out,
            "<text id=\"unzoom\" class=\"button\" x=\"%d\" y=\"22\" style=\"opacity:0.3\">"
            "Reset zoom</text>\n",
            PAD);
    fprintf(out, "<text id=\"layout\" class=\"button\" x=\"%d\" y=\"22\">%s</text>\n", PAD + 100,
            flame ? "Root on top" : "Root at bottom");
    fprintf(out,
            "<text id=\"search\" class=\"button\" x=\"%d\" y=\"22\" "
            "style=\"text-anchor:end\">Search</text>\n",
            WIDTH - PAD);
    legend(out);
    fprintf(out, "<text id=\"details\" x=\"%d\" y=\"%.0f\"> </text>\n", PAD, details_y(&rd));
    fprintf(out, "<text id=\"matched\" x=\"%d\" y=\"%.0f\" style=\"text-anchor:end\"></text>\n",
            WIDTH - PAD, details_y(&rd));
    render_node(&rd, 0, 0, 0);
    fputs(script, out);
    fputs("</svg>\n", out);
    return ferror(out) ? -EIO : 0;
}

static int write_output(struct flame *fl, const char *path, bool html, const char *title,
                        const char *subtitle, bool flame)
{
    FILE *out = fopen(path, "w");
    int err;

    if (!out) {
        err = -errno;
        fprintf(stderr, "otelprofd flamegraph: %s: %s\n", path, strerror(errno));
        return err;
    }
    if (html) {
        fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>",
              out);
        xml_text(out, title);
        /* The graph scrolls in its own box under the search bar; in the flame layout the
         * box is a column-reverse flex box, which opens at its end: the root. */
        fputs("</title>\n<style>body { margin: 0; background: rgb(250,250,245); height: 100vh;"
              " display: flex; flex-direction: column; }\n"
              "#bar { font: 13px Verdana, sans-serif; padding: 6px 10px; flex: none; }\n"
              "#term { width: 24em; }\n"
              "#graph { flex: 1; min-height: 0; overflow: auto; }\n"
              "#graph.flame { display: flex; flex-direction: column-reverse; }\n"
              "#graph > svg { flex: none; display: block; }</style>\n"
              "</head>\n<body>\n<div id=\"bar\"><label>Search frames (regular expression) "
              "<input id=\"term\" type=\"search\" autocomplete=\"off\"></label> "
              "<button id=\"swap\" type=\"button\">Root at bottom</button></div>\n",
              out);
        fprintf(out, "<div id=\"graph\" class=\"%s\">\n", flame ? "flame" : "icicle");
    } else {
        fputs("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n", out);
    }
    err = write_svg(fl, out, title, subtitle, flame);
    if (html)
        fputs("</div>\n</body>\n</html>\n", out);
    if (fclose(out) && !err)
        err = -EIO;
    if (err)
        fprintf(stderr, "otelprofd flamegraph: writing %s failed\n", path);
    return err;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: otelprofd flamegraph --input FILE.jsonl|DIR --output flame.svg|flame.html"
                 " [--filter KEY=VALUE ...] [--title TEXT] [--layout icicle|flame]\n"
                 "  --filter keeps only resources whose attribute KEY equals VALUE (repeatable;"
                 " all must match)\n"
                 "  --layout icicle (default: root on top) or flame (root at the bottom); the"
                 " page switches too\n");
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

int opd_cmd_flamegraph(int argc, char **argv)
{
    static const struct option opts[] = {
        {"input", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'},
        {"filter", required_argument, NULL, 'f'},
        {"title", required_argument, NULL, 't'},
        {"layout", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct opd_filters filters = {0};
    const char *input = NULL, *output = NULL, *title = "Flame graph";
    struct flame fl = {0};
    struct opd_recorded_stats stats;
    char subtitle[1024];
    size_t sl;
    int ch, err, rc = EXIT_USAGE;
    bool html = false, flame = false;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "i:o:f:t:l:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'l':
            if (strcmp(optarg, "flame") != 0 && strcmp(optarg, "icicle") != 0) {
                fprintf(stderr, "otelprofd flamegraph: --layout %s: want icicle or flame\n",
                        optarg);
                goto out;
            }
            flame = strcmp(optarg, "flame") == 0;
            break;
        case 'i':
            input = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 't':
            title = optarg;
            break;
        case 'f':
            if (opd_filters_add(&filters, "flamegraph", optarg))
                goto out;
            break;
        case 'h':
            usage(stdout);
            rc = 0;
            goto out;
        default:
            usage(stderr);
            goto out;
        }
    }
    if (optind < argc || !input || !output) {
        fprintf(stderr, "otelprofd flamegraph: %s\n",
                optind < argc ? "unexpected argument" : "--input and --output are required");
        usage(stderr);
        goto out;
    }
    if (ends_with(output, ".html") || ends_with(output, ".htm")) {
        html = true;
    } else if (!ends_with(output, ".svg")) {
        fprintf(stderr, "otelprofd flamegraph: --output must end in .svg or .html\n");
        goto out;
    }
    rc = EXIT_RUNTIME;
    fl.filters = filters.v;
    fl.n_filters = filters.n;
    fl.all_cpu = true;
    if (node_get(&fl, -1, K_ROOT, "all") != 0)
        goto out;
    err = opd_recorded_read(input, add_batch, &fl, &stats);
    if (err) {
        if (err == -ENOMEM)
            fprintf(stderr, "otelprofd flamegraph: out of memory\n");
        goto out;
    }
    if (fl.n[0].total == 0) {
        fprintf(stderr, "otelprofd flamegraph: no samples in %s%s (%zu requests, %zu bad lines)\n",
                input, filters.n ? " match the filters" : "", stats.requests, stats.bad_lines);
        goto out;
    }
    if (link_children(&fl))
        goto out;
    sl = (size_t)snprintf(subtitle, sizeof(subtitle), "%s", input);
    for (size_t i = 0; i < filters.n && sl < sizeof(subtitle); i++)
        sl += (size_t)snprintf(subtitle + sl, sizeof(subtitle) - sl, "%s%s=%s",
                               i ? ", " : " where ", filters.v[i].key, filters.v[i].value);
    if (write_output(&fl, output, html, title, subtitle, flame))
        goto out;
    fprintf(stderr,
            "otelprofd flamegraph: %zu frames from %" PRIu64 " samples in %zu requests "
            "written to %s\n",
            fl.nn, fl.samples, stats.requests, output);
    rc = 0;
out:
    opd_filters_fini(&filters);
    opd_keyidx_fini(&fl.ix);
    opd_free(fl.n);
    return rc;
}
