/* A minimal native host for clang's interactive inliner channel, used by
 * channel_overhead.py as the floor: it replays the default decision from a
 * given byte offset, so its wall time is what the compiler's ML mode plus the
 * FIFO round trips cost with no Python at all.
 * Usage: native_host BASE OBSERVATION_BYTES DEFAULT_OFFSET */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char buf[1 << 16];
static size_t len, pos;

static int fill(int fd) {
  if (pos > 0) { memmove(buf, buf + pos, len - pos); len -= pos; pos = 0; }
  ssize_t n = read(fd, buf + len, sizeof(buf) - len);
  if (n <= 0) return 0;
  len += (size_t)n;
  return 1;
}

static char *line(int fd) { /* returns pointer to a NUL-terminated line, or NULL at EOF */
  for (;;) {
    char *nl = memchr(buf + pos, '\n', len - pos);
    if (nl) { char *start = buf + pos; *nl = 0; pos = (size_t)(nl - buf) + 1; return start; }
    if (!fill(fd)) return NULL;
  }
}

static char *bytes(int fd, size_t n) {
  while (len - pos < n) if (!fill(fd)) return NULL;
  char *start = buf + pos; pos += n; return start;
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: %s BASE OBS_BYTES OFFSET\n", argv[0]); return 2; }
  char out_path[4096], in_path[4096];
  snprintf(out_path, sizeof out_path, "%s.out", argv[1]);
  snprintf(in_path, sizeof in_path, "%s.in", argv[1]);
  size_t obs = strtoul(argv[2], 0, 10), off = strtoul(argv[3], 0, 10);
  /* .in read-write first, so neither open waits for the compiler; .out read-only, so EOF means it exited. */
  int in = open(in_path, O_RDWR);
  int out = open(out_path, O_RDONLY);
  if (out < 0 || in < 0) { perror("open"); return 1; }
  long decisions = 0;
  if (!line(out)) return 1; /* header */
  for (char *l; (l = line(out));) {
    if (strncmp(l, "{\"observation\"", 14) != 0) continue;
    char *record = bytes(out, obs + 1);
    if (!record) return 1;
    int64_t advice;
    memcpy(&advice, record + off, 8);
    if (write(in, &advice, 8) != 8) return 1;
    decisions++;
  }
  printf("%ld\n", decisions);
  return 0;
}
