/* Runtime benchmark driver (a harness, not corpus code): libyaml parse and emit round trips.
 *
 * usage: yaml_roundtrip [records] [rounds]
 * Generates a YAML document of `records` records (mappings with scalars of
 * every style, a flow sequence, a nested block mapping, anchors and aliases),
 * parses it into events, emits every event back to YAML text, parses that text
 * again and checks both parses saw the same events; prints the sizes, the
 * event count and a checksum of event types and scalar values. libyaml's
 * declarations are written out here (the parts this driver reads: an event's
 * type and a scalar's value), so the driver needs no header from the sources;
 * the parser and emitter objects live in opaque buffers larger than theirs.
 */
#include "workload.h"

enum { YAML_SCALAR_EVENT = 6, YAML_STREAM_END_EVENT = 2, YAML_ANY_BREAK = 0 };

typedef struct {
  int type;
  union {
    struct {
      unsigned char *anchor, *tag, *value;
      size_t length;
      int plain_implicit, quoted_implicit, style;
    } scalar;
    char room[64]; /* the largest member of libyaml's union is smaller */
  } data;
  size_t marks[6];
} yaml_event;

typedef union {
  char room[8192]; /* yaml_parser_t and yaml_emitter_t are smaller */
  long double align;
} yaml_opaque;

typedef int write_handler(void *data, unsigned char *buffer, size_t size);
int yaml_parser_initialize(yaml_opaque *parser);
void yaml_parser_delete(yaml_opaque *parser);
void yaml_parser_set_input_string(yaml_opaque *parser, const unsigned char *input, size_t size);
int yaml_parser_parse(yaml_opaque *parser, yaml_event *event);
void yaml_event_delete(yaml_event *event);
int yaml_emitter_initialize(yaml_opaque *emitter);
void yaml_emitter_delete(yaml_opaque *emitter);
void yaml_emitter_set_output(yaml_opaque *emitter, write_handler *handler, void *data);
void yaml_emitter_set_width(yaml_opaque *emitter, int width);
void yaml_emitter_set_unicode(yaml_opaque *emitter, int unicode);
int yaml_emitter_emit(yaml_opaque *emitter, yaml_event *event);

typedef struct {
  unsigned char *bytes;
  size_t size, capacity;
} buffer;

static void append(buffer *out, const void *data, size_t size) {
  if (out->size + size > out->capacity) {
    size_t capacity = 2 * (out->size + size);
    unsigned char *bigger = bench_alloc(capacity);
    memcpy(bigger, out->bytes, out->size);
    free(out->bytes);
    out->bytes = bigger;
    out->capacity = capacity;
  }
  memcpy(out->bytes + out->size, data, size);
  out->size += size;
}

static int write_to_buffer(void *data, unsigned char *bytes, size_t size) {
  append((buffer *)data, bytes, size);
  return 1;
}

static void appendf(buffer *out, const char *format, unsigned a, unsigned b) {
  char line[256];
  int length = snprintf(line, sizeof line, format, a, b);
  append(out, line, (size_t)length);
}

static void generate(buffer *out, long records) {
  static const char *const words[] = {"alpha", "beta", "gamma", "delta", "spill", "reload", "copy",
                                      "evict", "split", "hint",  "loop",  "block", "frame", "value"};
  const unsigned count = sizeof(words) / sizeof(words[0]);
  append(out, "%YAML 1.1\n---\n", 14);
  for (long i = 0; i < records; i++) {
    unsigned a = bench_next(), b = bench_next();
    appendf(out, "- id: %u\n  key: &k%u ", (unsigned)i, (unsigned)i);
    append(out, words[a % count], strlen(words[a % count]));
    append(out, "\n", 1);
    appendf(out, "  quoted: \"%u \\t %u\"\n", a % 1000, b % 1000);
    appendf(out, "  single: 'it''s %u of %u'\n", a % 97, b % 89);
    appendf(out, "  number: %u.%u\n", a % 100000, b % 1000);
    appendf(out, "  flow: [%u, %u, ", a % 7, b % 11);
    append(out, words[b % count], strlen(words[b % count]));
    append(out, ", {x: 1, y: 2}]\n", 16);
    appendf(out, "  nested:\n    depth: %u\n    text: |\n      line %u\n", a % 5, b % 13);
    append(out, "      second line\n", 18);
    if (i > 0 && a % 3 == 0) appendf(out, "  again: *k%u\n", (unsigned)(i - 1), 0);
  }
  append(out, "...\n", 4);
}

/* Parses `input`; hashes event types and scalar values into `*digest`; emits the events into `emitted` if given. */
static long parse(const buffer *input, buffer *emitted, unsigned long long *digest) {
  static yaml_opaque parser, emitter;
  yaml_event event;
  long events = 0;
  bench_check(yaml_parser_initialize(&parser), "yaml_parser_initialize");
  yaml_parser_set_input_string(&parser, input->bytes, input->size);
  if (emitted) {
    bench_check(yaml_emitter_initialize(&emitter), "yaml_emitter_initialize");
    yaml_emitter_set_output(&emitter, write_to_buffer, emitted);
    yaml_emitter_set_width(&emitter, 60);
    yaml_emitter_set_unicode(&emitter, 1);
  }
  for (int done = 0; !done; events++) {
    bench_check(yaml_parser_parse(&parser, &event), "yaml_parser_parse");
    done = event.type == YAML_STREAM_END_EVENT;
    *digest = bench_fnv1a(&event.type, sizeof event.type, *digest);
    if (event.type == YAML_SCALAR_EVENT) *digest = bench_fnv1a(event.data.scalar.value, event.data.scalar.length, *digest);
    if (emitted)
      bench_check(yaml_emitter_emit(&emitter, &event), "yaml_emitter_emit"); /* the emitter frees the event */
    else
      yaml_event_delete(&event);
  }
  if (emitted) yaml_emitter_delete(&emitter);
  yaml_parser_delete(&parser);
  return events;
}

int main(int argc, char **argv) {
  const long records = bench_arg(argc, argv, 1, 2000);
  const long rounds = bench_arg(argc, argv, 2, 1);
  buffer input = {0};
  generate(&input, records);
  unsigned long long digest = 0xCBF29CE484222325ull;
  for (long round = 0; round < rounds; round++) {
    buffer emitted = {0};
    unsigned long long first = 0xCBF29CE484222325ull, second = first;
    long events = parse(&input, &emitted, &first);
    bench_check(parse(&emitted, NULL, &second) == events && first == second, "YAML emitted then parsed again");
    digest = bench_fnv1a(&first, sizeof first, digest);
    digest = bench_fnv1a(emitted.bytes, emitted.size, digest);
    if (round == 0) printf("input %zu emitted %zu events %ld\n", input.size, emitted.size, events);
    free(emitted.bytes);
  }
  printf("rounds %ld digest %016llx\n", rounds, digest);
  free(input.bytes);
  return 0;
}
