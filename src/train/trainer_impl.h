/* src/train/trainer_impl.h - the trainer's fields, shared by trainer.c and checkpoint.c. */
#ifndef BMX_TRAINER_IMPL_H
#define BMX_TRAINER_IMPL_H

#include "bmx/train.h"

struct bmx_trainer {
    bmx_model *model;
    bmx_train_config cfg;
    float *m1, *m2;  /* AdamW moments, flat like the parameters */
    long step;       /* optimizer steps taken */
    int micro;       /* micro-batches since the last step */
    double loss_sum; /* of their mean losses */
};

#endif
