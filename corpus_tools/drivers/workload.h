/* Deterministic input for the runtime benchmark drivers (a harness, not corpus code).
 *
 * Pseudo-text drawn from a fixed word list by a 64-bit LCG with a fixed seed,
 * with a number now and then, so compressors see realistic, compressible data
 * and every run of every build sees the same bytes. FNV-1a checksums let the
 * drivers print a short digest of what they computed.
 */
#ifndef MLGO_BENCH_WORKLOAD_H
#define MLGO_BENCH_WORKLOAD_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long bench_state = 0x9E3779B97F4A7C15ull;

static unsigned bench_next(void) {
  bench_state = bench_state * 6364136223846793005ull + 1442695040888963407ull;
  return (unsigned)(bench_state >> 33);
}

static void bench_fill_text(unsigned char *out, size_t size) {
  static const char *const words[] = {
      "the", "compiler", "register", "allocator", "evicts", "a", "live", "range", "when", "no",
      "physical", "register", "is", "free", "and", "spills", "it", "to", "the", "stack", "so",
      "that", "hot", "loops", "keep", "their", "values", "in", "registers", "while", "cold", "code",
      "reloads", "them", "from", "memory", "of", "which", "frequency", "weighted", "cost", "matters"};
  const size_t count = sizeof(words) / sizeof(words[0]);
  size_t n = 0;
  while (n < size) {
    char piece[32];
    unsigned pick = bench_next();
    int length;
    if (pick % 17 == 0)
      length = snprintf(piece, sizeof piece, "%u", bench_next() % 100000u);
    else
      length = snprintf(piece, sizeof piece, "%s", words[pick % count]);
    piece[length++] = (pick % 13 == 0) ? '\n' : ' ';
    for (int i = 0; i < length && n < size; i++) out[n++] = (unsigned char)piece[i];
  }
}

static unsigned long long bench_fnv1a(const void *data, size_t size, unsigned long long hash) {
  const unsigned char *bytes = (const unsigned char *)data;
  for (size_t i = 0; i < size; i++) hash = (hash ^ bytes[i]) * 0x100000001B3ull;
  return hash;
}

static void *bench_alloc(size_t size) {
  void *memory = malloc(size ? size : 1);
  if (!memory) {
    fprintf(stderr, "out of memory (%zu bytes)\n", size);
    exit(2);
  }
  return memory;
}

static long bench_arg(int argc, char **argv, int index, long fallback) {
  return argc > index ? strtol(argv[index], NULL, 10) : fallback;
}

static void bench_check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "round trip failed: %s\n", what);
    exit(1);
  }
}

#endif
