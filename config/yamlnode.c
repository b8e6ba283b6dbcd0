/*
 * yamlnode.c - shared readers of libyaml nodes (yamlnode.h).
 */
#include "yamlnode.h"

#include <stdio.h>
#include <string.h>

int yn_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *s = yn_scalar(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
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
