/* Runtime benchmark driver (a harness, not corpus code): LZ4 compression round trips.
 *
 * usage: lz4_roundtrip [KiB of input] [rounds]
 * Compresses generated text with LZ4's fast mode, its HC mode and the frame
 * format, decompresses each result, checks it equals the input, and prints the
 * compressed sizes and a checksum. The library's prototypes are declared here
 * so the driver needs no header from the sources.
 */
#include "workload.h"

int LZ4_compressBound(int inputSize);
int LZ4_compress_default(const char *src, char *dst, int srcSize, int dstCapacity);
int LZ4_compress_HC(const char *src, char *dst, int srcSize, int dstCapacity, int compressionLevel);
int LZ4_decompress_safe(const char *src, char *dst, int compressedSize, int dstCapacity);
size_t LZ4F_compressFrameBound(size_t srcSize, const void *preferences);
size_t LZ4F_compressFrame(void *dst, size_t dstCapacity, const void *src, size_t srcSize, const void *preferences);
unsigned LZ4F_isError(size_t code);
size_t LZ4F_createDecompressionContext(void **context, unsigned version);
size_t LZ4F_freeDecompressionContext(void *context);
size_t LZ4F_decompress(void *context, void *dst, size_t *dstSize, const void *src, size_t *srcSize,
                       const void *options);

enum { LZ4F_VERSION = 100, HC_LEVEL = 9 };

int main(int argc, char **argv) {
  const int size = (int)bench_arg(argc, argv, 1, 1024) * 1024;
  const long rounds = bench_arg(argc, argv, 2, 1);
  char *input = bench_alloc(size);
  bench_fill_text((unsigned char *)input, size);
  const size_t bound = LZ4F_compressFrameBound(size, NULL) + (size_t)LZ4_compressBound(size);
  char *packed = bench_alloc(bound);
  char *unpacked = bench_alloc(size);
  unsigned long long digest = 0xCBF29CE484222325ull;
  for (long round = 0; round < rounds; round++) {
    int fast = LZ4_compress_default(input, packed, size, (int)bound);
    bench_check(fast > 0, "LZ4_compress_default");
    bench_check(LZ4_decompress_safe(packed, unpacked, fast, size) == size && !memcmp(input, unpacked, size),
                "LZ4 fast");
    digest = bench_fnv1a(packed, fast, digest);
    int hc = LZ4_compress_HC(input, packed, size, (int)bound, HC_LEVEL);
    bench_check(hc > 0, "LZ4_compress_HC");
    bench_check(LZ4_decompress_safe(packed, unpacked, hc, size) == size && !memcmp(input, unpacked, size),
                "LZ4 HC");
    digest = bench_fnv1a(packed, hc, digest);
    size_t frame = LZ4F_compressFrame(packed, bound, input, size, NULL);
    bench_check(!LZ4F_isError(frame), "LZ4F_compressFrame");
    void *context = NULL;
    bench_check(!LZ4F_isError(LZ4F_createDecompressionContext(&context, LZ4F_VERSION)), "LZ4F context");
    size_t out_size = size, in_size = frame;
    size_t left = LZ4F_decompress(context, unpacked, &out_size, packed, &in_size, NULL);
    bench_check(!LZ4F_isError(left) && left == 0 && out_size == (size_t)size && !memcmp(input, unpacked, size),
                "LZ4 frame");
    LZ4F_freeDecompressionContext(context);
    digest = bench_fnv1a(packed, frame, digest);
    if (round == 0) printf("input %d fast %d hc %d frame %zu\n", size, fast, hc, frame);
    input[round % size] ^= 1;  /* next round compresses slightly different data */
  }
  printf("rounds %ld digest %016llx\n", rounds, digest);
  free(input);
  free(packed);
  free(unpacked);
  return 0;
}
