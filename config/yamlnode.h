/*
 * yamlnode.h - small readers of libyaml document nodes shared by the two
 * YAML loaders (config.c and changes_yaml.c), so that both say "null" and
 * "got ..." the same way.
 */
#ifndef SW_YAMLNODE_H
#define SW_YAMLNODE_H

#include <stddef.h>
#include <yaml.h>

/* The text of a scalar node. */
static inline const char *yn_scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* Non-zero for a plain `~`, `null` (any of YAML's spellings) or nothing. */
int yn_is_null(const yaml_node_t *n);

/* How a node reads in "got ..." messages: 'text' (quoted, into buf), an
 * empty value, a mapping or a sequence. */
const char *yn_describe(const yaml_node_t *n, char *buf, size_t len);

/* A libyaml parser error as "NAME:LINE[:COL]: invalid YAML: problem
 * (context at line N)" (column when `column` is set), or "NAME: invalid
 * YAML: problem at byte N" for an encoding error, into buf. */
void yn_parser_message(const yaml_parser_t *p, const char *name, int column, char *buf,
                       size_t len);

#endif
