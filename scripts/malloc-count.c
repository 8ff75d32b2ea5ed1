/* Counts every malloc, calloc and realloc of a process and prints the total to stderr at exit,
 * so that "the loop allocates nothing" is a measurement: run the same program with two loop
 * lengths; equal counts mean the loop body never allocates.
 *
 *   gcc -shared -fPIC -O2 -o /tmp/malloc-count.so scripts/malloc-count.c
 *   LD_PRELOAD=/tmp/malloc-count.so .build/release/<program> <args>
 *
 * glibc only (it forwards to __libc_malloc and friends). */
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static unsigned long count = 0;

void *malloc(size_t size) {
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size) {
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return __libc_calloc(n, size);
}

void *realloc(void *pointer, size_t size) {
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return __libc_realloc(pointer, size);
}

__attribute__((destructor)) static void report(void) {
    char line[64];
    int length = snprintf(line, sizeof line, "MALLOC_COUNT %lu\n", count);
    if (length > 0) write(2, line, (size_t)length);
}
