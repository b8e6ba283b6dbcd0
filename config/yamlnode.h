/*
 * yamlnode.h - small readers of libyaml document nodes shared by the two
 * YAML loaders (config.c and changes_yaml.c), so that both say "null" and
 * "got ..." the same way.
 */
#ifndef SW_YAMLNODE_H
#define SW_YAMLNODE_H

#include <stddef.h>
#include <yaml.h>

/* Nesting of mappings and sequences the loaders accept: the register needs
 * 4 levels and the config 5. libyaml's parser takes time quadratic in the
 * depth (200 KB of '[' took 33 s), so deeper input is refused first. */
#define YN_MAX_DEPTH 32

/*
 * Reads the file `path` whole into a new NUL-terminated buffer (*buf,
 * *len; the caller frees it), but never more than max + 1 bytes: *len >
 * max says the file is too large, and the caller words that. Any file that
 * reads as a stream will do (a pipe too). Returns 0, or -1 with errno set
 * (ENOMEM, or what opening or reading said).
 */
int yn_read_file(const char *path, size_t max, unsigned char **buf, size_t *len);

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

/*
 * A first pass over the events of `buf` (len bytes) that refuses nesting
 * deeper than max_depth before the document is loaded, in time linear in
 * the bytes read up to there. Returns 0 when the nesting is within bounds,
 * and also when the YAML is invalid (the load then reports that as usual);
 * SW_ECONFIG with "NAME:LINE[:COL]: nesting deeper than N levels" in buf
 * (the column when `column` is set); SW_ENOMEM (nothing in buf).
 */
int yn_check_depth(const char *name, const unsigned char *in, size_t len, unsigned max_depth,
                   int column, char *buf, size_t buflen);

#endif
