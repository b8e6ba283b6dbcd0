/*
 * allocfail.c - the wrappers and counters of allocfail.h.
 */
#include "allocfail.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

void *__real_malloc(size_t n) __attribute__((weak));
void *__real_calloc(size_t n, size_t size) __attribute__((weak));
void *__real_realloc(void *p, size_t n) __attribute__((weak));
char *__real_strdup(const char *s) __attribute__((weak));
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
int __real_strcmp(const char *a, const char *b) __attribute__((weak));
int __wrap_strcmp(const char *a, const char *b);

/* Relaxed: only the count matters, not what it orders. */
static _Atomic long count;        /* allocations seen since the last reset */
static _Atomic long fail_at = -1; /* the index of the one to fail; -1: none */

int allocfail_next(void)
{
    return atomic_fetch_add_explicit(&count, 1, memory_order_relaxed) ==
           atomic_load_explicit(&fail_at, memory_order_relaxed);
}

void *__wrap_malloc(size_t n)
{
    return allocfail_next() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return allocfail_next() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return allocfail_next() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return allocfail_next() ? NULL : __real_strdup(s);
}

static _Atomic long strcmps; /* strcmp calls seen since the last reset */

int __wrap_strcmp(const char *a, const char *b)
{
    atomic_fetch_add_explicit(&strcmps, 1, memory_order_relaxed);
    return __real_strcmp(a, b);
}

void strcmp_count_reset(void)
{
    atomic_store_explicit(&strcmps, 0, memory_order_relaxed);
}

long strcmp_count(void)
{
    return atomic_load_explicit(&strcmps, memory_order_relaxed);
}

void allocfail_reset(long at)
{
    atomic_store_explicit(&count, 0, memory_order_relaxed);
    atomic_store_explicit(&fail_at, at, memory_order_relaxed);
}

void allocfail_disarm(void)
{
    atomic_store_explicit(&fail_at, -1, memory_order_relaxed);
}

long allocfail_count(void)
{
    return atomic_load_explicit(&count, memory_order_relaxed);
}

int allocfail_active(void)
{
    long before = allocfail_count();
    void *volatile p = malloc(1);
    free(p);
    return allocfail_count() != before;
}
