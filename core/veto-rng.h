/* veto-rng: the seeded random numbers of every computation (xoshiro256** seeded by splitmix64). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Small, fast and the same stream on every platform, so a seed reproduces a run anywhere.
 * A plain struct: keep one on the stack. */
typedef struct
{
  guint64 s[4];
} VetoRng;

void veto_rng_init (VetoRng *rng, guint64 seed);
guint64 veto_rng_next (VetoRng *rng);
/* Uniform in [0, 1). */
double veto_rng_uniform (VetoRng *rng);
/* Uniform in [0, bound); the bias of the multiply-shift is below bound / 2^32. */
guint veto_rng_below (VetoRng *rng, guint bound);
/* Standard normal (Box–Muller). */
double veto_rng_normal (VetoRng *rng);

G_END_DECLS
