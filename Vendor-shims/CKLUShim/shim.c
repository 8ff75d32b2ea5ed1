// CKLUShim implementation. See include/CKLUShim.h.
#include "CKLUShim.h"

#include <stdlib.h>
#include <string.h>

// Finds SuiteSparse's klu.h through klu-compat/ (a header search path of this target).
#include <klu.h>

struct sdqklu_handle {
  SuiteSparse_long n;
  SuiteSparse_long *ap;
  SuiteSparse_long *ai;
  // klu_l_factor and klu_l_refactor take non-const values; the values are copied here.
  double *ax;
  klu_l_common common;
  klu_l_symbolic *symbolic;
  klu_l_numeric *numeric;
};

static int status_of(SuiteSparse_long s) {
  switch (s) {
    case KLU_OK: return SDQKLU_OK;
    case KLU_SINGULAR: return SDQKLU_SINGULAR;
    case KLU_OUT_OF_MEMORY: return SDQKLU_OUT_OF_MEMORY;
    case KLU_TOO_LARGE: return SDQKLU_TOO_LARGE;
    default: return SDQKLU_INVALID;
  }
}

void sdqklu_free(sdqklu_handle *h) {
  if (h == NULL) return;
  if (h->numeric != NULL) klu_l_free_numeric(&h->numeric, &h->common);
  if (h->symbolic != NULL) klu_l_free_symbolic(&h->symbolic, &h->common);
  free(h->ap);
  free(h->ai);
  free(h->ax);
  free(h);
}

sdqklu_handle *sdqklu_analyze(int64_t n, const int64_t *column_starts, const int64_t *row_indices, int *status) {
  int ignored;
  if (status == NULL) status = &ignored;
  if (n < 0 || column_starts == NULL || (n > 0 && row_indices == NULL)) {
    *status = SDQKLU_INVALID;
    return NULL;
  }
  int64_t nnz = column_starts[n];
  // The pattern must be compressed sparse column with rows increasing and in range: KLU checks
  // some of this, but not all, and an unchecked index is a write out of bounds.
  if (column_starts[0] != 0 || nnz < 0) {
    *status = SDQKLU_INVALID;
    return NULL;
  }
  for (int64_t j = 0; j < n; j++) {
    if (column_starts[j + 1] < column_starts[j] || column_starts[j + 1] > nnz) {
      *status = SDQKLU_INVALID;
      return NULL;
    }
    for (int64_t k = column_starts[j]; k < column_starts[j + 1]; k++) {
      if (row_indices[k] < 0 || row_indices[k] >= n || (k > column_starts[j] && row_indices[k] <= row_indices[k - 1])) {
        *status = SDQKLU_INVALID;
        return NULL;
      }
    }
  }
  sdqklu_handle *h = calloc(1, sizeof(sdqklu_handle));
  if (h == NULL) {
    *status = SDQKLU_OUT_OF_MEMORY;
    return NULL;
  }
  h->n = (SuiteSparse_long)n;
  h->ap = malloc(sizeof(SuiteSparse_long) * (size_t)(n + 1));
  h->ai = malloc(sizeof(SuiteSparse_long) * (size_t)(nnz > 0 ? nnz : 1));
  h->ax = malloc(sizeof(double) * (size_t)(nnz > 0 ? nnz : 1));
  if (h->ap == NULL || h->ai == NULL || h->ax == NULL) {
    sdqklu_free(h);
    *status = SDQKLU_OUT_OF_MEMORY;
    return NULL;
  }
  for (int64_t j = 0; j <= n; j++) h->ap[j] = (SuiteSparse_long)column_starts[j];
  for (int64_t k = 0; k < nnz; k++) h->ai[k] = (SuiteSparse_long)row_indices[k];
  klu_l_defaults(&h->common);
  h->symbolic = klu_l_analyze(h->n, h->ap, h->ai, &h->common);
  if (h->symbolic == NULL) {
    *status = status_of(h->common.status);
    if (*status == SDQKLU_OK) *status = SDQKLU_INVALID;
    sdqklu_free(h);
    return NULL;
  }
  *status = SDQKLU_OK;
  return h;
}

static int full_factor(sdqklu_handle *h) {
  if (h->numeric != NULL) klu_l_free_numeric(&h->numeric, &h->common);
  // With halt_if_singular (KLU's default) klu_l_factor frees its partial factors and returns
  // NULL on a zero pivot.
  h->numeric = klu_l_factor(h->ap, h->ai, h->ax, h->symbolic, &h->common);
  if (h->numeric == NULL) {
    int s = status_of(h->common.status);
    return s == SDQKLU_OK ? SDQKLU_SINGULAR : s;
  }
  return status_of(h->common.status);
}

int sdqklu_factor(sdqklu_handle *h, const double *values, double min_rcond, int *refactored) {
  int ignored;
  if (refactored == NULL) refactored = &ignored;
  *refactored = 0;
  if (h == NULL || (h->ap[h->n] > 0 && values == NULL)) return SDQKLU_INVALID;
  memcpy(h->ax, values, sizeof(double) * (size_t)h->ap[h->n]);
  if (h->numeric != NULL) {
    SuiteSparse_long ok = klu_l_refactor(h->ap, h->ai, h->ax, h->symbolic, h->numeric, &h->common);
    if (ok && h->common.status == KLU_OK && klu_l_rcond(h->symbolic, h->numeric, &h->common) && h->common.rcond >= min_rcond) {
      *refactored = 1;
      return SDQKLU_OK;
    }
    // A zero or tiny pivot in the old order (or a failed refactor, whose factors are only
    // partly defined): pivot afresh.
  }
  int s = full_factor(h);
  if (s != SDQKLU_OK && h->numeric != NULL) klu_l_free_numeric(&h->numeric, &h->common);
  return s;
}

int sdqklu_solve(sdqklu_handle *h, double *b, int64_t nrhs) {
  if (h == NULL || nrhs < 0 || (h->n > 0 && b == NULL)) return SDQKLU_INVALID;
  if (h->numeric == NULL) return SDQKLU_NOT_FACTORED;
  if (h->n == 0 || nrhs == 0) return SDQKLU_OK;
  SuiteSparse_long ok = klu_l_solve(h->symbolic, h->numeric, h->n, (SuiteSparse_long)nrhs, b, &h->common);
  return ok ? SDQKLU_OK : status_of(h->common.status);
}

int64_t sdqklu_factor_nonzeros(const sdqklu_handle *h) {
  if (h == NULL || h->numeric == NULL) return 0;
  return (int64_t)(h->numeric->lnz + h->numeric->unz + h->numeric->nzoff);
}
