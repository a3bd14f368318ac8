// SPDX-License-Identifier: GPL-2.0
/*
 * migsend tracepoints: declared in trace.h, defined here once, as
 * net/tls/trace.c does.
 */
#include <linux/module.h>

#ifndef __CHECKER__
#define CREATE_TRACE_POINTS
#include "trace.h"
#endif
