/*
 * yamlnode.c - shared readers of libyaml nodes (yamlnode.h).
 */
#include "yamlnode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

int yn_read_file(const char *path, size_t max, unsigned char **buf, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    size_t cap = 4096, n = 0;
    unsigned char *b = malloc(cap);
    int err = b ? 0 : ENOMEM;
    /* one byte past the limit is enough to refuse the file */
    while (!err && n <= max) {
        if (n + 1 == cap) {
            unsigned char *nb = realloc(b, cap * 2);
            if (!nb) {
                err = ENOMEM;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t want = cap - 1 - n, left = max + 1 - n;
        size_t got = fread(b + n, 1, want < left ? want : left, fp);
        n += got;
        if (got == 0) {
            if (ferror(fp))
                err = errno ? errno : EIO;
            break;
        }
    }
    fclose(fp);
    if (err) {
        free(b);
        errno = err;
        return -1;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

int yn_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *s = yn_scalar(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

void yn_parser_message(const yaml_parser_t *p, const char *name, int column, char *buf,
                       size_t len)
{
    if (p->error == YAML_READER_ERROR) {
        snprintf(buf, len, "%s: invalid YAML: %s at byte %lu", name, p->problem,
                 (unsigned long)p->problem_offset);
        return;
    }
    char ctx[128] = "", col[32] = "";
    if (p->context)
        snprintf(ctx, sizeof(ctx), " (%s at line %lu)", p->context,
                 (unsigned long)p->context_mark.line + 1);
    if (column)
        snprintf(col, sizeof(col), ":%lu", (unsigned long)p->problem_mark.column + 1);
    snprintf(buf, len, "%s:%lu%s: invalid YAML: %s%s", name,
             (unsigned long)p->problem_mark.line + 1, col,
             p->problem ? p->problem : "syntax error", ctx);
}

const char *yn_describe(const yaml_node_t *n, char *buf, size_t len)
{
    if (n->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (n->type == YAML_SEQUENCE_NODE)
        return "a sequence";
    if (!*yn_scalar(n))
        return "an empty value";
    snprintf(buf, len, "'%s'", yn_scalar(n));
    return buf;
}

int yn_check_depth(const char *name, const unsigned char *in, size_t len, unsigned max_depth,
                   int column, char *buf, size_t buflen)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return SW_ENOMEM;
    yaml_parser_set_input_string(&p, in, len);
    unsigned depth = 0;
    int rc = 0;
    for (;;) {
        yaml_event_t e;
        if (!yaml_parser_parse(&p, &e)) {
            rc = p.error == YAML_MEMORY_ERROR ? SW_ENOMEM : 0;
            break;
        }
        yaml_event_type_t type = e.type;
        if ((type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) &&
            ++depth > max_depth) {
            char col[32] = "";
            if (column)
                snprintf(col, sizeof(col), ":%lu", (unsigned long)e.start_mark.column + 1);
            sw_errf(buf, buflen, "%s:%lu%s: nesting deeper than %u levels", name,
                    (unsigned long)e.start_mark.line + 1, col, max_depth);
            rc = SW_ECONFIG;
        } else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        yaml_event_delete(&e);
        if (rc < 0 || type == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&p);
    return rc;
}
