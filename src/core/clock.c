/* The monotonic clock of every timing the library reports (bmx/core.h). */
#include "bmx/core.h"

#include <time.h>

double bmx_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
