/* Runtime benchmark driver (a harness, not corpus code; C++, since lodepng is): zopfli compression.
 *
 * usage: zopfli_roundtrip [KiB of input] [iterations]
 * Compresses generated text with zopfli into the zlib format (`iterations`
 * rounds of its optimal-parse search), decompresses the result with lodepng's
 * inflater (part of the same library, zopflipng's), checks it equals the
 * input, and prints the compressed size and a checksum. The library's
 * declarations are written out here (zopfli's C API; lodepng's C++ one), so
 * the driver needs no header from the sources.
 */
#include "workload.h"

extern "C" {
struct ZopfliOptions {
  int verbose, verbose_more, numiterations, blocksplitting, blocksplittinglast, blocksplittingmax;
};
void ZopfliInitOptions(ZopfliOptions *options);
void ZopfliCompress(const ZopfliOptions *options, int output_type, const unsigned char *in, size_t insize,
                    unsigned char **out, size_t *outsize);
}
enum { ZOPFLI_FORMAT_ZLIB = 1 };

struct LodePNGDecompressSettings;
extern const LodePNGDecompressSettings lodepng_default_decompress_settings;
unsigned lodepng_zlib_decompress(unsigned char **out, size_t *outsize, const unsigned char *in, size_t insize,
                                 const LodePNGDecompressSettings *settings);

int main(int argc, char **argv) {
  const size_t size = (size_t)bench_arg(argc, argv, 1, 64) * 1024;
  unsigned char *input = static_cast<unsigned char *>(bench_alloc(size));
  bench_fill_text(input, size);
  ZopfliOptions options;
  ZopfliInitOptions(&options);
  options.numiterations = (int)bench_arg(argc, argv, 2, 5);
  unsigned char *packed = NULL;
  size_t packed_size = 0;
  ZopfliCompress(&options, ZOPFLI_FORMAT_ZLIB, input, size, &packed, &packed_size);
  unsigned char *unpacked = NULL;
  size_t unpacked_size = 0;
  bench_check(lodepng_zlib_decompress(&unpacked, &unpacked_size, packed, packed_size,
                                      &lodepng_default_decompress_settings) == 0 &&
                  unpacked_size == size && !memcmp(input, unpacked, size),
              "zopfli then lodepng inflate");
  printf("input %zu iterations %d zlib %zu\n", size, options.numiterations, packed_size);
  printf("digest %016llx\n", bench_fnv1a(packed, packed_size, 0xCBF29CE484222325ull));
  free(input);
  free(packed);
  free(unpacked);
  return 0;
}
