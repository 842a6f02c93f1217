/* Runtime benchmark driver (a harness, not corpus code): pycryptodome's hashes and ciphers.
 *
 * usage: crypto_digests [KiB of input] [rounds]
 * Hashes generated text with MD5, SHA-256, SHA-512, BLAKE2b and SHA3-256
 * (Keccak), encrypts it with ChaCha20 and with AES-128 in CBC mode, decrypts
 * the AES result and checks it equals the input, and prints every digest and
 * a checksum of the ciphertexts. The library's prototypes are declared here
 * (its states are opaque), so the driver needs no header from the sources.
 */
#include <stdint.h>

#include "workload.h"

typedef struct opaque opaque;
#define HASH(NAME)                                                                                                     \
  int NAME##_init(opaque **state);                                                                                     \
  int NAME##_update(opaque *state, const uint8_t *buf, size_t len);                                                    \
  int NAME##_destroy(opaque *state);
HASH(MD5)
HASH(SHA256)
#undef HASH
int SHA512_init(opaque **state, size_t digest_size);
int SHA512_update(opaque *state, const uint8_t *buf, size_t len);
int SHA512_destroy(opaque *state);
int MD5_digest(const opaque *state, uint8_t *digest);
int SHA256_digest(const opaque *state, uint8_t *digest, size_t digest_size);
int SHA512_digest(const opaque *state, uint8_t *digest, size_t digest_size);
int blake2b_init(opaque **state, const uint8_t *key, size_t key_size, size_t digest_size);
int blake2b_update(opaque *state, const uint8_t *buf, size_t len);
int blake2b_digest(const opaque *state, uint8_t *digest);
int blake2b_destroy(opaque *state);
int keccak_init(opaque **state, size_t capacity_bytes, uint8_t rounds);
int keccak_absorb(opaque *state, const uint8_t *in, size_t length);
int keccak_digest(opaque *state, uint8_t *digest, size_t len, uint8_t padding);
int keccak_destroy(opaque *state);
int chacha20_init(opaque **state, const uint8_t *key, size_t key_size, const uint8_t *nonce, size_t nonce_size);
int chacha20_encrypt(opaque *state, const uint8_t *in, uint8_t *out, size_t len);
int chacha20_destroy(opaque *state);
int AES_start_operation(const uint8_t *key, size_t key_len, opaque **cipher);
int CBC_start_operation(opaque *cipher, const uint8_t *iv, size_t iv_len, opaque **mode);
int CBC_encrypt(opaque *mode, const uint8_t *in, uint8_t *out, size_t len);
int CBC_decrypt(opaque *mode, const uint8_t *in, uint8_t *out, size_t len);
int CBC_stop_operation(opaque *mode); /* frees the cipher too */

static void print_digest(const char *name, const uint8_t *digest, size_t size) {
  printf("%s ", name);
  for (size_t i = 0; i < size; i++) printf("%02x", digest[i]);
  printf("\n");
}

static opaque *cbc(const uint8_t *key, const uint8_t *iv) {
  opaque *cipher = NULL, *mode = NULL;
  bench_check(AES_start_operation(key, 16, &cipher) == 0 && CBC_start_operation(cipher, iv, 16, &mode) == 0, "AES");
  return mode;
}

int main(int argc, char **argv) {
  const size_t size = (size_t)bench_arg(argc, argv, 1, 1024) * 1024 & ~(size_t)15; /* whole AES blocks */
  const long rounds = bench_arg(argc, argv, 2, 1);
  uint8_t *input = bench_alloc(size), *cipher = bench_alloc(size), *plain = bench_alloc(size);
  bench_fill_text(input, size);
  static const uint8_t key[32] = "0123456789abcdef0123456789abcdef", nonce[8] = "noncenon", iv[16] = "initial vector!";
  unsigned long long checksum = 0xCBF29CE484222325ull;
  for (long round = 0; round < rounds; round++) {
    uint8_t md5[16], sha256[32], sha512[64], blake[64], sha3[32];
    opaque *state;
    bench_check(MD5_init(&state) == 0 && MD5_update(state, input, size) == 0 && MD5_digest(state, md5) == 0, "MD5");
    MD5_destroy(state);
    bench_check(SHA256_init(&state) == 0 && SHA256_update(state, input, size) == 0 &&
                    SHA256_digest(state, sha256, sizeof sha256) == 0,
                "SHA-256");
    SHA256_destroy(state);
    bench_check(SHA512_init(&state, 64) == 0 && SHA512_update(state, input, size) == 0 &&
                    SHA512_digest(state, sha512, sizeof sha512) == 0,
                "SHA-512");
    SHA512_destroy(state);
    bench_check(blake2b_init(&state, key, 0, 64) == 0 && blake2b_update(state, input, size) == 0 &&
                    blake2b_digest(state, blake) == 0,
                "BLAKE2b");
    blake2b_destroy(state);
    bench_check(keccak_init(&state, 64, 24) == 0 && keccak_absorb(state, input, size) == 0 &&
                    keccak_digest(state, sha3, sizeof sha3, 0x06) == 0,
                "SHA3-256");
    keccak_destroy(state);
    bench_check(chacha20_init(&state, key, 32, nonce, 8) == 0 && chacha20_encrypt(state, input, cipher, size) == 0,
                "ChaCha20");
    chacha20_destroy(state);
    checksum = bench_fnv1a(cipher, size, checksum);
    opaque *mode = cbc(key, iv);
    bench_check(CBC_encrypt(mode, input, cipher, size) == 0, "AES-CBC encrypt");
    CBC_stop_operation(mode);
    mode = cbc(key, iv);
    bench_check(CBC_decrypt(mode, cipher, plain, size) == 0 && !memcmp(plain, input, size), "AES-CBC round trip");
    CBC_stop_operation(mode);
    checksum = bench_fnv1a(cipher, size, checksum);
    if (round == 0) {
      print_digest("md5", md5, sizeof md5);
      print_digest("sha256", sha256, sizeof sha256);
      print_digest("sha512", sha512, sizeof sha512);
      print_digest("blake2b", blake, sizeof blake);
      print_digest("sha3-256", sha3, sizeof sha3);
    }
    input[round % size] ^= 1; /* next round hashes slightly different data */
  }
  printf("rounds %ld input %zu ciphertexts %016llx\n", rounds, size, checksum);
  free(input);
  free(cipher);
  free(plain);
  return 0;
}
