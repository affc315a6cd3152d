/*
 * Guard-page copies (picohttpparser's test trick). Each copy gets its own mapping so a test can
 * hold several inputs at once; guard_free() releases them all.
 */
#include "guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Tests hold a handful of inputs at a time; a fixed table keeps the helper allocation-free. */
#define GUARD_MAX 64

static struct {
    void *base;
    size_t size;
} maps[GUARD_MAX];
static size_t nmaps;

static void die(const char *what)
{
    perror(what);
    abort();
}

uint8_t *guard_copy(const void *p, size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data_pages = (n + page - 1) / page;
    size_t size = (data_pages + 1) * page;

    if (nmaps == GUARD_MAX)
        die("guard_copy: too many live copies");
    uint8_t *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        die("guard_copy: mmap");
    uint8_t *guard = base + data_pages * page;
    if (mprotect(guard, page, PROT_NONE) != 0)
        die("guard_copy: mprotect");
    maps[nmaps].base = base;
    maps[nmaps].size = size;
    nmaps++;

    uint8_t *dst = guard - n;
    if (n > 0)
        memcpy(dst, p, n);
    return dst;
}

void guard_free(void)
{
    while (nmaps > 0) {
        nmaps--;
        munmap(maps[nmaps].base, maps[nmaps].size);
    }
}
