/* veto-rng: the seeded random numbers of every computation (xoshiro256** seeded by splitmix64). */
#include "veto-rng.h"

#include <math.h>

static guint64
splitmix64 (guint64 *state)
{
  guint64 z = (*state += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

void
veto_rng_init (VetoRng *rng, guint64 seed)
{
  guint64 state = seed;

  for (guint i = 0; i < 4; i++)
    rng->s[i] = splitmix64 (&state);
}

static inline guint64
rotl64 (guint64 x, int k)
{
  return (x << k) | (x >> (64 - k));
}

guint64
veto_rng_next (VetoRng *rng)
{
  guint64 *s = rng->s;
  guint64 result = rotl64 (s[1] * 5, 7) * 9;
  guint64 t = s[1] << 17;

  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl64 (s[3], 45);
  return result;
}

double
veto_rng_uniform (VetoRng *rng)
{
  return (double) (veto_rng_next (rng) >> 11) * 0x1.0p-53;
}

guint
veto_rng_below (VetoRng *rng, guint bound)
{
  return (guint) (((veto_rng_next (rng) >> 32) * bound) >> 32);
}

double
veto_rng_normal (VetoRng *rng)
{
  double u1 = 1.0 - veto_rng_uniform (rng);
  double u2 = veto_rng_uniform (rng);

  return sqrt (-2.0 * log (u1)) * cos (2.0 * G_PI * u2);
}
