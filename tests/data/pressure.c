/* Fourteen integer values live across a loop with calls: the allocator must evict and spill. */
extern int g(int);
int hash_mix(const unsigned *p, int n, unsigned seed) {
  unsigned a = seed, b = seed ^ 0x9e3779b9u, c = 7, d = 11, e = 13, f = 17, h = 19, i2 = 23, j = 29, k = 31, l = 37, m = 41, o = 43, q = 47;
  for (int i = 0; i < n; i++) {
    unsigned x = p[i];
    a += x; b ^= a << 3; c += b >> 2; d ^= c * 5; e += d << 1; f ^= e >> 3; h += f * 9; i2 ^= h + x;
    j += i2 >> 4; k ^= j * 3; l += k << 2; m ^= l >> 1; o += m * 7; q ^= o + a;
    if (x & 1) a = g(a + q);
    if (x & 2) b = g(b ^ o);
  }
  return a ^ b ^ c ^ d ^ e ^ f ^ h ^ i2 ^ j ^ k ^ l ^ m ^ o ^ q;
}
