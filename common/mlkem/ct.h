/* Declassification points for the constant-time check (tests/mlkem/ctgrind.sh). Building the
 * library sources with ZTNA_MLKEM_CTGRIND turns each into a valgrind client request that marks
 * a value derived from secrets as public by design (rho, the seed of the public matrix), so
 * memcheck reports only real secret-dependent branches and indices. A no-op otherwise. */
#ifndef ZTNA_MLKEM_CT_H
#define ZTNA_MLKEM_CT_H

#ifdef ZTNA_MLKEM_CTGRIND
#include <valgrind/memcheck.h>
#define MLKEM_DECLASSIFY(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#else
#define MLKEM_DECLASSIFY(p, n) ((void)(p), (void)(n))
#endif

#endif
