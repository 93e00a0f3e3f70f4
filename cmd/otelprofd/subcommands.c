#include "subcommands.h"

#include <stddef.h>

const struct opd_subcommand opd_subcommands[] = {
    {NULL, NULL},
};
