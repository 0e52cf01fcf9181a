/* src/train/checkpoint_v1.h - the model and AdamW state of a version-1 checkpoint (read only). */
#ifndef BMX_CHECKPOINT_V1_H
#define BMX_CHECKPOINT_V1_H

#include <stdio.h>

#include "bmx/train.h"

/* f: the open file named path, whose first 12 bytes say "BMXCKPT1" and version 1. */
int bmx_checkpoint_load_v1(FILE *f, const char *path, int blas, bmx_model **model,
                           bmx_trainer **trainer, bmx_err *err);

#endif
